"""Every bad input is a 4xx with a stable code and the field at fault, and writes nothing."""

import json

import pytest
from jwcrypto import jwk

from registry.models import AuditEvent, Service
from tests.factories import api_as, register_service, sink_spec, source_spec

pytestmark = pytest.mark.django_db

SERVICES = "/api/v1/services"


def ec_key(kid: str | None = "k1") -> jwk.JWK:
    params = {"kid": kid} if kid else {}
    return jwk.JWK.generate(kty="EC", crv="P-256", **params)


def public_jwk(kid: str | None = "k1") -> dict:
    return json.loads(ec_key(kid).export_public())


def source(fetch_url="https://wearable.example.fi/data", data_types=("wellbeing.steps",)) -> dict:
    return {
        "fetch_url": fetch_url,
        "link_url": "https://wearable.example.fi/link",
        "data_types": list(data_types),
    }


def sink(delivery_url="https://sink.example.fi/deliver", data_types=("wellbeing.steps",)) -> dict:
    return {"delivery_url": delivery_url, "data_types": list(data_types)}


def without(spec: dict, path: str) -> dict:
    """`spec` with the field at a dotted path removed."""
    *parents, last = path.split(".")
    node = spec
    for name in parents:
        node = node[name]
    del node[last]
    return spec


def rows() -> tuple[int, int]:
    return Service.objects.count(), AuditEvent.objects.count()


def field_errors(response) -> list[tuple]:
    body = response.json()
    assert set(body) == {"code", "message", "fields", "request_id"}
    return [(f["field"], f["code"]) for f in body["fields"]]


@pytest.fixture
def api(source_provider, data_types):
    return api_as(source_provider)


def assert_refused(api, body, field: str | None, code: str):
    """POST `body` as JSON; expect a 400 naming exactly this field and code, and no new rows."""
    before = rows()

    response = api.post(SERVICES, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_failed"
    assert field_errors(response) == [(field, code)]
    assert rows() == before


# -- the body as a whole --------------------------------------------------------


def test_malformed_json_is_400_malformed_json(api):
    before = rows()

    response = api.post(SERVICES, '{"slug": "wearable",', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert field_errors(response) == []
    assert rows() == before


@pytest.mark.parametrize("body", [[source_spec()], "wearable", 42, True])
def test_json_that_is_no_object_is_refused(api, body):
    assert_refused(api, body, None, "invalid")


def test_json_null_is_refused(api):
    before = rows()

    response = api.post(SERVICES, "null", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert rows() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("slug=wearable&name=Askel", "application/x-www-form-urlencoded"),
        (json.dumps(source_spec()), "text/plain"),
        (json.dumps(source_spec()), "application/xml"),
    ],
)
def test_body_that_is_not_json_is_415(api, body, content_type):
    before = rows()

    response = api.post(SERVICES, body, content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert rows() == before


def test_multipart_body_is_415(api):
    response = api.post(SERVICES, {"slug": "wearable"}, format="multipart")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Service.objects.exists()


def test_body_over_size_limit_is_413(api, settings):
    settings.OMADATA_MAX_REQUEST_BYTES = 2048
    body = source_spec(description={"fi": "k" * 2100, "sv": "k", "en": "k"})
    before = rows()

    response = api.post(SERVICES, body, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert rows() == before


def test_body_under_size_limit_is_accepted(api, settings):
    settings.OMADATA_MAX_REQUEST_BYTES = 2048

    response = api.post(SERVICES, source_spec(), format="json")

    assert response.status_code == 201


def test_non_numeric_content_length_is_400(api):
    before = rows()

    response = api.generic(
        "POST",
        SERVICES,
        json.dumps(source_spec()),
        content_type="application/json",
        CONTENT_LENGTH="a lot",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_content_length"
    assert rows() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/services/not-a-uuid",
        "/api/v2/services",
        "/api/v1/services/00000000-0000-4000-8000-000000000000",
    ],
)
def test_unknown_api_path_is_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", SERVICES),
        ("put", SERVICES),
        ("patch", SERVICES),
        ("put", "/api/v1/services/{id}"),
        ("delete", "/api/v1/services/{id}"),
        ("post", "/api/v1/services/{id}"),
        ("post", "/api/v1/organisation/services"),
        ("delete", "/api/v1/organisation"),
        ("post", "/api/v1/data-types"),
    ],
)
def test_wrong_method_is_405(api, source_provider, method, path):
    service = register_service(source_provider, source_spec())
    before = rows()

    response = getattr(api, method)(path.format(id=service.pk), {}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert rows() == before
    assert Service.objects.filter(pk=service.pk).exists()


def test_head_on_organisation_services_is_answered_like_get(api):
    response = api.head("/api/v1/organisation/services")

    assert response.status_code == 200


def test_options_on_services_is_405_not_500(api):
    response = api.options(SERVICES)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# -- fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (source_spec(colour="blue"), "colour"),
        (source_spec(source={**source(), "colour": "blue"}), "source.colour"),
        (sink_spec(sink={**sink(), "url": "https://sink.example.fi/"}), "sink.url"),
        (source_spec(name={"fi": "a", "sv": "b", "en": "c", "de": "d"}), "name.de"),
        (
            source_spec(transparency={"automated_decisions": False, "profiling": False, "ai": 1}),
            "transparency.ai",
        ),
    ],
)
def test_unknown_field_is_refused(api, body, field):
    assert_refused(api, body, field, "unknown_field")


