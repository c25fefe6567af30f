"""Who may see and change which service over the API, and with which token."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, get_application_model
from rest_framework.test import APIClient

from registry import services
from registry.models import AuditEvent, Service
from tests.factories import api_as, basic_auth, register_service, sink_spec, source_spec

pytestmark = pytest.mark.django_db

PUBLIC_KEYS = {
    "id",
    "slug",
    "organisation",
    "name",
    "description",
    "privacy_policy_url",
    "roles",
    "offers",
    "accepts",
    "transparency",
    "algorithms",
    "transparency_page",
    "retention",
}


def detail(service) -> str:
    return f"/api/v1/services/{service.pk}"


def issue(client, provider, scope="services:read services:write") -> tuple:
    """A new credential for `provider` and a token from /o/token/: (application, secret, token)."""
    application, secret = services.credential_create(provider=provider, name="test")
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return application, secret, response.json()["access_token"]


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def snapshot(service) -> dict:
    return Service.objects.filter(pk=service.pk).values().get()


# Requests that need a provider's token; the service id is filled in per test.
TOKEN_REQUIRED = [
    ("get", "/api/v1/organisation/services", None),
    ("get", "/api/v1/organisation", None),
    ("post", "/api/v1/services", source_spec(slug="another")),
    ("patch", "/api/v1/services/{id}", {"description": {"fi": "u", "sv": "u", "en": "u"}}),
]


def call(api, method, path, body, service):
    return getattr(api, method)(path.format(id=service.pk), body, format="json")


# -- another organisation's services --------------------------------------------


def test_owner_sees_own_pending_service_in_full(source_provider, data_types):
    service = register_service(source_provider, source_spec())

    response = api_as(source_provider).get(detail(service))

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response.json()["fetch_url"] == "https://wearable.example.fi/data"


def test_other_organisation_gets_404_on_pending_service(source_provider, sink_provider, data_types):
    service = register_service(source_provider, source_spec())

    response = api_as(sink_provider).get(detail(service))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def answer(response) -> dict:
    """An error body without its request id, which is different in every answer."""
    return {key: value for key, value in response.json().items() if key != "request_id"}


def test_foreign_pending_service_is_indistinguishable_from_missing_one(
    source_provider, sink_provider, data_types
):
    service = register_service(source_provider, source_spec())
    api = api_as(sink_provider)

    foreign = api.get(detail(service))
    missing = api.get("/api/v1/services/00000000-0000-4000-8000-000000000000")

    assert (foreign.status_code, answer(foreign)) == (missing.status_code, answer(missing))


def test_other_organisation_sees_only_public_view_of_approved_service(
    source_provider, sink_provider, data_types, staff
):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    response = api_as(sink_provider).get(detail(service))

    assert response.status_code == 200
    assert set(response.json()) == PUBLIC_KEYS


@pytest.mark.parametrize("approved", [False, True])
def test_other_organisation_gets_404_on_update(
    source_provider, sink_provider, data_types, staff, approved
):
    service = register_service(
        source_provider, source_spec(), approve_by=staff if approved else None
    )
    api = api_as(sink_provider)
    before, events = snapshot(service), AuditEvent.objects.count()

    response = api.patch(
        detail(service),
        {
            "source": {
                "fetch_url": "https://sink.example.fi/steal",
                "link_url": "https://sink.example.fi/link",
                "data_types": ["wellbeing.steps"],
            }
        },
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot(service) == before
    assert AuditEvent.objects.count() == events


def test_foreign_service_is_not_in_organisation_services(
    source_provider, sink_provider, data_types, staff
):
    register_service(source_provider, source_spec(), approve_by=staff)
    register_service(source_provider, source_spec(slug="wearable-beta"))
    register_service(sink_provider, sink_spec())

    response = api_as(sink_provider).get("/api/v1/organisation/services")

    assert response.status_code == 200
    assert [s["slug"] for s in response.json()] == ["wellbeing"]


def test_organisation_services_lists_own_services_whatever_their_status(
    source_provider, data_types, staff
):
    register_service(source_provider, source_spec(), approve_by=staff)
    suspended = register_service(source_provider, source_spec(slug="old"), approve_by=staff)
    services.service_suspend(service=suspended, actor=staff)
    register_service(source_provider, source_spec(slug="new"))

    response = api_as(source_provider).get("/api/v1/organisation/services")

    assert {s["slug"]: s["status"] for s in response.json()} == {
        "new": "pending",
        "old": "suspended",
        "wearable": "approved",
    }


# -- scopes ---------------------------------------------------------------------


def test_read_scope_cannot_register(source_provider, data_types):
    api = api_as(source_provider, scope="services:read")
    events = AuditEvent.objects.count()

    response = api.post("/api/v1/services", source_spec(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert not Service.objects.exists()
    assert AuditEvent.objects.count() == events


def test_read_scope_cannot_update(source_provider, data_types):
    service = register_service(source_provider, source_spec())
    api = api_as(source_provider, scope="services:read")
    before, events = snapshot(service), AuditEvent.objects.count()

    response = api.patch(
        detail(service), {"name": {"fi": "x", "sv": "x", "en": "x"}}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert snapshot(service) == before
    assert AuditEvent.objects.count() == events


def test_write_scope_cannot_list_organisation_services(source_provider):
    response = api_as(source_provider, scope="services:write").get("/api/v1/organisation/services")

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_write_scope_alone_can_register(source_provider, data_types):
    response = api_as(source_provider, scope="services:write").post(
        "/api/v1/services", source_spec(), format="json"
    )

    assert response.status_code == 201
    assert Service.objects.filter(slug="wearable").exists()


def test_token_request_with_unknown_scope_is_refused(client, source_provider):
    application, secret = services.credential_create(provider=source_provider, name="test")

    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:read registry:admin"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.exists()


def test_a_client_of_a_user_who_is_no_provider_gets_no_token(client, aino, data_types):
    """An application staff made for a resident in the admin holds no scope: no token at all."""
    application = get_application_model().objects.create(
        name="not a provider",
        user=aino,
        client_type="confidential",
        authorization_grant_type="client-credentials",
        client_secret="a secret of aino's",
    )

    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:write"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, "a secret of aino's"),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not Service.objects.exists()


# -- tokens that do not authenticate --------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), TOKEN_REQUIRED)
def test_no_token_is_401_not_authenticated(client, source_provider, data_types, method, path, body):
    service = register_service(source_provider, source_spec())

    response = call(APIClient(), method, path, body, service)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path", "body"), TOKEN_REQUIRED)
def test_garbage_bearer_token_is_401_invalid_token(source_provider, data_types, method, path, body):
    service = register_service(source_provider, source_spec())

    response = call(bearer("not-a-token"), method, path, body, service)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_invalid_token_is_not_told_that_no_credentials_were_sent():
    missing = APIClient().get("/api/v1/organisation/services").json()
    invalid = bearer("not-a-token").get("/api/v1/organisation/services").json()

    assert invalid["message"] != missing["message"]


@pytest.mark.parametrize(("method", "path", "body"), TOKEN_REQUIRED)
def test_expired_token_is_401_invalid_token(
    client, source_provider, data_types, method, path, body
):
    service = register_service(source_provider, source_spec())
    _application, _secret, token = issue(client, source_provider)
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]

    with time_machine.travel(timezone.now() + timedelta(seconds=lifetime + 1), tick=False):
        response = call(bearer(token), method, path, body, service)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_token_works_until_it_expires(client, source_provider):
    _application, _secret, token = issue(client, source_provider)
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]

    with time_machine.travel(timezone.now() + timedelta(seconds=lifetime - 60), tick=False):
        response = bearer(token).get("/api/v1/organisation/services")

    assert response.status_code == 200


def test_token_revoked_at_revoke_endpoint_is_401_invalid_token(client, source_provider):
    application, secret, token = issue(client, source_provider)
    api = bearer(token)
    assert api.get("/api/v1/organisation/services").status_code == 200

    revoked = client.post(
        "/o/revoke_token/",
        {"token": token},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    response = api.get("/api/v1/organisation/services")

    assert revoked.status_code == 200
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_token_of_revoked_credential_is_401_invalid_token(client, source_provider, data_types):
    application, _secret, token = issue(client, source_provider)
    api = bearer(token)
    assert api.get("/api/v1/organisation/services").status_code == 200

    services.credential_revoke(provider=source_provider, application=application)
    response = api.post("/api/v1/services", source_spec(), format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert not Service.objects.exists()


def test_revoked_credential_gets_no_new_token(client, source_provider):
    application, secret, _token = issue(client, source_provider)

    services.credential_revoke(provider=source_provider, application=application)
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:read"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# -- the public registry --------------------------------------------------------


def public_slugs(api) -> list[str]:
    response = api.get("/api/v1/services")
    assert response.status_code == 200
    return [s["slug"] for s in response.json()["results"]]


@pytest.fixture
def three_services(source_provider, sink_provider, data_types, staff):
    """One service in each state: approved, pending and suspended."""
    register_service(sink_provider, sink_spec(), approve_by=staff)
    register_service(source_provider, source_spec(slug="pending-watch"))
    suspended = register_service(
        source_provider, source_spec(slug="suspended-watch"), approve_by=staff
    )
    services.service_suspend(service=suspended, actor=staff, reason="test")


def test_public_list_needs_no_token(three_services):
    assert public_slugs(APIClient()) == ["wellbeing"]


def test_public_list_ignores_bad_token(three_services):
    assert public_slugs(bearer("not-a-token")) == ["wellbeing"]


def test_public_list_shows_owner_no_pending_or_suspended_service(three_services, source_provider):
    assert public_slugs(api_as(source_provider)) == ["wellbeing"]


@pytest.mark.parametrize("query", ["?role=source", "?data_type=wellbeing.steps"])
def test_public_list_filters_never_show_pending_or_suspended_service(three_services, query):
    response = APIClient().get("/api/v1/services" + query)

    assert "pending-watch" not in {s["slug"] for s in response.json()["results"]}
    assert "suspended-watch" not in {s["slug"] for s in response.json()["results"]}


def test_public_list_shows_only_public_fields(three_services):
    response = APIClient().get("/api/v1/services")

    assert set(response.json()["results"][0]) == PUBLIC_KEYS


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic Zm9vOmJhcg=="])
def test_data_types_need_no_token_and_ignore_bad_one(data_types, authorization):
    api = APIClient()
    if authorization:
        api.credentials(HTTP_AUTHORIZATION=authorization)

    response = api.get("/api/v1/data-types")

    assert response.status_code == 200
    assert [t["key"] for t in response.json()] == sorted(data_types)


def test_public_detail_of_approved_service_needs_no_token(source_provider, data_types, staff):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    response = APIClient().get(detail(service))

    assert response.status_code == 200
    assert set(response.json()) == PUBLIC_KEYS


def test_public_detail_with_a_bad_token_is_401_rather_than_the_public_view(
    source_provider, data_types, staff
):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    response = bearer("not-a-token").get(detail(service))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_suspending_removes_service_from_public_list(source_provider, data_types, staff):
    service = register_service(source_provider, source_spec(), approve_by=staff)
    assert public_slugs(APIClient()) == ["wearable"]

    services.service_suspend(service=service, actor=staff, reason="test")

    assert public_slugs(APIClient()) == []


def test_public_detail_of_suspended_service_is_404(
    source_provider, sink_provider, data_types, staff
):
    service = register_service(source_provider, source_spec(), approve_by=staff)
    assert APIClient().get(detail(service)).status_code == 200

    services.service_suspend(service=service, actor=staff, reason="test")

    for api in (APIClient(), api_as(sink_provider)):
        response = api.get(detail(service))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_expired_token_on_own_service_detail_is_401_not_the_public_view(
    client, source_provider, data_types
):
    service = register_service(source_provider, source_spec())
    _application, _secret, token = issue(client, source_provider)
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]

    with time_machine.travel(timezone.now() + timedelta(seconds=lifetime + 1), tick=False):
        response = bearer(token).get(detail(service))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
