"""Signed notifications to services' webhooks, written to the outbox with the change.

`notify_*` functions run inside the transaction that makes the change: the
notification row commits with it or not at all, and delivery is enqueued only
after commit. A sweeper re-enqueues whatever a crash or a broker outage left.
"""

import logging

from django.db import transaction
from django.utils import timezone

from consent import jws
from consent.models import Consent, Notification, Receipt
from registry.models import Service

NOTIFICATION_TYP = "notification+jwt"
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


def _enqueue(notification_id) -> None:
    from consent.tasks import notification_deliver

    try:
        notification_deliver.delay(str(notification_id))
    except Exception:  # the broker is down: the row waits for the sweeper, nothing is lost
        logger.warning("enqueue failed for notification %s", notification_id, exc_info=True)


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
