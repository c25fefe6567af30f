"""Closing an account stops the transfers in flight under its consents: the relay re-checks."""

import pytest

from consent import services as consent_services
from relay import services
from tests.relay.helpers import request_transfer
from tests.servers import Answer

pytestmark = pytest.mark.django_db


def test_closing_the_account_cancels_a_transfer_in_flight(peers, consent, settings):
    settings.OMADATA_RELAY_BACKOFF_BASE = 50.0  # the retry waits far longer than this test
    source, sink = peers
    source.answers = [Answer(status=503)]
    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)
    transfer.refresh_from_db()
    assert (transfer.status, len(source.requests)) == ("queued", 1)

    consent_services.account_close(resident=consent.resident)
    assert services.transfer_sweep() == [transfer.id]
    services.transfer_relay(transfer_id=transfer.id)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_withdrawn")
    assert (len(source.requests), len(sink.requests)) == (1, 0)


def test_closing_the_account_cancels_a_queued_transfer_before_it_fetches(peers, consent):
    source, sink = peers
    transfer = request_transfer(consent)

    consent_services.account_close(resident=consent.resident)
    services.transfer_relay(transfer_id=transfer.id)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_withdrawn")
    assert (source.requests, sink.requests) == ([], [])
