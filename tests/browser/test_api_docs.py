"""The API's browsable docs render their operations in Chromium under the site's CSP."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_list_the_operations_with_no_csp_violation(page, live_server):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    response = page.goto(f"{live_server.url}/api/docs/")

    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/services" in summaries
    assert "/api/v1/transfers" in summaries
    assert page.get_by_role("button", name="Authorize").is_visible()
    assert problems == []
