"""Every URL a provider gives is stored in one ASCII form, or refused with a 400 and its code.

An internationalised host is kept as its IDNA A-label and other non-ASCII
characters percent-encoded; whitespace and control characters are refused.
exämple.fi resolves (as xn--exmple-cua.fi) through FAKE_DNS in tests/conftest.py.
"""

import pytest

from registry.models import AuditEvent, Service
from tests.factories import api_as, register_service, sink_spec, source_spec

pytestmark = pytest.mark.django_db

SERVICES = "/api/v1/services"
TRANSPARENT = {"automated_decisions": True, "profiling": False}

# Each URL a service description carries: where it goes in the body, the field an
# error names, and the model field it is stored in.
URL_FIELDS = [
    ("source.fetch_url", "fetch_url"),
    ("source.link_url", "link_url"),
    ("sink.delivery_url", "delivery_url"),
    ("webhook_url", "webhook_url"),
    ("privacy_policy_url", "privacy_policy_url"),
    ("transparency.algorithm_register_url", "algorithm_register_url"),
]


def body_with(path: str, url: str) -> dict:
    """A source-and-sink service description with `url` at the dotted `path`."""
    spec = source_spec(sink=sink_spec()["sink"], transparency=dict(TRANSPARENT))
    spec["transparency"]["algorithm_register_url"] = "https://wearable.example.fi/register"
    *parents, last = path.split(".")
    node = spec
    for name in parents:
        node = node[name]
    node[last] = url
    return spec


@pytest.fixture
def api(source_provider, data_types):
    return api_as(source_provider)


@pytest.mark.parametrize(("path", "column"), URL_FIELDS)
def test_internationalised_host_is_stored_as_its_a_label(api, path, column):
    response = api.post(SERVICES, body_with(path, "https://EXÄMPLE.fi/x"), format="json")

    assert response.status_code == 201, response.content
    assert getattr(Service.objects.get(), column) == "https://xn--exmple-cua.fi/x"


@pytest.mark.parametrize(("path", "column"), URL_FIELDS)
def test_non_ascii_path_and_query_are_stored_percent_encoded(api, path, column):
    url = "https://wearable.example.fi/tietoä?kieli=ö"

    response = api.post(SERVICES, body_with(path, url), format="json")

    assert response.status_code == 201, response.content
    expected = "https://wearable.example.fi/tieto%C3%A4?kieli=%C3%B6"
    assert getattr(Service.objects.get(), column) == expected


@pytest.mark.parametrize(("path", "_column"), URL_FIELDS)
@pytest.mark.parametrize(
    "url",
    [
        "https://wearable.example.fi/da\tta",
        "https://wearable.example.fi/data\t",
        "\nhttps://wearable.example.fi/data",
        "https://wearable.example.fi/data\r\n",
        "https://wearable.example.fi/da ta",
        "https://wearable.example.fi/da\x7fta",
        "https://wearable.example.fi/da\x85ta",
        "https://wearable.example.fi/da\u200bta",
        "https://wearable.example.fi/da\u202eta",
        "https://💩.fi/data",
    ],
)
def test_whitespace_control_character_or_bad_host_is_a_400_invalid_url(api, path, _column, url):
    events = AuditEvent.objects.count()

    response = api.post(SERVICES, body_with(path, url), format="json")

    assert response.status_code == 400, response.content
    fields = [(f["field"], f["code"]) for f in response.json()["fields"]]
    assert fields == [(path, "invalid_url")]
    assert not Service.objects.exists()
    assert AuditEvent.objects.count() == events


def test_update_stores_the_normalised_form(api, source_provider):
    service = register_service(source_provider, source_spec())

    response = api.patch(
        f"{SERVICES}/{service.pk}", {"webhook_url": "https://exämple.fi/kuuntelijä"}, format="json"
    )

    assert response.status_code == 200, response.content
    service.refresh_from_db()
    assert service.webhook_url == "https://xn--exmple-cua.fi/kuuntelij%C3%A4"


def test_update_with_a_control_character_is_a_400(api, source_provider):
    service = register_service(source_provider, source_spec())

    response = api.patch(
        f"{SERVICES}/{service.pk}", {"webhook_url": "https://wearable.example.fi/\x1bhooks"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "invalid_url"
    service.refresh_from_db()
    assert service.webhook_url == "https://wearable.example.fi/hooks"
