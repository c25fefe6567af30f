"""Signed notifications to services' webhooks: the outbox and its delivery.

`notify_*` functions run inside the transaction that makes the change: the
notification row commits with it or not at all, and delivery is enqueued only
after commit. A sweeper re-enqueues whatever a crash or a broker outage left.

Delivery is at least once: a service may see a notification twice (a worker
that dies after sending and before recording tries again) and recognises it by
the `id` in the signed body.
"""

import logging
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consent import jws
from consent.models import Consent, Notification, NotificationAttempt, Receipt
from omadata import outbound, retry
from registry.models import Service

NOTIFICATION_TYP = "notification+jwt"
# A claimed try owns its row for the request's deadline and this much more,
# time to record the outcome even when the database is slow.
CLAIM_MARGIN = timedelta(seconds=30)
# How many overdue rows one sweep re-enqueues; the next sweep takes the rest.
SWEEP_BATCH = 500
# Failures worth trying again: the service, or the way to it, may come back.
_TRANSIENT_ERRORS = frozenset(
    {"timeout", "connection_failed", "unresolvable_host", "rate_limited", "server_error"}
)
logger = logging.getLogger(__name__)


def _queue(*, service: Service, event: str, data: dict) -> Notification | None:
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


def _enqueue(notification_id: UUID, *, countdown: float | None = None) -> bool:
    from consent.tasks import notification_deliver

    return retry.enqueue(notification_deliver, notification_id, countdown=countdown)


def notification_claim(*, notification_id: UUID | str) -> Notification | None:
    """Take the next try of a due notification, or None when there is none to take.

    The conditional update is the lock: it counts the try and moves
    `next_attempt_at` past the try's deadline, so a second worker holding the
    same message finds nothing due and sends nothing. A worker that dies during
    its try leaves the row pending; when the claim runs out, the sweeper
    hands it to another worker.
    """
    now = timezone.now()
    claim_until = now + timedelta(seconds=settings.OMADATA_OUTBOUND_TIMEOUT) + CLAIM_MARGIN
    claimed = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=claim_until)
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
    if 200 <= response.status < 300:
        return response.status, ""
    if response.status == 429:
        return response.status, "rate_limited"
    if response.status >= 500:
        return response.status, "server_error"
    return response.status, "rejected"


@transaction.atomic
def _record(
    *, notification: Notification, started_at: datetime, http_status: int | None, error: str
) -> NotificationAttempt:
    """Write the try's attempt row and the notification's new state, together."""
    now = timezone.now()
    if not error:
        outcome = NotificationAttempt.Outcome.DELIVERED
    elif (
        error in _TRANSIENT_ERRORS and notification.attempts < settings.OMADATA_NOTIFY_MAX_ATTEMPTS
    ):
        outcome = NotificationAttempt.Outcome.RETRY
    else:
        outcome = NotificationAttempt.Outcome.FAILED
    attempt = NotificationAttempt.objects.create(
        notification=notification, started_at=started_at, finished_at=now,
        outcome=outcome, http_status=http_status, error=error,
    )  # fmt: skip
    if outcome == NotificationAttempt.Outcome.RETRY:
        delay = backoff_delay(attempt=notification.attempts)
        changes = {"next_attempt_at": now + timedelta(seconds=delay)}
    else:
        status = (
            Notification.Status.DELIVERED
            if outcome == NotificationAttempt.Outcome.DELIVERED
            else Notification.Status.FAILED
        )
        changes = {"status": status, "finished_at": now}
    # Fenced by the try's number: a try that outlived its claim must not undo
    # what a newer try of the same notification has recorded.
    updated = Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.PENDING, attempts=notification.attempts
    ).update(**changes)
    if updated and outcome == NotificationAttempt.Outcome.RETRY:
        transaction.on_commit(lambda: _enqueue(notification.id, countdown=delay))
    logger.info(
        "notification %s try %d: %s %s",
        notification.id, notification.attempts, outcome, error or http_status,
    )  # fmt: skip
    return attempt


def backoff_delay(*, attempt: int) -> float:
    """Seconds to wait after failed try `attempt`; the cap is below Celery's visibility timeout."""
    return retry.full_jitter(
        attempt=attempt,
        base=settings.OMADATA_NOTIFY_BACKOFF_BASE,
        cap=settings.OMADATA_NOTIFY_BACKOFF_CAP,
    )


def notification_sweep() -> list[UUID]:
    """Re-enqueue pending notifications overdue by more than OMADATA_SWEEP_AFTER.

    A row is overdue when its message was lost: the broker was down at commit,
    or a worker died during a try and its claim ran out. Each swept row is made
    due now, so that it is not swept again for OMADATA_SWEEP_AFTER however slow
    the queue; a row a worker claims meanwhile is left alone. Return the ids
    enqueued (after commit), oldest first, at most SWEEP_BATCH.
    """
    now = timezone.now()
    overdue = Notification.objects.filter(
        status=Notification.Status.PENDING,
        next_attempt_at__lt=now - timedelta(seconds=settings.OMADATA_SWEEP_AFTER),
    )
    with transaction.atomic():
        ids = list(overdue.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
        overdue.filter(pk__in=ids).update(next_attempt_at=now)
        transaction.on_commit(lambda: _enqueue_all(ids))
    return ids


def _enqueue_all(ids: list[UUID]) -> None:
    for notification_id in ids:
        if not _enqueue(notification_id):
            break  # the broker is down: the rest would fail as well, and wait for the next sweep


def notify_consent_change(*, consent: Consent, receipt: Receipt) -> list[Notification]:
    """Tell the consent's source and sink about its new status, with the receipt."""
    data = {
        "consent_id": str(consent.id),
        "status": consent.status,
        "source": str(consent.source_id),
        "sink": str(consent.sink_id),
        "receipt": receipt.jws,
    }
    sent = [
        _queue(service=s, event=receipt.event, data=data) for s in (consent.source, consent.sink)
    ]
    return [n for n in sent if n is not None]


def notify_refusal(*, request, receipt: Receipt) -> list[Notification]:
    data = {"request_id": str(request.id), "status": "refused", "receipt": receipt.jws}
    sent = _queue(service=request.sink, event=receipt.event, data=data)
    return [sent] if sent else []


def notify_transfer(
    *, consent: Consent, event: str, data: dict, source_too: bool = False
) -> list[Notification]:
    """Tell the consent's sink (and with `source_too`, its source) about one of its transfers.

    `event` is `transfer.delivered`, `transfer.failed` or `transfer.cancelled`; `data`
    carries only the operator's own codes, never a peer's words.
    """
    data = {"consent_id": str(consent.id), **data}
    recipients = (consent.source, consent.sink) if source_too else (consent.sink,)
    sent = [_queue(service=s, event=event, data=data) for s in recipients]
    return [n for n in sent if n is not None]
