"""A service's transparency page in a real Chromium, in each language: read without
logging in, and accessible."""

import pytest

from tests.factories import algorithm_spec, automated, register_service, sink_spec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    spec = sink_spec(transparency=automated(), algorithms=[algorithm_spec()])
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.mark.parametrize(
    ("language", "heading"),
    [("fi", "Aktiivisuustaso"), ("sv", "Aktivitetsnivå"), ("en", "Activity level")],
)
def test_a_resident_reads_a_services_transparency_page(
    browser, live_server, wellbeing, axe, language, heading
):
    context = browser.new_context(locale=language)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/")
        page.locator(f'a[href="/services/{wellbeing.slug}/transparency"]').click()
        page.wait_for_url(f"{live_server.url}/services/{wellbeing.slug}/transparency")

        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("article h3").inner_text() == heading
        assert axe(page) == []
    finally:
        context.close()
