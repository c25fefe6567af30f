"""Celery tasks of the webhook outbox: thin, idempotent, and given ids only."""

from celery import shared_task

from webhooks import services


# acks_late with reject_on_worker_lost: a worker that dies mid-try leaves the
# message to be delivered again; the claim makes the repeat harmless.
@shared_task(name="webhooks.notification_deliver", acks_late=True, reject_on_worker_lost=True)
def notification_deliver(notification_id: str) -> None:
    """Make the next due try at delivering one notification; do nothing if none is due."""
    services.notification_deliver(notification_id=notification_id)


@shared_task(name="webhooks.notification_sweep")
def notification_sweep() -> None:
    """Re-enqueue the notifications whose delivery messages were lost."""
    services.notification_sweep()
