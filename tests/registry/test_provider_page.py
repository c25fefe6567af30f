"""The provider's page through Django's test client: what no cache may keep."""

import pytest

pytestmark = pytest.mark.django_db


def not_stored(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_provider_page_is_never_stored_by_a_cache(client, source_provider):
    client.force_login(source_provider.user)

    response = client.get("/provider/")

    assert response.status_code == 200
    assert not_stored(response), response.get("Cache-Control")


def test_page_with_a_new_client_secret_is_never_stored_by_a_cache(client, source_provider):
    client.force_login(source_provider.user)

    response = client.post("/provider/credentials", {"name": "backup"})

    assert response.status_code == 200
    assert 'id="client-secret"' in response.content.decode()
    assert not_stored(response), response.get("Cache-Control")


def test_api_answer_to_a_client_with_a_token_is_never_stored(client, source_provider):
    response = client.get("/api/v1/organisation", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 401
    assert not_stored(response)
