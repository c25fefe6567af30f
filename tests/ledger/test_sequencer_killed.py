"""A sequencer killed halfway through a batch leaves the log as it was, and the next one
integrates the same receipts in the same order."""

import os
import signal
import subprocess
import sys

import pytest
from django.db import transaction

from ledger import merkle
from ledger.integrity import log_check
from ledger.log import log_integrate, log_pending, log_queue, log_root, log_size
from ledger.models import LogEntry, LogNode
from tests.logs import append
from tests.workers import worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)

# The sequencer in a process of its own, stopped (not mocked) once it has written the
# batch's nodes and indexed its entries, with the head not yet moved and nothing committed.
SEQUENCER = """
import sys, time
import django
django.setup()
from ledger import log
index_entries = log._index_entries
def index_then_stall(ids, *, start):
    index_entries(ids, start=start)
    print("mid-batch", flush=True)
    time.sleep(120)
log._index_entries = index_then_stall
log.log_integrate()
"""


def test_a_sequencer_killed_mid_batch_leaves_the_log_consistent():
    before = append("first", "second", "third")
    with transaction.atomic():
        queued = [log_queue(data=f"queued {n}") for n in range(20)]
    nodes = LogNode.objects.count()

    sequencer = subprocess.Popen(
        [sys.executable, "-c", SEQUENCER],
        env={**os.environ, "DATABASE_URL": worker_database_url()},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sequencer.stdout is not None
        assert sequencer.stdout.readline().strip() == "mid-batch"
    finally:
        sequencer.send_signal(signal.SIGKILL)
        sequencer.wait(timeout=30)

    assert sequencer.returncode == -signal.SIGKILL
    assert log_size() == len(before)
    assert log_pending() == len(queued)
    assert LogNode.objects.count() == nodes
    assert not LogEntry.objects.filter(pk__in=[e.pk for e in queued], index__isnull=False)

    assert log_integrate() == len(queued)

    indexes = [LogEntry.objects.get(pk=entry.pk).index for entry in queued]
    assert indexes == list(range(len(before), len(before) + len(queued)))
    size, problems = log_check()
    assert (size, problems) == (len(before) + len(queued), [])
    memory = merkle.DictStore()
    for index, data in LogEntry.objects.order_by("index").values_list("index", "data"):
        memory.put_many(merkle.append(memory, size=index, data=data.encode()))
    assert log_root() == merkle.root(memory, size=size)
