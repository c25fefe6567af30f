"""At commit, PostgreSQL checks that the receipt log's head claims only what is stored.

The head of n leaves needs exactly the entries 0 … n-1 and the perfect subtrees
that cover them, each node the hash of what it covers (common/evidence.py). An
application role that moves the head, or writes an entry or a node out of turn,
has its transaction refused when it commits, not at the statement: one append
writes nodes, the head and the entry in turn.
"""

import hashlib

import pytest
from django.db import IntegrityError, connection, transaction

from ledger import merkle
from ledger.log import log_integrate, log_queue, log_root, log_size
from tests.logs import append

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEAVES = [f"receipt {n}" for n in range(5)]


@pytest.fixture
def logged():
    """Five receipts, queued and integrated the ordinary way; the head stands at 5."""
    append(*LEAVES)
    return len(LEAVES)


def execute(sql: str, params: tuple[object, ...]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def commit(*statements: tuple[str, tuple[object, ...]]) -> None:
    with transaction.atomic():
        for sql, params in statements:
            execute(sql, params)


def commit_refused(*statements: tuple[str, tuple[object, ...]]) -> str:
    """Run the statements in one transaction; return the refusal its commit met.

    Each statement itself must pass: the check waits for the commit.
    """
    with pytest.raises(IntegrityError) as raised:
        commit(*statements)
    return str(raised.value)


def entry_insert(index: int, data: str) -> tuple[str, tuple[object, ...]]:
    digest = hashlib.sha256(data.encode()).hexdigest()
    return (
        "INSERT INTO ledger_logentry (id, index, data, sha256, created_at) "
        "VALUES (gen_random_uuid(), %s, %s, %s, now())",
        (index, data, digest),
    )


def node_insert(level: int, index: int, digest: bytes) -> tuple[str, tuple[object, ...]]:
    return ("INSERT INTO ledger_lognode (level, index, hash) VALUES (%s, %s, %s)",
            (level, index, digest))  # fmt: skip


HEAD_TO = "UPDATE ledger_loghead SET tree_size = %s"


def test_a_batch_of_many_entries_commits(logged):
    with transaction.atomic():
        for n in range(40):
            log_queue(data=f"batch {n}")
    log_integrate()

    store = merkle.DictStore()
    for size, data in enumerate([*LEAVES, *(f"batch {n}" for n in range(40))]):
        store.put_many(merkle.append(store, size=size, data=data.encode()))
    assert log_size() == logged + 40
    assert log_root() == merkle.root(store, size=logged + 40)


def test_a_head_moved_past_the_stored_leaves_is_refused_at_commit(logged):
    refusal = commit_refused((HEAD_TO, (logged + 1,)))

    assert "lacks entries" in refusal
    assert log_size() == logged


def test_a_head_that_skips_a_leaf_is_refused_at_commit(logged):
    # One leaf stored the way an append stores it, but the head claims two.
    data = "receipt 5"
    refusal = commit_refused(
        node_insert(0, logged, merkle.leaf_hash(data.encode())),
        entry_insert(logged, data),
        (HEAD_TO, (logged + 2,)),
    )

    assert "refused" in refusal
    assert log_size() == logged


def test_an_entry_beyond_the_head_is_refused_at_commit(logged):
    data = "planted"

    refusal = commit_refused(
        node_insert(0, logged + 3, merkle.leaf_hash(data.encode())), entry_insert(logged + 3, data)
    )

    assert "beyond the log's head" in refusal


def test_a_leaf_that_is_not_the_hash_of_its_entry_is_refused_at_commit(logged):
    refusal = commit_refused(
        node_insert(0, logged, merkle.leaf_hash(b"something else")),
        entry_insert(logged, "receipt 5"),
        (HEAD_TO, (logged + 1,)),
    )

    assert "does not hash to its leaf" in refusal


def test_an_inner_node_that_is_not_the_hash_of_its_children_is_refused_at_commit(logged):
    # Leaf 5 completes the subtree (1, 2) over leaves 4 and 5: write a wrong hash there.
    data = "receipt 5"

    refusal = commit_refused(
        node_insert(0, logged, merkle.leaf_hash(data.encode())),
        node_insert(1, logged // 2, bytes(32)),
        entry_insert(logged, data),
        (HEAD_TO, (logged + 1,)),
    )

    assert "not the hash of its children" in refusal


def test_a_leaf_stored_as_an_append_stores_it_commits(logged):
    data = "receipt 5"
    store = merkle.DictStore()
    for size, leaf in enumerate(LEAVES):
        store.put_many(merkle.append(store, size=size, data=leaf.encode()))
    nodes = merkle.append(store, size=logged, data=data.encode())

    commit(
        *(node_insert(level, index, digest) for (level, index), digest in nodes.items()),
        entry_insert(logged, data),
        (HEAD_TO, (logged + 1,)),
    )

    assert log_size() == logged + 1


def queued_insert(data: str) -> tuple[str, tuple[object, ...]]:
    """An entry without an index, as a receipt is written before the sequencer sees it."""
    return (
        "INSERT INTO ledger_logentry (id, index, data, sha256, created_at) "
        "VALUES (%s, NULL, %s, %s, now())",
        (str(ENTRY_ID), data, hashlib.sha256(data.encode()).hexdigest()),
    )


ENTRY_ID = "00000000-0000-4000-8000-000000000001"
QUEUE_IT = ("INSERT INTO ledger_logqueue (entry_id) VALUES (%s)", (ENTRY_ID,))


def test_an_entry_left_out_of_the_sequencers_queue_is_refused_at_commit(logged):
    refusal = commit_refused(queued_insert("forgotten"))

    assert "unqueued" in refusal


def test_a_queued_entry_commits_and_the_sequencer_integrates_it(logged):
    commit(queued_insert("waiting"), QUEUE_IT)

    assert log_integrate() == 1
    assert log_size() == logged + 1


def test_a_queued_entry_given_an_index_by_hand_without_its_leaf_is_refused(logged):
    commit(queued_insert("waiting"), QUEUE_IT)

    refusal = commit_refused(
        ("UPDATE ledger_logentry SET index = %s WHERE id = %s", (logged, ENTRY_ID)),
        (HEAD_TO, (logged + 1,)),
    )

    assert "refused" in refusal
    assert log_size() == logged


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE ledger_logentry SET data = 'edited' WHERE id = %s",
        "UPDATE ledger_logentry SET index = 99 WHERE id = %s AND index IS NULL "
        "OR id = (SELECT id FROM ledger_logentry WHERE index = 0)",
        "DELETE FROM ledger_logentry WHERE id = %s",
    ],
)
def test_an_entry_is_never_edited_moved_or_deleted(logged, change):
    commit(queued_insert("waiting"), QUEUE_IT)

    with pytest.raises(IntegrityError) as raised:
        execute(change, (ENTRY_ID,))

    assert "refused" in str(raised.value)


def test_a_waiting_entry_taken_out_of_the_queue_is_refused_at_commit(logged):
    """Else the receipt would never reach the tree: lost, with its request's effects kept."""
    commit(queued_insert("waiting"), QUEUE_IT)

    refusal = commit_refused(("DELETE FROM ledger_logqueue WHERE entry_id = %s", (ENTRY_ID,)))

    assert "refused" in refusal
    assert log_integrate() == 1
    assert log_size() == logged + 1


def test_an_integrated_entry_queued_again_is_refused_at_commit(logged):
    """Else the sequencer would give it a second index, or stop at it for good."""
    commit(queued_insert("waiting"), QUEUE_IT)
    log_integrate()

    refusal = commit_refused(QUEUE_IT)

    assert "refused" in refusal
    assert log_integrate() == 0  # the sequencer goes on