@pytest.mark.parametrize(
    "path",
    [
        "slug",
        "name",
        "name.sv",
        "description.fi",
        "privacy_policy_url",
        "source.fetch_url",
        "source.data_types",
    ],
)
def test_missing_required_field_is_refused(api, path):
    assert_refused(api, without(source_spec(), path), path, "required")


def test_missing_sink_delivery_url_is_refused(api):
    assert_refused(api, without(sink_spec(), "sink.delivery_url"), "sink.delivery_url", "required")


@pytest.mark.parametrize(
    "body",
    [
        without(source_spec(), "source"),
        source_spec(source=None),
        source_spec(source=None, sink=None),
    ],
)
def test_service_with_neither_source_nor_sink_is_refused(api, body):
    assert_refused(api, body, "source", "role_required")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (source_spec(source=source(data_types=[])), "source.data_types"),
        (sink_spec(sink=sink(data_types=[])), "sink.data_types"),
    ],
)
def test_empty_data_types_are_refused(api, body, field):
    assert_refused(api, body, field, "empty")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (source_spec(source=source(data_types=["wellbeing.dreams"])), "source.data_types"),
        (
            source_spec(source=source(data_types=["wellbeing.steps", "wellbeing.dreams"])),
            "source.data_types",
        ),
        (sink_spec(sink=sink(data_types=["city.tax_records"])), "sink.data_types"),
    ],
)
def test_unknown_data_type_is_refused(api, body, field):
    assert_refused(api, body, field, "unknown_data_type")


def test_slug_that_is_no_slug_is_refused(api):
    assert_refused(api, source_spec(slug="my watch!"), "slug", "invalid")


def test_duplicate_slug_is_refused(api, sink_provider):
    register_service(sink_provider, sink_spec(slug="wearable"))

    assert_refused(api, source_spec(slug="wearable"), "slug", "duplicate")


@pytest.mark.parametrize(
    "url",
    [
        "http://wearable.example.fi/data",
        "ftp://wearable.example.fi/data",
        "wearable.example.fi/data",
    ],
)
def test_fetch_url_that_is_not_https_is_refused(api, url):
    code = "https_required" if url.startswith("http:") else "invalid_url"

    assert_refused(api, source_spec(source=source(fetch_url=url)), "source.fetch_url", code)


def test_fetch_url_with_credentials_is_refused(api):
    body = source_spec(source=source(fetch_url="https://me:pw@wearable.example.fi/data"))

    assert_refused(api, body, "source.fetch_url", "credentials_in_url")


def test_fetch_url_on_unresolvable_host_is_refused(api):
    body = source_spec(source=source(fetch_url="https://nowhere.example.fi/data"))

    assert_refused(api, body, "source.fetch_url", "unresolvable_host")


