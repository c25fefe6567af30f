"""Celery tasks of the ledger: thin, and safe to run twice."""

from celery import shared_task

from ledger import checkpoints
from ledger.log import log_integrate as _log_integrate


@shared_task(name="ledger.checkpoint_sign")
def checkpoint_sign() -> None:
    """Sign a checkpoint of the log, if it has grown since the last one."""
    checkpoints.checkpoint_sign()


@shared_task(name="ledger.log_integrate")
def log_integrate() -> None:
    """Integrate the receipts waiting in the log's queue (one sequencer at a time)."""
    _log_integrate()
