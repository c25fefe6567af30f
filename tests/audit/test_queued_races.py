"""A receipt read while queued, and integrated before the page has finished with it."""

from audit import selectors
from consent import services as consent_services
from ledger.log import log_integrate


def test_neighbours_of_a_receipt_integrated_after_it_was_read(consent):
    consent_services.consent_pause(consent=consent)
    paused = consent.receipts.get(event="consent.paused")
    receipt = selectors.receipt_access(receipt_id=paused.pk)
    assert receipt.entry.index is None

    log_integrate()  # the sequencer commits between the page's reads
    previous, following = selectors.receipt_neighbours(receipt)

    assert previous == consent.receipts.get(event="consent.granted")
    assert following is None


def test_neighbours_of_a_receipt_integrated_with_the_next_after_it_was_read(consent):
    consent_services.consent_pause(consent=consent)
    paused = consent.receipts.get(event="consent.paused")
    receipt = selectors.receipt_access(receipt_id=paused.pk)
    consent_services.consent_resume(consent=consent)

    log_integrate()
    previous, following = selectors.receipt_neighbours(receipt)

    assert previous == consent.receipts.get(event="consent.granted")
    assert following == consent.receipts.get(event="consent.resumed")


def test_a_first_page_full_of_queued_receipts_says_how_many_more_wait(
    as_auditor, consent, monkeypatch
):
    monkeypatch.setattr("audit.views.PAGE_SIZE", 1)
    consent_services.consent_pause(consent=consent)
    consent_services.consent_resume(consent=consent)  # two queued, more than a page

    first = as_auditor.get("/audit/receipts")
    text = " ".join(first.content.decode().split())
    following = as_auditor.get("/audit/receipts" + first.context["next"])

    assert first.context["rows"][0][0].entry.index is None
    assert "1 more receipt waits for the log's sequencer" in text
    assert following.context["rows"][0][0].entry.index is not None  # the log, newest first
