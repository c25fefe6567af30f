"""Celery tasks of the audit pages."""

from celery import shared_task

from audit.integrity import integrity_check


@shared_task(name="audit.integrity_check")
def integrity_check_task() -> None:
    """Check the whole receipt log, and record what was found for the audit front page."""
    integrity_check()
