"""The relay's failure paths on PostgreSQL, which enforces what SQLite lets pass.

The report these tests reproduce: a source answered with a Content-Type longer
than the column that keeps it (Transfer.content_type, 200 characters). Every
try delivered the body, then failed to record that it had (DataError), and the
sweeper handed the transfer on again: after 12 sweeps, 12 attempts (of 8),
12 deliveries, no receipt, and the transfer `delivering` for ever.
"""

from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from consent.models import Receipt
from relay.models import Transfer
from relay.tasks import transfer_relay, transfer_sweep
from tests.relay.helpers import request_transfer
from tests.servers import Answer
from webhooks.models import Notification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

LONG_CONTENT_TYPE = "application/json; profile=" + "x" * 250  # well-formed, and too long


def sweep_and_relay(transfer: Transfer, *, rounds: int, settings) -> list[str]:
    """What the scheduler and the workers do, `rounds` times: sweep, then run the relay task.

    Each round starts once the transfer's time (its backoff, or the lease of a
    try that never recorded its end) is OMADATA_SWEEP_AFTER past. A worker logs
    a task that raises and goes on: so does this, and returns what was raised.
    """
    raised = []
    for _ in range(rounds):
        due = Transfer.objects.get(pk=transfer.pk).next_attempt_at
        moment = max(due, timezone.now()) + timedelta(seconds=settings.OMADATA_SWEEP_AFTER + 1)
        with time_machine.travel(moment, tick=True):
            transfer_sweep()
            try:
                transfer_relay(str(transfer.pk))
            except DatabaseError as error:
                raised.append(type(error).__name__)
    return raised


def test_a_content_type_longer_than_its_column_fails_the_transfer_before_delivery(
    peers, consent, settings
):
    source, sink = peers
    # The source answers so every time it is asked.
    source.answers = [
        Answer(body=b'{"steps": 1}', headers={"Content-Type": LONG_CONTENT_TYPE})
    ] * 12
    transfer = request_transfer(consent)

    raised = sweep_and_relay(transfer, rounds=12, settings=settings)

    transfer.refresh_from_db()
    receipts = Receipt.objects.filter(event="transfer.delivered").count()
    assert (transfer.status, transfer.attempts, len(sink.requests), receipts, raised) == (
        "failed", 1, 0, 0, []
    )  # fmt: skip
    assert transfer.error_code == "source_bad_content_type"
    assert [(a.outcome, a.http_status, a.error) for a in transfer.attempt_rows.all()] == [
        ("failed", 200, "source_bad_content_type")
    ]
    assert Notification.objects.filter(event="transfer.failed").count() == 1


def test_an_outcome_the_database_refuses_ends_the_transfer_failed_once(
    peers, consent, settings, database_refuses
):
    _source, sink = peers
    database_refuses("relay_transferattempt", "NEW.outcome = 'delivered'")
    transfer = request_transfer(consent)

    raised = sweep_and_relay(transfer, rounds=12, settings=settings)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.attempts, len(sink.requests), raised) == (
        "failed", 1, 1, []
    )  # fmt: skip
    assert transfer.error_code == "outcome_unrecorded"
    assert [(a.outcome, a.error) for a in transfer.attempt_rows.all()] == [
        ("failed", "outcome_unrecorded")
    ]
    assert not Receipt.objects.filter(event="transfer.delivered").exists()
    [failed] = Notification.objects.filter(event="transfer.failed")
    assert failed.service_id == consent.sink_id


def test_a_transfer_whose_tries_can_record_nothing_is_tried_at_most_the_maximum(
    peers, consent, settings, database_refuses
):
    # Every record of a try is refused, the final failure's too: only the sweeper
    # is left, and it must not hand the transfer on past its last try.
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 3
    _source, sink = peers
    database_refuses("relay_transferattempt")
    transfer = request_transfer(consent)

    raised = sweep_and_relay(transfer, rounds=12, settings=settings)

    transfer.refresh_from_db()
    assert (transfer.attempts, len(sink.requests), len(raised)) == (3, 3, 3)
    assert not transfer.attempt_rows.exists()
