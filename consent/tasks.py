"""Celery tasks of the consent app: thin, idempotent, and given ids only."""

from celery import shared_task


@shared_task(name="consent.notification_deliver")
def notification_deliver(notification_id: str) -> None:
    """Deliver one webhook notification (implemented with the outbound HTTP client)."""
    raise NotImplementedError
