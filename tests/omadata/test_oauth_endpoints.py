"""Token introspection (RFC 7662) and revocation (RFC 7009): each client for its own tokens only."""

import pytest

from common.env import Rate
from registry import services
from tests.factories import basic_auth

pytestmark = pytest.mark.django_db

INACTIVE = {"active": False}


def credential(client, provider, scope: str = "services:read") -> tuple[str, str]:
    """A new credential of `provider` and its token: (Authorization header value, token)."""
    application, secret = services.credential_create(provider=provider, name="test")
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return basic_auth(application.client_id, secret), response.json()["access_token"]


def introspect(client, auth: str, token: str):
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=auth)


def works(client, token: str) -> bool:
    response = client.get("/api/v1/organisation", HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.status_code == 200


def test_rfc7662_2_2_a_client_introspects_its_own_token(client, source_provider):
    auth, token = credential(client, source_provider)

    answer = introspect(client, auth, token)

    assert answer.status_code == 200
    assert answer.json()["active"] is True
    assert answer.json()["scope"] == "services:read"


def test_rfc7662_2_2_another_organisations_token_is_inactive_to_a_client(
    client, source_provider, sink_provider
):
    _source_auth, source_token = credential(client, source_provider)
    sink_auth, _sink_token = credential(client, sink_provider)

    answer = introspect(client, sink_auth, source_token)

    assert answer.status_code == 200
    assert answer.json() == INACTIVE


def test_rfc7662_2_2_a_token_of_another_credential_of_the_same_provider_is_inactive(
    client, source_provider
):
    _first_auth, first_token = credential(client, source_provider)
    second_auth, _second_token = credential(client, source_provider)

    assert introspect(client, second_auth, first_token).json() == INACTIVE


def test_rfc7662_2_2_an_unknown_token_is_inactive(client, source_provider):
    auth, _token = credential(client, source_provider)

    assert introspect(client, auth, "no-such-token").json() == INACTIVE


def test_rfc7662_2_1_introspection_by_get_is_refused(client, source_provider):
    auth, token = credential(client, source_provider)

    answer = client.get(f"/o/introspect/?token={token}", HTTP_AUTHORIZATION=auth)

    assert answer.status_code == 405
    assert "active" not in answer.content.decode()


def test_rfc7662_2_1_introspection_needs_client_credentials(client, source_provider):
    _auth, token = credential(client, source_provider)

    answer = client.post("/o/introspect/", {"token": token})

    assert answer.status_code in (401, 403)
    assert b"active" not in answer.content


def test_rfc7009_2_1_a_client_revokes_its_own_token(client, source_provider):
    auth, token = credential(client, source_provider)

    answer = client.post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=auth)

    assert answer.status_code == 200
    assert not works(client, token)


def test_rfc7009_2_1_a_client_cannot_revoke_another_clients_token(
    client, source_provider, sink_provider
):
    _source_auth, source_token = credential(client, source_provider)
    sink_auth, _sink_token = credential(client, sink_provider)

    answer = client.post("/o/revoke_token/", {"token": source_token}, HTTP_AUTHORIZATION=sink_auth)

    # RFC 7009 2.2: the answer does not tell whether the token exists; it stays valid.
    assert answer.status_code == 200
    assert works(client, source_token)


def test_rfc7009_2_1_revocation_by_get_is_refused(client, source_provider):
    auth, token = credential(client, source_provider)

    answer = client.get(f"/o/revoke_token/?token={token}", HTTP_AUTHORIZATION=auth)

    assert answer.status_code == 405
    assert works(client, token)


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("endpoint", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_no_cache_keeps_an_oauth2_answer(client, source_provider, endpoint):
    auth, token = credential(client, source_provider)

    answers = [
        client.post(endpoint, {"grant_type": "client_credentials", "token": token},
                    HTTP_AUTHORIZATION=auth),
        client.post(endpoint, {"grant_type": "client_credentials", "token": token}),
        client.get(endpoint),
    ]  # fmt: skip

    assert [a.status_code >= 500 for a in answers] == [False] * 3
    assert all(_no_store(answer) for answer in answers), [
        (answer.status_code, answer.get("Cache-Control")) for answer in answers
    ]


def test_no_cache_keeps_a_rate_limited_token_answer(client, settings):
    settings.OMADATA_RATE_TOKEN_ADDRESS = Rate(1, 60)
    client.post("/o/token/", {"grant_type": "client_credentials"})

    answer = client.post("/o/token/", {"grant_type": "client_credentials"})

    assert answer.status_code == 429
    assert _no_store(answer)
