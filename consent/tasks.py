"""Celery tasks of the consent app: thin, idempotent, and given ids only."""

from celery import shared_task

from consent import notifications


@shared_task(name="consent.notification_deliver")
def notification_deliver(notification_id: str) -> None:
    """Make the next due try at delivering one notification; do nothing if none is due."""
    notifications.notification_deliver(notification_id=notification_id)


@shared_task(name="consent.notification_sweep")
def notification_sweep() -> None:
    """Re-enqueue the notifications whose delivery messages were lost."""
    notifications.notification_sweep()


@shared_task(name="consent.checkpoint_sign")
def checkpoint_sign() -> None:
    from consent.audit import checkpoint_sign as sign

    sign()


@shared_task(name="consent.consent_expire")
def consent_expire() -> int:
    from consent.services import consent_expire_due

    return consent_expire_due()
