"""Celery tasks of the consent app: thin, idempotent, and given ids only."""

from celery import shared_task


@shared_task(name="consent.notification_deliver")
def notification_deliver(notification_id: str) -> None:
    """Deliver one webhook notification (implemented with the outbound HTTP client)."""
    raise NotImplementedError


@shared_task(name="consent.checkpoint_sign")
def checkpoint_sign() -> None:
    from consent.audit import checkpoint_sign as sign

    sign()


@shared_task(name="consent.consent_expire")
def consent_expire() -> int:
    from consent.services import consent_expire_due

    return consent_expire_due()
