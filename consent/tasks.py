"""Celery tasks of the consent app: thin, and safe to run twice."""

from celery import shared_task

from consent import services


@shared_task(name="consent.consent_expire")
def consent_expire() -> int:
    """Expire every live consent whose validity has ended."""
    return services.consent_expire_due()
