import pytest

from tests.factories import api_as

pytestmark = pytest.mark.django_db


def test_api_answers_in_english_when_no_language_is_asked(source_provider):
    response = api_as(source_provider).post(
        "/api/v1/services", "{", content_type="application/json"
    )

    assert response.json()["code"] == "malformed_json"
    assert response["Content-Language"] == "en"


def test_api_answers_in_the_language_asked_for(source_provider):
    response = api_as(source_provider).post(
        "/api/v1/services", {"slug": "x"}, format="json", HTTP_ACCEPT_LANGUAGE="sv"
    )

    assert response["Content-Language"] == "sv"
    messages = {f["field"]: f["message"] for f in response.json()["fields"]}
    assert messages["name"] == "Det här fältet är obligatoriskt."


def test_web_pages_default_to_finnish(client):
    response = client.get("/")

    assert response["Content-Language"] == "fi"
