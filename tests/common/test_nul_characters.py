"""No NUL character from outside reaches the database, which (on PostgreSQL) cannot hold one.

PostgreSQL refuses U+0000 in text and in jsonb; SQLite stores it. A value that
carried one past the views failed there, as a 500, on PostgreSQL only.
"""

import base64
import json
import logging

import pytest
from django.test import Client

from tests.factories import api_as, source_spec

pytestmark = pytest.mark.django_db


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


def basic_with_junk(credentials: bytes) -> str:
    """Base64 with characters outside its alphabet between, which DOT's decoder skips."""
    return "Basic " + "!".join(base64.b64encode(credentials).decode())


@pytest.mark.parametrize(
    ("body", "authorization"),
    [
        ({"grant_type": "client_credentials"}, basic(b"client\x00id:secret")),
        ({"grant_type": "client_credentials"}, basic(b"client-id:sec\x00ret")),
        ({"grant_type": "client_credentials"}, basic_with_junk(b"client\x00id:secret")),
        ({"grant_type": "client_credentials"}, "Basic \xe9t\xe9"),
        (
            {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"},
            None,
        ),
        ({"grant_type": "client_credentials\x00"}, None),
    ],
    ids=[
        "basic-client-id",
        "basic-secret",
        "basic-lenient-base64",
        "basic-not-ascii",
        "body-client-id",
        "grant-type",
    ],
)
@pytest.mark.parametrize("endpoint", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_oauth_endpoints_refuse_a_nul_with_400(endpoint, body, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client().post(endpoint, body, **headers)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_character"


@pytest.mark.parametrize("query", ["data_type=wellbeing%00steps", "role=sink&role=%00", "a%00=1"])
def test_a_nul_in_a_query_parameter_is_400(source_provider, query):
    response = api_as(source_provider).get(f"/api/v1/services?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_character"


@pytest.mark.parametrize(
    "body",
    [
        {"name": {"fi": "a\u0000", "sv": "b", "en": "c"}},
        {"jwks": {"keys": [], "note": "\u0000"}},
        {"jwks": {"k\u0000": 1}},
    ],
)
def test_a_nul_in_a_json_string_is_400_invalid_json(source_provider, data_types, body):
    response = api_as(source_provider).post(
        "/api/v1/services", json.dumps({**source_spec(), **body}), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_a_nul_in_a_page_form_is_a_400(source_provider):
    client = Client()
    client.force_login(source_provider.user)
    credentials = source_provider.user.oauth2_provider_application.count()

    response = client.post("/provider/credentials", {"name": "mine\x00"})

    assert response.status_code == 400
    assert source_provider.user.oauth2_provider_application.count() == credentials


def test_text_without_nul_is_untouched(source_provider):
    client = Client()
    client.force_login(source_provider.user)

    response = client.post("/provider/credentials", {"name": "line one\nline two"})

    assert response.status_code == 200


# A session key long enough that Django looks it up: on PostgreSQL that query failed.
NUL_COOKIES = [
    "sessionid=abcdefghijk\x00lmnopqrstuvwxyz012345",
    'sessionid="abcdefghijk\\000lmnopqrstuvwxyz012345"',  # an octal escape Django decodes
    "sessionid=abcdefghijk%00lmnopqrstuvwxyz012345",
    "csrftoken=abc\x00def; django_language=fi\x00",
]


@pytest.mark.parametrize("cookie", NUL_COOKIES)
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/my/consents", "/api/docs/"])
def test_a_nul_in_a_cookie_is_no_500_on_a_page(path, cookie):
    response = Client().get(path, HTTP_COOKIE=cookie)

    assert response.status_code in (200, 302)


@pytest.mark.parametrize("cookie", NUL_COOKIES)
def test_a_nul_in_a_cookie_is_no_500_at_the_api(source_provider, cookie):
    api = api_as(source_provider)

    listed = api.get("/api/v1/organisation/services", HTTP_COOKIE=cookie)
    token = Client().post("/o/token/", {"grant_type": "client_credentials"}, HTTP_COOKIE=cookie)

    assert listed.status_code == 200
    assert token.status_code == 401


def test_a_nul_in_a_cookie_leaves_the_others_in_use(aino):
    client = Client()
    client.force_login(aino)
    session = client.cookies["sessionid"].value

    response = client.get(
        "/my/consents", HTTP_COOKIE=f"sessionid={session}; django_language=sv\x00"
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "data"),
    [("/consent/links/return", {"state": "\x00"}), ("/i18n/setlang/", {"language": "\x00"})],
)
def test_a_refused_nul_on_a_page_is_one_warning_in_english(client, caplog, path, data, db):
    with caplog.at_level(logging.INFO):
        answer = client.get(path, data) if "return" in path else client.post(path, data)

    assert answer.status_code == 400
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]
    assert "Bad Request" in caplog.records[-1].getMessage()