FORBIDDEN_URLS = [
    "https://internal.example.fi/x",
    "https://router.example.fi/x",
    "https://loopback.example.fi/x",
    "https://localhost/x",
    "https://metadata.example.fi/latest/meta-data/",
    "https://cgnat.example.fi/x",
    "https://mapped.example.fi/x",
    "https://mixed.example.fi/x",
    "https://127.0.0.1/x",
    "https://10.0.0.1/x",
    "https://169.254.169.254/x",
    "https://100.64.0.1/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[fd00::1]/x",
    "https://2130706433/x",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_fetch_url_to_forbidden_address_is_refused(api, url):
    body = source_spec(source=source(fetch_url=url))

    assert_refused(api, body, "source.fetch_url", "forbidden_address")


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_delivery_url_to_forbidden_address_is_refused(api, url):
    body = sink_spec(sink=sink(delivery_url=url))

    assert_refused(api, body, "sink.delivery_url", "forbidden_address")


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_webhook_url_to_forbidden_address_is_refused(api, url):
    assert_refused(api, source_spec(webhook_url=url), "webhook_url", "forbidden_address")


@pytest.mark.parametrize("port", [22, 25, 5432, 6379, 8443])
def test_endpoint_url_on_another_port_than_443_is_refused(api, port):
    url = f"https://wearable.example.fi:{port}/data"

    assert_refused(
        api, source_spec(source=source(fetch_url=url)), "source.fetch_url", "forbidden_port"
    )
    assert_refused(
        api, sink_spec(sink=sink(delivery_url=url)), "sink.delivery_url", "forbidden_port"
    )
    assert_refused(api, source_spec(webhook_url=url), "webhook_url", "forbidden_port")


def test_endpoint_url_on_a_port_the_operator_allows_is_taken(api, settings):
    settings.OMADATA_ALLOWED_PORTS = (8443,)
    body = source_spec(source=source(fetch_url="https://wearable.example.fi:8443/data"))

    response = api.post(SERVICES, body, format="json")

    assert response.status_code == 201, response.content


def test_forbidden_address_error_names_no_address(api):
    body = source_spec(webhook_url="https://internal.example.fi/hooks")

    response = api.post(SERVICES, body, format="json", HTTP_ACCEPT_LANGUAGE="en")

    [error] = response.json()["fields"]
    assert error["code"] == "forbidden_address"
    assert "a private address" in error["message"]
    assert "10.1.2.3" not in error["message"]


@pytest.mark.parametrize("change", [{"kid": "k1\u0000"}, {"x-note": "\u0000"}])
def test_jwks_with_a_nul_is_refused_as_json_no_database_keeps(api, change):
    # No PostgreSQL text or jsonb holds U+0000: the parser refuses it (common/jsonlimits.py).
    jwks = {"keys": [{**public_jwk("k1"), **change}]}
    before = rows()

    response = api.post(SERVICES, source_spec(jwks=jwks), format="json")

    assert (response.status_code, response.json()["code"]) == (400, "invalid_json")
    assert rows() == before


def test_jwks_far_larger_than_any_real_key_set_is_refused(api):
    jwks = {"keys": [{**public_jwk("k1"), "x-padding": "p" * 70_000}]}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "invalid_jwks")


def test_jwks_members_beyond_the_keys_are_refused(api):
    jwks = {"keys": [public_jwk("k1")], "note": "n" * 100}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "invalid_jwks")


def test_a_jwks_of_ten_large_public_keys_is_taken(api):
    keys = [json.loads(jwk.JWK.generate(kty="RSA", size=4096, kid=f"r{i}").export_public())
            for i in range(10)]  # fmt: skip

    response = api.post(SERVICES, source_spec(jwks={"keys": keys}), format="json")

    assert response.status_code == 201, response.content


def test_webhook_url_over_http_is_refused(api):
    body = source_spec(webhook_url="http://wearable.example.fi/hooks")

    assert_refused(api, body, "webhook_url", "https_required")


@pytest.mark.parametrize(
    "url",
    ["http://wearable.example.fi/privacy", "javascript:alert(1)", "wearable.example.fi/privacy"],
)
def test_privacy_policy_url_that_is_not_https_is_refused(api, url):
    body = source_spec(privacy_policy_url=url)

    assert_refused(api, body, "privacy_policy_url", "https_required")


@pytest.mark.parametrize(
    "transparency",
    [
        {"automated_decisions": True, "profiling": False},
        {"automated_decisions": False, "profiling": True},
        {"automated_decisions": True, "profiling": True, "algorithm_register_url": ""},
        {"automated_decisions": True, "profiling": False, "algorithm_register_url": None},
    ],
)
def test_automated_decisions_without_algorithm_register_url_are_refused(api, transparency):
    body = source_spec(transparency=transparency)

    assert_refused(api, body, "transparency.algorithm_register_url", "required")


def test_algorithm_register_url_over_http_is_refused(api):
    transparency = {
        "automated_decisions": True,
        "profiling": False,
        "algorithm_register_url": "http://register.example.fi/askel",
    }

    assert_refused(
        api,
        source_spec(transparency=transparency),
        "transparency.algorithm_register_url",
        "https_required",
    )


def test_jwks_with_private_key_is_refused(api):
    jwks = {"keys": [public_jwk("k1"), json.loads(ec_key("k2").export_private())]}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "private_key")


def test_jwks_with_symmetric_key_is_refused(api):
    # A shared secret is never a public key: publishing it would let anyone sign.
    jwks = {"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "private_key")


@pytest.mark.parametrize(
    "jwks",
    [
        {"nokeys": []},
        {"keys": "k1"},
        {"keys": []},
        {"keys": [{"kty": "EC", "kid": "k1"}]},
        {"keys": [{"kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB"}]},
        {"keys": [public_jwk(f"k{i}") for i in range(11)]},
    ],
)
def test_malformed_jwks_is_refused(api, jwks):
    assert_refused(api, source_spec(jwks=jwks), "jwks", "invalid_jwks")


def test_jwks_key_without_kid_is_refused(api):
    jwks = {"keys": [public_jwk("k1"), public_jwk(None)]}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "invalid_jwks")


