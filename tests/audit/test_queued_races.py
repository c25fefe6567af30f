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
