"""Delivering webhook notifications: the task run in this process against a real receiver."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from omadata.celery import app
from registry import services
from tests.servers import Answer, redirect
from webhooks import services as notifications
from webhooks.models import Notification, NotificationAttempt
from webhooks.tasks import notification_deliver, notification_sweep

pytestmark = pytest.mark.django_db


def try_when_due(notification: Notification) -> Notification:
    """Run the delivery task as a worker does when the row's next try comes due."""
    due = Notification.objects.get(pk=notification.pk).next_attempt_at
    with time_machine.travel(max(due, timezone.now()), tick=True):
        notification_deliver(str(notification.pk))
    return Notification.objects.get(pk=notification.pk)


def attempts_of(notification: Notification) -> list[tuple[str, int | None, str]]:
    rows = NotificationAttempt.objects.filter(notification=notification).order_by("pk")
    return [(row.outcome, row.http_status, row.error) for row in rows]


def test_2xx_marks_delivered_with_one_attempt(webhook_service, queue_notification, receiver):
    receiver.answers = [Answer(status=204, body=b"")]
    notification = queue_notification(webhook_service)

    notification = try_when_due(notification)

    assert (notification.status, notification.attempts) == ("delivered", 1)
    assert notification.finished_at is not None
    assert attempts_of(notification) == [("delivered", 204, "")]


def test_body_is_posted_as_jose_and_verifies_with_the_published_jwks(
    webhook_service, queue_notification, receiver
):
    notification = queue_notification(webhook_service)

    try_when_due(notification)

    received = receiver.requests[0]
    assert (received.method, received.headers["content-type"]) == ("POST", "application/jose")
    assert received.verified
    assert received.claims["id"] == str(notification.pk)
    assert received.claims["event"] == "consent.granted"


def test_503_503_200_is_delivered_on_the_third_try_with_growing_waits(
    webhook_service, queue_notification, receiver, settings
):
    receiver.answers = [Answer(status=503), Answer(status=503), Answer(status=200)]
    notification = queue_notification(webhook_service)
    waits_until = []

    for tries in (1, 2):
        notification = try_when_due(notification)
        finished = NotificationAttempt.objects.filter(notification=notification).last().finished_at
        ceiling = timedelta(seconds=settings.OMADATA_NOTIFY_BACKOFF_BASE * 2**tries)
        assert finished <= notification.next_attempt_at <= finished + ceiling
        waits_until.append(notification.next_attempt_at)
    notification = try_when_due(notification)

    assert waits_until[0] < waits_until[1]
    assert (notification.status, notification.attempts) == ("delivered", 3)
    assert attempts_of(notification) == [
        ("retry", 503, "server_error"),
        ("retry", 503, "server_error"),
        ("delivered", 200, ""),
    ]
    assert len(receiver.requests) == 3


@pytest.mark.parametrize(("status", "error"), [(500, "server_error"), (429, "rate_limited")])
def test_server_error_and_too_many_requests_are_tried_again(
    webhook_service, queue_notification, receiver, status, error
):
    receiver.answers = [Answer(status=status)]

    notification = try_when_due(queue_notification(webhook_service))

    assert notification.status == "pending"
    assert notification.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert attempts_of(notification) == [("retry", status, error)]


@pytest.mark.parametrize("status", [400, 404, 410])
def test_other_4xx_fails_at_once(webhook_service, queue_notification, receiver, status):
    receiver.answers = [Answer(status=status)]

    notification = try_when_due(queue_notification(webhook_service))

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.finished_at is not None
    assert attempts_of(notification) == [("failed", status, "rejected")]


def test_redirect_fails_at_once(webhook_service, queue_notification, receiver, accept_counter):
    receiver.answers = [redirect(f"http://127.0.0.1:{accept_counter.port}/", status=307)]

    notification = try_when_due(queue_notification(webhook_service))

    assert notification.status == "failed"
    assert attempts_of(notification) == [("failed", 307, "redirect_refused")]
    assert accept_counter.accepted == 0


