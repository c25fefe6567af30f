"""Signed notifications to services' webhooks: the outbox and its delivery.

`notify` runs inside the transaction that makes the change: the notification
row commits with it or not at all, and delivery is enqueued only after commit.
A sweeper re-enqueues whatever a crash or a broker outage left.

Delivery is at least once: a service may see a notification twice (a worker
that dies after sending and before recording tries again) and recognises it by
the `id` in the signed body.
"""

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import outbound, outbox
from ledger import jws
from registry.models import Service
from webhooks.models import Notification, NotificationAttempt

NOTIFICATION_TYP = "notification+jwt"
logger = logging.getLogger(__name__)


def notify(*, service: Service, event: str, data: dict) -> Notification | None:
    """Queue a signed notification of `event` for `service`'s webhook; None if it has none.

    Runs in the caller's transaction; delivery starts after commit. `data` is
    the event's own content: ids, statuses, the operator's codes and signed
    receipts, never a peer's words.
    """
    if not service.webhook_url:
        return None
    now = timezone.now()
    notification = Notification(service=service, url=service.webhook_url, event=event)
    body = {
        "id": str(notification.id),
        "event": event,
        "aud": str(service.id),
        "iat": int(now.timestamp()),
        "data": data,
    }
    notification.body = jws.sign(body, typ=NOTIFICATION_TYP)
    notification.next_attempt_at = now
    notification.save()
    transaction.on_commit(lambda: _enqueue(notification.id))
    return notification


def _task() -> Any:  # a Celery task: Celery ships no types
    from webhooks.tasks import notification_deliver

    return notification_deliver


def _enqueue(notification_id: UUID, *, countdown: float | None = None) -> bool:
    return outbox.enqueue(_task(), notification_id, countdown=countdown)


def notification_claim(*, notification_id: UUID | str) -> Notification | None:
    """Take the next try of a due notification, or None when there is none to take.

    A worker that dies during its try leaves the row pending; when its lease
    runs out, the sweeper hands it to another worker. A notification that has
    had OMADATA_NOTIFY_MAX_ATTEMPTS tries has none left to take.
    """
    now = timezone.now()
    claimed = outbox.claim(
        Notification.objects.filter(status=Notification.Status.PENDING),
        pk=notification_id, now=now, until=outbox.lease_end(now=now, requests=1),
        max_attempts=settings.OMADATA_NOTIFY_MAX_ATTEMPTS,
    )  # fmt: skip
    if not claimed:
        return None
    return Notification.objects.select_related("service").get(pk=notification_id)


def notification_deliver(*, notification_id: UUID | str) -> NotificationAttempt | None:
    """Make the next try at delivering a notification, if one is due; return its record.

    Safe to call any number of times, from any number of workers: only the
    call that claims a due try sends anything. A 2xx delivers; a 5xx, a 429, a
    timeout or a failed connection is tried again after a backoff until
    OMADATA_NOTIFY_MAX_ATTEMPTS; anything else fails at once.
    """
    started_at = timezone.now()
    notification = notification_claim(notification_id=notification_id)
    if notification is None:
        return None
    http_status, error = _send(notification)
    return _record(
        notification=notification, started_at=started_at, http_status=http_status, error=error
    )


def _send(notification: Notification) -> tuple[int | None, str]:
    """POST the signed body; return the HTTP status, if any, and an error code ("" if none)."""
    if notification.service.status != Service.Status.APPROVED:
        # The operator talks only to approved services; a suspended one gets nothing.
        return None, "service_not_approved"
    try:
        response = outbound.request(
            method="POST",
            url=notification.url,
            headers={"Content-Type": "application/jose"},
            body=notification.body.encode(),
        )
    except outbound.OutboundError as failure:
        return failure.status, failure.code
    return response.status, outbox.http_error(response.status)


_STATUS = {
    outbox.DELIVERED: Notification.Status.DELIVERED,
    outbox.FAILED: Notification.Status.FAILED,
}


def _record(
    *, notification: Notification, started_at: datetime, http_status: int | None, error: str
) -> NotificationAttempt:
    """Record what the try came to; if that fails, record a final failure instead.

    As for transfers: a try whose outcome cannot be written must not be left to
    the sweeper, which would send it again. It fails, in a transaction of its
    own, with `outcome_unrecorded`; should even that fail, the error is raised,
    and the sweeper ends the notification once its tries are used up.
    """
    try:
        return _record_outcome(
            notification=notification, started_at=started_at, http_status=http_status,
            error=error,
        )  # fmt: skip
    except Exception:  # whatever failed, the notification must still end
        logger.exception(
            "notification %s try %d: its outcome (%s) could not be recorded",
            notification.id, notification.attempts, error or http_status,
        )  # fmt: skip
    return _record_failure(
        notification=notification, started_at=started_at, http_status=http_status,
        error="outcome_unrecorded",
    )  # fmt: skip


