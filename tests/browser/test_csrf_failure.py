"""The page a form sent without its CSRF token gets, in a real Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refused(page, live_server, aino):
    """The login form sent after the browser lost its CSRF cookie."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.context.clear_cookies()
    page.get_by_label("User name").fill("aino")
    page.get_by_label("Password").fill("whatever it is")
    with page.expect_response(lambda answer: answer.request.method == "POST") as answer:
        page.get_by_role("button", name="Log in").click()
    return answer.value


def test_a_refused_form_says_what_to_do_and_quotes_the_request_id(page, refused):
    assert refused.status == 403
    assert page.get_by_role("heading", name="The form could not be sent").is_visible()
    assert page.get_by_text(refused.headers["x-request-id"]).is_visible()


def test_the_refused_form_page_has_no_accessibility_violations(page, refused, axe):
    assert page.get_by_role("heading", name="The form could not be sent").is_visible()
    assert axe(page) == []
