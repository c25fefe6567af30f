"""The receipt log as the tests fill it: queued, then integrated by the sequencer."""

from django.db import transaction

from ledger.log import log_integrate, log_queue
from ledger.models import LogEntry


def append(*texts: str) -> list[LogEntry]:
    """Queue each text as a leaf, in one transaction, then integrate the queue."""
    with transaction.atomic():
        entries = [log_queue(data=text) for text in texts]
    log_integrate()
    for entry in entries:
        entry.refresh_from_db(fields=["index"])
    return entries
