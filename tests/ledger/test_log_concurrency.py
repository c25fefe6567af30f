"""Racing writers and racing sequencers, which only a real database server serialises."""

import threading
from uuid import UUID

import pytest
from django.db import connection, transaction

from ledger import merkle
from ledger.log import log_integrate, log_queue, log_root
from ledger.models import LogEntry, LogHead

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS, APPENDS, SEQUENCERS = 6, 5, 3


def test_racing_writers_and_sequencers_give_each_entry_one_index_in_one_tree():
    assert not LogHead.objects.exists()  # the first runs also race to create the head
    barrier = threading.Barrier(WRITERS + SEQUENCERS)
    writing = threading.Event()
    queued: dict[int, list[str]] = {}
    failures = []

    def write(writer: int) -> None:
        barrier.wait()
        try:
            for n in range(APPENDS):
                with transaction.atomic():
                    entry = log_queue(data=f"writer {writer} receipt {n}")
                queued.setdefault(writer, []).append(str(entry.id))
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            failures.append(error)
        finally:
            connection.close()

    def sequence() -> None:
        barrier.wait()
        try:
            while not writing.is_set():
                log_integrate(batch=4)
        except Exception as error:
            failures.append(error)
        finally:
            connection.close()

    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    sequencers = [threading.Thread(target=sequence) for _ in range(SEQUENCERS)]
    for thread in writers + sequencers:
        thread.start()
    for thread in writers:
        thread.join(timeout=30)
    writing.set()
    for thread in sequencers:
        thread.join(timeout=30)
    log_integrate()

    assert failures == []
    index_of = dict(LogEntry.objects.values_list("id", "index"))
    assert sorted(index_of.values()) == list(range(WRITERS * APPENDS))
    for ids in queued.values():  # each writer's entries reach the log in the order it queued them
        indexes = [index_of[UUID(entry_id)] for entry_id in ids]
        assert indexes == sorted(indexes)
    memory = merkle.DictStore()
    for index, data in LogEntry.objects.order_by("index").values_list("index", "data"):
        memory.put_many(merkle.append(memory, size=index, data=data.encode()))
    assert log_root() == merkle.root(memory, size=WRITERS * APPENDS)
