"""Every list takes `limit` and `offset` within bounds, and pages its answer the same way."""

import pytest
from rest_framework.test import APIClient

from consent import services as consent_services
from tests.factories import (
    api_as,
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)

pytestmark = pytest.mark.django_db

SERVICES = "/api/v1/services"
CONSENTS = "/api/v1/consents"
PAGE_KEYS = {"count", "next", "previous", "results"}


@pytest.fixture
def wearable(source_provider, data_types, staff):
    return register_service(source_provider, source_spec(), approve_by=staff)


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    return register_service(sink_provider, sink_spec(), approve_by=staff)


@pytest.fixture
def three_consents(wellbeing, wearable, aino, eero):
    """Three consents to wellbeing's requests: two of Aino's (the first paused) and Eero's."""
    link_resident(aino, wearable)
    link_resident(eero, wearable, reference="watch-owner-2")
    first = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
    consent_services.consent_pause(consent=first)
    second = grant_consent(
        request_consent(sink=wellbeing, source=wearable, purpose_category="research"), aino
    )
    third = grant_consent(request_consent(sink=wellbeing, source=wearable), eero)
    return [first, second, third]


@pytest.fixture
def sink_api(sink_provider):
    return api_as(sink_provider, "consents:read")


def field_errors(response) -> list[tuple[str, str]]:
    return [(f["field"], f["code"]) for f in response.json()["fields"]]


# -- bounds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("limit=100000", "limit", "max_value"),
        ("limit=101", "limit", "max_value"),
        ("limit=0", "limit", "min_value"),
        ("limit=-1", "limit", "min_value"),
        ("limit=many", "limit", "invalid"),
        ("offset=-1", "offset", "min_value"),
        ("offset=next", "offset", "invalid"),
    ],
)
@pytest.mark.parametrize("path", [SERVICES, CONSENTS])
def test_limit_and_offset_out_of_bounds_are_400_naming_the_field(
    wearable, sink_api, path, query, field, code
):
    response = sink_api.get(f"{path}?{query}")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_failed"
    assert field_errors(response) == [(field, code)]


@pytest.mark.parametrize("path", [SERVICES, CONSENTS])
def test_limit_at_the_maximum_is_taken(wearable, sink_api, path):
    response = sink_api.get(f"{path}?limit=100")

    assert response.status_code == 200
    assert set(response.json()) == PAGE_KEYS


def test_the_maximum_is_a_setting(wearable, settings):
    settings.OMADATA_PAGE_MAX_LIMIT = 10

    assert APIClient().get(f"{SERVICES}?limit=10").status_code == 200
    assert APIClient().get(f"{SERVICES}?limit=11").status_code == 400


@pytest.mark.parametrize("offset", ["1", "1000000000", "100000000000000000000"])
def test_an_offset_past_the_end_is_an_empty_page(wearable, offset):
    response = APIClient().get(f"{SERVICES}?offset={offset}")

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["count"] == 1


# -- the consents list ----------------------------------------------------------------


def test_consents_are_a_page_like_every_list(three_consents, sink_api):
    response = sink_api.get(CONSENTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_KEYS
    assert body["count"] == 3
    assert {c["id"] for c in body["results"]} == {str(c.id) for c in three_consents}
    assert body["next"] is None


def test_consents_page_through_limit_and_offset(three_consents, sink_api):
    first = sink_api.get(f"{CONSENTS}?limit=2").json()
    rest = sink_api.get(first["next"]).json()

    assert (first["count"], len(first["results"]), len(rest["results"])) == (3, 2, 1)
    seen = [c["id"] for c in first["results"] + rest["results"]]
    assert sorted(seen) == sorted(str(c.id) for c in three_consents)
    assert rest["next"] is None


def test_consent_status_filter_pages_too(three_consents, sink_api):
    body = sink_api.get(f"{CONSENTS}?status=paused&limit=1").json()

    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [str(three_consents[0].id)]