@transaction.atomic
def _record_failure(
    *, notification: Notification, started_at: datetime, http_status: int | None, error: str
) -> NotificationAttempt:
    """End the notification `failed` with `error`: its attempt row and state, together."""
    now = timezone.now()
    attempt = NotificationAttempt.objects.create(
        notification=notification, started_at=started_at, finished_at=now,
        outcome=outbox.FAILED, http_status=http_status, error=error,
        duration_ms=outbox.duration_ms(started_at, now),
    )  # fmt: skip
    Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.PENDING, attempts=notification.attempts
    ).update(status=Notification.Status.FAILED, finished_at=now)
    logger.info("notification %s try %d: failed %s", notification.id, notification.attempts, error)
    return attempt


@transaction.atomic
def _record_outcome(
    *, notification: Notification, started_at: datetime, http_status: int | None, error: str
) -> NotificationAttempt:
    """Write the try's attempt row and the notification's new state, together."""
    now = timezone.now()
    outcome = outbox.verdict(
        error=error, attempts=notification.attempts,
        max_attempts=settings.OMADATA_NOTIFY_MAX_ATTEMPTS,
    )  # fmt: skip
    attempt = NotificationAttempt.objects.create(
        notification=notification, started_at=started_at, finished_at=now,
        outcome=outcome, http_status=http_status, error=error,
        duration_ms=outbox.duration_ms(started_at, now),
    )  # fmt: skip
    delay = 0.0
    if outcome == outbox.RETRY:
        delay = backoff_delay(attempt=notification.attempts)
        changes: dict = {"next_attempt_at": now + timedelta(seconds=delay)}
    else:
        changes = {"status": _STATUS[outcome], "finished_at": now}
    # Fenced by the try's number: a try that outlived its lease must not undo
    # what a newer try of the same notification has recorded.
    updated = Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.PENDING, attempts=notification.attempts
    ).update(**changes)
    if updated and outcome == outbox.RETRY:
        transaction.on_commit(lambda: _enqueue(notification.id, countdown=delay))
    logger.info(
        "notification %s try %d: %s %s",
        notification.id, notification.attempts, outcome, error or http_status,
    )  # fmt: skip
    return attempt


def backoff_delay(*, attempt: int) -> float:
    """Seconds to wait after failed try `attempt`."""
    return outbox.backoff(
        attempt=attempt,
        base=settings.OMADATA_NOTIFY_BACKOFF_BASE,
        cap=settings.OMADATA_NOTIFY_BACKOFF_CAP,
    )


def notification_sweep() -> list[UUID]:
    """Re-enqueue pending notifications overdue by more than OMADATA_SWEEP_AFTER.

    A row is overdue when its message was lost: the broker was down at commit,
    or a worker died during a try and its lease ran out. Return the ids
    enqueued (after commit), oldest first. A notification whose tries are used
    up is not sent again but ends `failed` (`attempts_exhausted`), with its
    attempt row.
    """
    now = timezone.now()
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    cutoff = now - timedelta(seconds=settings.OMADATA_SWEEP_AFTER)
    max_attempts = settings.OMADATA_NOTIFY_MAX_ATTEMPTS
    outbox.end_each(
        outbox.exhausted(pending, cutoff=cutoff, max_attempts=max_attempts),
        lambda pk: _notification_exhaust(notification_id=pk, now=now, cutoff=cutoff),
    )
    overdue = pending.filter(next_attempt_at__lt=cutoff)
    return outbox.sweep(
        overdue=overdue, reset=overdue, now=now, task=_task(), max_attempts=max_attempts
    )


def _notification_exhaust(*, notification_id: UUID, now: datetime, cutoff: datetime) -> None:
    """End a notification whose tries are used up and whose last try never ended: `failed`.

    Its attempt row (`attempts_exhausted`) stands for the try that never
    recorded its end. Runs in the sweeper's transaction for this row.
    """
    ended = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING,
        attempts__gte=settings.OMADATA_NOTIFY_MAX_ATTEMPTS, next_attempt_at__lt=cutoff,
    ).update(status=Notification.Status.FAILED, finished_at=now)  # fmt: skip
    if not ended:
        return
    NotificationAttempt.objects.create(
        notification_id=notification_id, started_at=now, finished_at=now,
        outcome=outbox.FAILED, error="attempts_exhausted", duration_ms=0,
    )  # fmt: skip
    logger.warning("notification %s: tries used up, the last never ended; failed", notification_id)
