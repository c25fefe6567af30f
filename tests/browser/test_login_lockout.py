"""The page a locked login gets, in a real Chromium."""

import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _few_tries(settings):
    settings.AXES_FAILURE_LIMIT = 3


def _log_in(page, url: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("User name").fill("aino")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def locked_out(page, live_server, aino, settings):
    """Aino's user name, locked from this browser's address after wrong passwords."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        _log_in(page, f"{live_server.url}/accounts/login/", f"wrong-{n}")


def test_a_locked_login_says_why_and_when_to_try_again(page, live_server, locked_out):
    _log_in(page, f"{live_server.url}/accounts/login/", PASSWORD)

    assert page.get_by_role("heading", name="Too many login attempts").is_visible()
    assert "Try again after" in page.get_by_role("alert").inner_text()


def test_the_lockout_page_has_no_accessibility_violations(page, live_server, locked_out, axe):
    assert page.get_by_role("heading", name="Too many login attempts").is_visible()
    assert axe(page) == []


def test_the_admin_login_locks_with_the_same_page(page, live_server, staff, settings, axe):
    for n in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/admin/login/")
        page.locator("#id_username").fill("staff")
        page.locator("#id_password").fill(f"wrong-{n}")
        page.locator("input[type=submit]").click()

    assert page.get_by_role("heading", name="Too many login attempts").is_visible()
    assert axe(page) == []
