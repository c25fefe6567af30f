"""The notification outbox's failure paths on PostgreSQL, which enforces what SQLite lets pass."""

from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from webhooks.models import Notification, NotificationAttempt
from webhooks.tasks import notification_deliver, notification_sweep

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def sweep_and_deliver(notification: Notification, *, rounds: int, settings) -> list[str]:
    """What the scheduler and the workers do, `rounds` times: sweep, then run the delivery task.

    A worker logs a task that raises and goes on: so does this, and returns what was raised.
    """
    raised = []
    for _ in range(rounds):
        due = Notification.objects.get(pk=notification.pk).next_attempt_at
        moment = max(due, timezone.now()) + timedelta(seconds=settings.OMADATA_SWEEP_AFTER + 1)
        with time_machine.travel(moment, tick=True):
            notification_sweep()
            try:
                notification_deliver(str(notification.pk))
            except DatabaseError as error:
                raised.append(type(error).__name__)
    return raised


def test_an_outcome_the_database_refuses_ends_the_notification_failed_once(
    webhook_service, queue_notification, receiver, settings, database_refuses
):
    database_refuses("webhooks_notificationattempt", "NEW.outcome = 'delivered'")
    notification = queue_notification(webhook_service)

    raised = sweep_and_deliver(notification, rounds=12, settings=settings)

    notification.refresh_from_db()
    assert (notification.status, notification.attempts, len(receiver.requests), raised) == (
        "failed", 1, 1, []
    )  # fmt: skip
    rows = NotificationAttempt.objects.filter(notification=notification)
    assert [(a.outcome, a.http_status, a.error) for a in rows] == [
        ("failed", 200, "outcome_unrecorded")
    ]


def test_a_notification_whose_tries_can_record_nothing_is_sent_at_most_the_maximum(
    webhook_service, queue_notification, receiver, settings, database_refuses
):
    settings.OMADATA_NOTIFY_MAX_ATTEMPTS = 3
    database_refuses("webhooks_notificationattempt")
    notification = queue_notification(webhook_service)

    raised = sweep_and_deliver(notification, rounds=12, settings=settings)

    notification.refresh_from_db()
    assert (notification.attempts, len(receiver.requests), len(raised)) == (3, 3, 3)
