"""The provider's credentials page, in a real Chromium."""

import pytest
from oauth2_provider.models import get_application_model

from registry import services
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/provider/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_provider_creates_a_credential_and_sees_its_secret_once(page, live_server, source_provider):
    _log_in(page, live_server, "askel")
    page.get_by_label("Name of the new credential").fill("production")
    page.get_by_role("button", name="Create credential").click()

    secret = page.locator("#client-secret").inner_text()
    client_id = page.locator("#client-id").inner_text()
    application = get_application_model().objects.get(client_id=client_id)
    assert application.name == "production"
    assert application.client_secret != secret  # stored hashed
    page.goto(f"{live_server.url}/provider/")
    assert client_id in page.content()
    assert secret not in page.content()


def test_provider_revokes_a_credential(page, live_server, source_provider):
    application, _secret = services.credential_create(provider=source_provider, name="old")
    _log_in(page, live_server, "askel")

    page.get_by_role("button", name="Revoke old").click()

    assert page.get_by_role("status").inner_text() == "The credential old is revoked."
    assert not get_application_model().objects.filter(pk=application.pk).exists()


def test_resident_cannot_open_the_provider_page(page, live_server, aino):
    _log_in(page, live_server, "aino")

    assert page.get_by_role("heading", name="Not allowed").is_visible()


def test_provider_page_has_no_accessibility_violations(page, live_server, source_provider, axe):
    services.credential_create(provider=source_provider, name="production")
    _log_in(page, live_server, "askel")

    assert axe(page) == []


def test_front_page_has_no_accessibility_violations(page, live_server, axe):
    page.goto(f"{live_server.url}/")

    assert axe(page) == []
