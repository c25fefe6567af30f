"""Celery tasks of the ledger: thin, and safe to run twice."""

from celery import shared_task

from ledger import checkpoints


@shared_task(name="ledger.checkpoint_sign")
def checkpoint_sign() -> None:
    """Sign a checkpoint of the log, if it has grown since the last one."""
    checkpoints.checkpoint_sign()
