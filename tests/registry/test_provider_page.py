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


def test_an_organisation_holds_at_most_the_credentials_the_setting_allows(
    client, source_provider, settings
):
    settings.OMADATA_MAX_CREDENTIALS = 3
    client.force_login(source_provider.user)
    for n in range(3):
        client.post("/provider/credentials", {"name": f"c{n}"})

    response = client.post(
        "/provider/credentials", {"name": "one too many"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert source_provider.user.oauth2_provider_application.count() == 3
    assert "already holds 3 credentials" in response.content.decode()
    assert 'id="client-secret"' not in response.content.decode()


def test_a_revoked_credential_frees_its_place(client, source_provider, settings):
    settings.OMADATA_MAX_CREDENTIALS = 1
    client.force_login(source_provider.user)
    client.post("/provider/credentials", {"name": "first"})
    first = source_provider.user.oauth2_provider_application.get()
    client.post(f"/provider/credentials/{first.pk}/revoke")

    response = client.post("/provider/credentials", {"name": "second"})

    assert 'id="client-secret"' in response.content.decode()