def test_timeout_is_tried_again(webhook_service, queue_notification, receiver, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 0.3
    receiver.answers = [Answer(stall=2)]

    notification = try_when_due(queue_notification(webhook_service))

    assert notification.status == "pending"
    assert attempts_of(notification) == [("retry", None, "timeout")]


def test_refused_connection_is_tried_again(webhook_service, queue_notification, receiver):
    notification = queue_notification(webhook_service)
    receiver.stop()  # the service is down

    notification = try_when_due(notification)

    assert notification.status == "pending"
    assert attempts_of(notification) == [("retry", None, "connection_failed")]


def test_last_allowed_attempt_that_fails_ends_failed(
    webhook_service, queue_notification, receiver, settings
):
    settings.OMADATA_NOTIFY_MAX_ATTEMPTS = 2
    receiver.answers = [Answer(status=503)] * 5
    notification = queue_notification(webhook_service)

    for _ in range(3):
        notification = try_when_due(notification)

    assert (notification.status, notification.attempts) == ("failed", 2)
    assert [outcome for outcome, _, _ in attempts_of(notification)] == ["retry", "failed"]
    assert len(receiver.requests) == 2


def test_second_claim_of_the_same_try_sends_nothing(webhook_service, queue_notification, receiver):
    notification = queue_notification(webhook_service)
    assert notifications.notification_claim(notification_id=notification.pk) is not None

    # A second worker got the same message while the first is still sending.
    notification_deliver(str(notification.pk))

    assert receiver.requests == []
    assert Notification.objects.get(pk=notification.pk).attempts == 1
    assert notifications.notification_claim(notification_id=notification.pk) is None
    assert attempts_of(notification) == []


def test_running_the_task_again_after_delivery_sends_nothing(
    webhook_service, queue_notification, receiver
):
    notification = try_when_due(queue_notification(webhook_service))

    notification_deliver(str(notification.pk))

    assert len(receiver.requests) == 1
    assert len(attempts_of(notification)) == 1


def test_suspended_service_gets_nothing(
    webhook_service, queue_notification, receiver, staff, settings
):
    notification = queue_notification(webhook_service)
    services.service_suspend(service=webhook_service, actor=staff, reason="test")

    notification = try_when_due(notification)

    assert receiver.requests == []
    assert notification.status == "failed"
    assert attempts_of(notification) == [("failed", None, "service_not_approved")]


@pytest.mark.parametrize("attempt", [1, 2, 5, 9, 10, 40, 10_000])
def test_backoff_is_full_jitter_between_zero_and_the_capped_ceiling(settings, attempt):
    settings.OMADATA_NOTIFY_BACKOFF_BASE = 2
    settings.OMADATA_NOTIFY_BACKOFF_CAP = 600
    ceiling = min(600, 2 * 2**attempt)

    waits = [notifications.backoff_delay(attempt=attempt) for _ in range(2000)]

    assert all(0 <= wait <= ceiling for wait in waits)
    # Spread over the whole range, not bunched at either end.
    assert min(waits) < ceiling * 0.05
    assert max(waits) > ceiling * 0.95


def test_sweeper_enqueues_only_pending_rows_overdue_by_sweep_after(
    webhook_service, queue_notification, settings, django_capture_on_commit_callbacks
):
    settings.OMADATA_SWEEP_AFTER = 60
    now = timezone.now()
    rows = {}
    for name, status, seconds_ago in [
        ("overdue", "pending", 61),
        ("older", "pending", 3600),
        ("just_due", "pending", 30),
        ("later", "pending", -30),
        ("delivered", "delivered", 3600),
        ("failed", "failed", 3600),
    ]:
        rows[name] = queue_notification(webhook_service)
        Notification.objects.filter(pk=rows[name].pk).update(
            status=status, next_attempt_at=now - timedelta(seconds=seconds_ago)
        )

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        swept = notifications.notification_sweep()

    assert swept == [rows["older"].pk, rows["overdue"].pk]  # oldest first
    assert len(enqueued) == 1


def test_swept_row_is_not_swept_again_within_sweep_after(
    webhook_service, queue_notification, settings, django_capture_on_commit_callbacks
):
    settings.OMADATA_SWEEP_AFTER = 60
    notification = queue_notification(webhook_service)
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert notifications.notification_sweep() == [notification.pk]

        assert notifications.notification_sweep() == []


def test_scheduler_runs_the_sweep_task_every_sweep_interval(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["notification-sweep"]

    assert entry["task"] == notification_sweep.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.OMADATA_SWEEP_INTERVAL


def claim_and_die(notification: Notification, *, settings) -> None:
    """A worker takes the notification's next try once a sweep hands it on, and dies mid-try."""
    due = Notification.objects.get(pk=notification.pk).next_attempt_at
    moment = max(due, timezone.now()) + timedelta(seconds=settings.OMADATA_SWEEP_AFTER + 1)
    with time_machine.travel(moment, tick=True):
        notifications.notification_sweep()
        notifications.notification_claim(notification_id=notification.pk)


def test_sweeps_never_hand_a_notification_on_past_its_last_try(
    webhook_service, queue_notification, receiver, settings
):
    settings.OMADATA_NOTIFY_MAX_ATTEMPTS = 3
    notification = queue_notification(webhook_service)

    for _ in range(8):
        claim_and_die(notification, settings=settings)

    notification = Notification.objects.get(pk=notification.pk)
    assert (notification.status, notification.attempts) == ("failed", 3)
    assert notification.finished_at is not None
    assert attempts_of(notification) == [("failed", None, "attempts_exhausted")]
    assert receiver.requests == []


def test_a_notification_with_no_tries_left_is_not_claimed(
    webhook_service, queue_notification, receiver, settings
):
    notification = queue_notification(webhook_service)
    Notification.objects.filter(pk=notification.pk).update(attempts=4)
    settings.OMADATA_NOTIFY_MAX_ATTEMPTS = 4

    assert notifications.notification_claim(notification_id=notification.pk) is None
    notification_deliver(str(notification.pk))

    assert receiver.requests == []
    assert Notification.objects.get(pk=notification.pk).attempts == 4


def test_an_outcome_the_database_refuses_ends_the_notification_failed_once(
    webhook_service, queue_notification, receiver, settings, database_refuses
):
    database_refuses("webhooks_notificationattempt", "NEW.outcome = 'delivered'")
    notification = queue_notification(webhook_service)

    for _ in range(6):
        claim_due = Notification.objects.get(pk=notification.pk).next_attempt_at
        moment = max(claim_due, timezone.now()) + timedelta(
            seconds=settings.OMADATA_SWEEP_AFTER + 1
        )
        with time_machine.travel(moment, tick=True):
            notification_sweep()
            notification_deliver(str(notification.pk))

    notification = Notification.objects.get(pk=notification.pk)
    assert (notification.status, notification.attempts, len(receiver.requests)) == (
        "failed", 1, 1
    )  # fmt: skip
    assert attempts_of(notification) == [("failed", 200, "outcome_unrecorded")]
