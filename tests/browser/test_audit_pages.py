"""The audit pages in a real Chromium: an auditor from the log to a receipt's verification,
then to the figures per service."""

from datetime import timedelta

import pytest
from django.utils import formats, translation

from ledger import checkpoints
from relay import services as relay_services
from relay.models import Transfer
from tests.factories import (
    PASSWORD,
    grant_consent,
    link_resident,
    make_auditor,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def logged(aino, source_provider, sink_provider, data_types, staff):
    """A consent of Aino's: a link receipt and a consent receipt in the log, under a
    checkpoint, and a transfer delivered 12 seconds after it was asked for."""
    wearable = register_service(source_provider, source_spec(), approve_by=staff)
    wellbeing = register_service(sink_provider, sink_spec(), approve_by=staff)
    link_resident(aino, wearable)
    consent = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
    checkpoints.checkpoint_sign()  # for the checkpoints page
    transfer, _new = relay_services.transfer_request(
        consent=consent, organisation=wellbeing.organisation
    )
    Transfer.objects.filter(pk=transfer.pk).update(
        status=Transfer.Status.DELIVERED, finished_at=transfer.created_at + timedelta(seconds=12)
    )
    return consent


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_auditor_walks_from_the_log_to_a_verified_receipt_and_the_service_figures(
    browser, live_server, logged, axe, language
):
    make_auditor()
    context = browser.new_context(locale=language)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("#id_username").fill("auditor")
        page.locator("#id_password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"{live_server.url}/audit/")
        assert page.locator("html").get_attribute("lang") == language
        assert axe(page) == []

        page.locator("main a[href='/audit/receipts']").click()
        page.wait_for_url(f"{live_server.url}/audit/receipts")
        assert axe(page) == []

        granted = logged.receipts.get()
        page.locator(f"main a[href='/audit/receipts/{granted.pk}']").click()
        page.wait_for_url(f"{live_server.url}/audit/receipts/{granted.pk}")
        with translation.override(language):
            verified = translation.gettext("Signature verified with Omadata's published keys.")
        assert page.get_by_role("status").first.inner_text() == verified
        assert axe(page) == []

        page.goto(f"{live_server.url}/audit/checkpoints")
        assert page.locator("table.checkpoints tbody tr").count() == 1
        assert axe(page) == []

        page.locator("header a[href='/audit/']").click()
        page.wait_for_url(f"{live_server.url}/audit/")
        page.locator("main a[href='/audit/services']").click()
        page.wait_for_url(f"{live_server.url}/audit/services")
        with translation.override(language):
            caption = translation.gettext("Transfers to each service, as the sink")
            median = translation.gettext("%(seconds)s s") % {
                "seconds": formats.number_format(12.0, 1)
            }
        row = page.get_by_role("table", name=caption).get_by_role("row").nth(1)
        assert median in row.inner_text()
        assert axe(page) == []
    finally:
        context.close()
