"""A lasting language choice: a service's `?lang=`, the switcher, the resident's saved
choice, in that order, before the browser's Accept-Language."""

import pytest
from django.conf import settings
from django.test import Client

from consent.models import LanguagePreference

pytestmark = pytest.mark.django_db


def language_of(response) -> str:
    return response.headers["Content-Language"]


def test_a_services_lang_parameter_overrules_the_browser(client, aino, consent_request):
    client.force_login(aino)

    response = client.get(
        f"/consent/requests/{consent_request.id}?lang=sv", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert language_of(response) == "sv"


def test_a_services_lang_parameter_carries_over_to_the_next_page(client, aino, consent_request):
    client.force_login(aino)
    client.get(f"/consent/requests/{consent_request.id}?lang=sv", HTTP_ACCEPT_LANGUAGE="en")

    response = client.get("/my/consents", HTTP_ACCEPT_LANGUAGE="en")

    assert language_of(response) == "sv"


@pytest.mark.parametrize(("given", "spoken"), [("sv-FI", "sv"), ("SV", "sv"), ("en-GB", "en")])
def test_a_lang_parameter_with_a_region_or_in_capitals_is_understood(
    client, aino, consent_request, given, spoken
):
    client.force_login(aino)

    response = client.get(
        f"/consent/requests/{consent_request.id}?lang={given}", HTTP_ACCEPT_LANGUAGE="fi"
    )

    assert language_of(response) == spoken
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == spoken


@pytest.mark.parametrize("given", ["de", "de-FI", "-", "x" * 300])
def test_an_unknown_lang_parameter_is_ignored(client, aino, given):
    client.force_login(aino)

    response = client.get(f"/my/consents?lang={given}", HTTP_ACCEPT_LANGUAGE="en")

    assert language_of(response) == "en"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_switcher_saves_a_signed_in_residents_choice(client, aino):
    client.force_login(aino)

    client.post("/i18n/setlang/", {"language": "sv", "next": "/my/consents"})

    assert LanguagePreference.objects.get(resident=aino).language == "sv"


def test_the_saved_choice_follows_the_resident_to_another_browser(client, aino):
    client.force_login(aino)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/my/consents"})
    other_browser = Client()
    other_browser.force_login(aino)

    response = other_browser.get("/my/consents", HTTP_ACCEPT_LANGUAGE="en")

    assert language_of(response) == "sv"


def test_the_switcher_in_this_browser_comes_before_the_saved_choice(client, aino):
    LanguagePreference.objects.create(resident=aino, language="sv")
    client.force_login(aino)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"

    response = client.get("/my/consents", HTTP_ACCEPT_LANGUAGE="en")

    assert language_of(response) == "fi"


def test_the_lang_parameter_comes_before_the_switcher(client, aino):
    client.force_login(aino)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"

    response = client.get("/my/consents?lang=en")

    assert language_of(response) == "en"


def test_the_switcher_leaves_a_services_lang_out_of_the_way_back(client, aino):
    client.force_login(aino)

    response = client.post("/i18n/setlang/", {"language": "fi", "next": "/my/consents?lang=sv&x=1"})

    assert response["Location"] == "/my/consents?x=1"


def test_an_anonymous_choice_is_kept_in_the_browser_only(client):
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})

    assert not LanguagePreference.objects.exists()
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "sv"


def test_the_api_ignores_the_lang_parameter(client):
    response = client.get("/api/v1/data-types?lang=sv")

    assert language_of(response) == "en"


def test_a_get_to_the_switcher_saves_nothing(client, aino):
    client.force_login(aino)

    client.get("/i18n/setlang/", {"language": "sv"})

    assert not LanguagePreference.objects.exists()
