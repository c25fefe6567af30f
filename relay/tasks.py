"""Celery tasks of the relay: thin, idempotent, and given ids only."""

from celery import shared_task

from relay import services


# acks_late with reject_on_worker_lost: a worker that dies mid-try leaves the
# message to be delivered again; the claim makes the repeat harmless.
@shared_task(name="relay.transfer_relay", acks_late=True, reject_on_worker_lost=True)
def transfer_relay(transfer_id: str) -> None:
    """Make the next due try at relaying one transfer; do nothing if none is due."""
    services.transfer_relay(transfer_id=transfer_id)


@shared_task(name="relay.transfer_sweep")
def transfer_sweep() -> None:
    """Re-enqueue the transfers whose relay messages were lost."""
    services.transfer_sweep()


@shared_task(name="relay.transfer_schedule")
def transfer_schedule() -> int:
    """Create the transfers that recurring consents are due."""
    return services.transfer_schedule_due()