def test_jwks_keys_sharing_a_kid_are_refused(api):
    jwks = {"keys": [public_jwk("k1"), public_jwk("k1")]}

    assert_refused(api, source_spec(jwks=jwks), "jwks", "invalid_jwks")


def test_jwks_that_is_no_object_is_refused(api):
    assert_refused(api, source_spec(jwks=[public_jwk()]), "jwks", "not_a_dict")


def test_valid_public_jwks_is_accepted(api):
    jwks = {"keys": [public_jwk("k1"), public_jwk("k2")]}

    response = api.post(SERVICES, source_spec(jwks=jwks), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["jwks"] == jwks


# -- updates --------------------------------------------------------------------


@pytest.fixture
def own_service(source_provider, data_types, staff):
    return register_service(source_provider, source_spec(), approve_by=staff)


def stored(service) -> dict:
    row = Service.objects.filter(pk=service.pk).values().get()
    row["offered_types"] = sorted(service.offered_types.values_list("key", flat=True))
    return row


def assert_update_refused(api, service, body, field: str, code: str):
    before, events = stored(service), AuditEvent.objects.count()

    response = api.patch(f"{SERVICES}/{service.pk}", body, format="json")

    assert response.status_code == 400, response.content
    assert field_errors(response) == [(field, code)]
    assert stored(service) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://internal.example.fi/data", "forbidden_address"),
        ("https://[::ffff:10.0.0.1]/data", "forbidden_address"),
        ("http://wearable.example.fi/data", "https_required"),
        ("https://nowhere.example.fi/data", "unresolvable_host"),
    ],
)
def test_update_with_bad_fetch_url_leaves_service_unchanged(api, own_service, url, code):
    body = {"source": source(fetch_url=url)}

    assert_update_refused(api, own_service, body, "source.fetch_url", code)


def test_update_with_bad_url_and_good_name_leaves_name_unchanged(api, own_service):
    body = {
        "name": {"fi": "Uusi", "sv": "Ny", "en": "New"},
        "webhook_url": "https://metadata.example.fi/hooks",
    }

    assert_update_refused(api, own_service, body, "webhook_url", "forbidden_address")


def test_update_with_unknown_field_leaves_service_unchanged(api, own_service):
    assert_update_refused(api, own_service, {"status": "approved"}, "status", "unknown_field")


def test_update_to_taken_slug_leaves_service_unchanged(api, own_service, sink_provider):
    register_service(sink_provider, sink_spec(slug="taken"))

    assert_update_refused(api, own_service, {"slug": "taken"}, "slug", "duplicate")


def test_update_removing_the_only_role_leaves_service_unchanged(api, own_service):
    assert_update_refused(api, own_service, {"source": None}, "source", "role_required")


def test_update_with_unknown_data_type_leaves_service_unchanged(api, own_service):
    body = {"source": source(data_types=["wellbeing.dreams"])}

    assert_update_refused(api, own_service, body, "source.data_types", "unknown_data_type")


def test_update_with_private_jwk_leaves_service_unchanged(api, own_service):
    body = {"jwks": {"keys": [json.loads(ec_key().export_private())]}}

    assert_update_refused(api, own_service, body, "jwks", "private_key")


def test_update_with_malformed_json_leaves_service_unchanged(api, own_service):
    before = stored(own_service)

    response = api.patch(
        f"{SERVICES}/{own_service.pk}", '{"slug": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert stored(own_service) == before


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("name.fi", "Askel\u202e-kello"),
        ("name.sv", "Askel\u200b-klocka"),
        ("name.en", "Askel\nwatch"),
        ("description.fi", "Kello\u2066."),
        ("description.en", "A watch.\r\nReally."),
    ],
)
def test_a_service_text_with_an_unprintable_character_is_refused(
    source_provider, data_types, field, text
):
    part, language = field.split(".")
    spec = source_spec()
    spec[part] = {**spec[part], language: text}

    response = api_as(source_provider).post(SERVICES, spec, format="json")

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        (field, "unprintable_character")
    ]
    assert not Service.objects.exists()


def test_a_service_name_with_an_unprintable_character_is_refused_on_update(
    source_provider, data_types
):
    service = register_service(source_provider, source_spec())
    name = {"fi": "Askel", "sv": "Askel", "en": "Askel\u202e"}

    response = api_as(source_provider).patch(
        f"{SERVICES}/{service.pk}", {"name": name}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "unprintable_character"
    service.refresh_from_db()
    assert service.name_en == "Askel watch"


def test_a_service_description_may_have_paragraphs(source_provider, data_types):
    description = {"fi": "Kello.\n\nLaskee.", "sv": "Klocka.", "en": "A watch.\nIt counts."}

    response = api_as(source_provider).post(
        SERVICES, source_spec(description=description), format="json"
    )

    assert response.status_code == 201
    assert response.json()["description"] == description
