"""Racing appends, which only a real database server serialises by its row lock."""

import threading

import pytest
from django.db import connection, transaction

from ledger import merkle
from ledger.log import log_append, log_root
from ledger.models import LogHead

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS, APPENDS = 6, 5


def test_racing_appends_from_an_empty_log_get_distinct_indexes_and_one_tree():
    assert not LogHead.objects.exists()  # the first appends also race to create the head
    barrier = threading.Barrier(WRITERS)
    logged: dict[int, bytes] = {}
    failures = []

    def write(writer: int) -> None:
        barrier.wait()
        try:
            for n in range(APPENDS):
                data = f"writer {writer} receipt {n}".encode()
                with transaction.atomic():
                    logged[log_append(data=data.decode()).index] = data
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(logged) == list(range(WRITERS * APPENDS))
    memory = merkle.DictStore()
    for index in range(WRITERS * APPENDS):
        memory.put_many(merkle.append(memory, size=index, data=logged[index]))
    assert log_root() == merkle.root(memory, size=WRITERS * APPENDS)
