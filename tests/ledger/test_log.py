"""The receipt log in the database: appends, roots, proofs and their limits."""

import pytest
from django.db import transaction

from ledger import merkle
from ledger.log import (
    log_consistency_proof,
    log_inclusion_proof,
    log_integrate,
    log_pending,
    log_queue,
    log_root,
    log_size,
)
from ledger.merkle import TreeRangeError
from ledger.models import LogEntry, LogHead, LogNode, LogQueue
from tests.logs import append
from tests.tampering import evidence_unguarded

pytestmark = pytest.mark.django_db

LEAVES = [f"receipt {n}".encode() for n in range(13)]


@pytest.fixture
def memory():
    """The same leaves in an in-memory tree, to compare with."""
    store = merkle.DictStore()
    for size, data in enumerate(LEAVES):
        store.put_many(merkle.append(store, size=size, data=data))
    return store


@pytest.fixture
def logged():
    return [entry.index for entry in append(*(data.decode() for data in LEAVES))]


def test_appends_get_consecutive_indexes(logged):
    assert logged == list(range(len(LEAVES)))
    assert log_size() == len(LEAVES)


def test_a_queued_entry_has_no_index_until_the_sequencer_integrates_it(logged):
    with transaction.atomic():
        entry = log_queue(data="waiting")

    assert entry.index is None
    assert log_pending() == 1
    assert log_size() == len(LEAVES)

    assert log_integrate() == 1

    entry.refresh_from_db()
    assert entry.index == len(LEAVES)
    assert log_size() == len(LEAVES) + 1
    assert log_pending() == 0


def test_the_sequencer_integrates_in_queue_order_across_batches(memory):
    with transaction.atomic():
        entries = [log_queue(data=data.decode()) for data in LEAVES]

    assert log_integrate(batch=5) == len(LEAVES)

    indexes = [LogEntry.objects.get(pk=entry.pk).index for entry in entries]
    assert indexes == list(range(len(LEAVES)))
    assert log_root() == merkle.root(memory, size=len(LEAVES))


def test_integrating_an_empty_queue_changes_nothing(logged):
    root = log_root()

    assert log_integrate() == 0
    assert log_size() == len(LEAVES)
    assert log_root() == root


def test_log_stores_the_nodes_of_the_in_memory_tree(logged, memory):
    rows = LogNode.objects.values_list("level", "index", "hash")

    assert {(level, index): bytes(digest) for level, index, digest in rows} == memory.nodes


def test_root_of_every_size_matches_the_in_memory_tree(logged, memory):
    for size in range(len(LEAVES) + 1):
        assert log_root(size=size) == merkle.root(memory, size=size)


def test_root_defaults_to_the_current_size(logged, memory):
    assert log_root() == merkle.root(memory, size=len(LEAVES))


def test_empty_log_has_the_empty_root():
    assert log_size() == 0
    assert log_root() == merkle.EMPTY_ROOT


def test_inclusion_proofs_verify(logged):
    for size in range(1, len(LEAVES) + 1):
        root = log_root(size=size)
        for index in range(size):
            merkle.verify_inclusion(
                leaf_hash=merkle.leaf_hash(LEAVES[index]), index=index, size=size,
                proof=log_inclusion_proof(index=index, size=size), root=root,
            )  # fmt: skip


def test_consistency_proofs_verify(logged):
    for new in range(1, len(LEAVES) + 1):
        for old in range(1, new + 1):
            merkle.verify_consistency(
                old_size=old, new_size=new, old_root=log_root(size=old),
                new_root=log_root(size=new),
                proof=log_consistency_proof(old_size=old, new_size=new),
            )  # fmt: skip


def test_a_proof_reads_the_head_and_then_its_nodes_in_one_query(logged, django_assert_num_queries):
    with django_assert_num_queries(2):
        log_inclusion_proof(index=5, size=11)
    with django_assert_num_queries(2):
        log_consistency_proof(old_size=5, new_size=11)


def test_queueing_takes_two_queries_and_no_lock(django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(2):
        log_queue(data="first")


# Up to a hundred: past about 160 entries SQLite's bound on parameters splits the
# nodes' insert in two (PostgreSQL's takes thousands).
@pytest.mark.parametrize("count", [1, 3, 100])
def test_a_batch_takes_the_same_queries_for_one_entry_as_for_a_hundred(
    logged, count, django_assert_num_queries
):
    with transaction.atomic():
        for n in range(count):
            log_queue(data=f"queued {n}")

    # Lock the head, read the queue, read the frontier, write the nodes, index the
    # entries, move the head, empty the queue (and the test's savepoint around them).
    with django_assert_num_queries(9):
        assert log_integrate() == count


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        (log_root, {"size": len(LEAVES) + 1}),
        (log_root, {"size": -1}),
        (log_inclusion_proof, {"index": 0, "size": len(LEAVES) + 1}),
        (log_inclusion_proof, {"index": 4, "size": 4}),
        (log_inclusion_proof, {"index": -1, "size": 4}),
        (log_inclusion_proof, {"index": 0, "size": -1}),
        (log_consistency_proof, {"old_size": 3, "new_size": len(LEAVES) + 1}),
        (log_consistency_proof, {"old_size": 5, "new_size": 4}),
        (log_consistency_proof, {"old_size": 0, "new_size": 4}),
        (log_consistency_proof, {"old_size": -1, "new_size": 4}),
    ],
)
def test_out_of_range_arguments_raise_a_value_error(logged, operation, arguments):
    with pytest.raises(TreeRangeError) as raised:
        operation(**arguments)

    assert isinstance(raised.value, ValueError)


def test_a_rolled_back_queueing_leaves_no_entry_and_nothing_to_integrate(logged):
    nodes = LogNode.objects.count()
    root = log_root()

    def queue_then_fail():
        with transaction.atomic():
            log_queue(data="never committed")
            raise RuntimeError("the receipt could not be written")

    with pytest.raises(RuntimeError):
        queue_then_fail()

    assert log_integrate() == 0
    assert log_size() == len(LEAVES)
    assert LogNode.objects.count() == nodes
    assert LogEntry.objects.count() == len(LEAVES)
    assert not LogQueue.objects.exists()
    assert log_root() == root
    assert append("next")[0].index == len(LEAVES)


def test_the_first_integration_creates_the_head():
    assert not LogHead.objects.exists()

    append("first")

    assert LogHead.objects.get().tree_size == 1


@pytest.mark.django_db(transaction=True)
def test_queueing_outside_a_transaction_is_refused():
    with pytest.raises(transaction.TransactionManagementError):
        log_queue(data="loose")

    assert not LogEntry.objects.exists()


def test_an_integrated_entry_queued_again_by_hand_keeps_its_one_index(logged, memory):
    """PostgreSQL refuses the queue row at commit (test_log_stored.py); SQLite has no
    triggers, and the sequencer must not give the entry a second index anyway."""
    entry = LogEntry.objects.get(index=3)
    with evidence_unguarded():
        LogQueue.objects.create(entry=entry)

    log_integrate()

    entry.refresh_from_db()
    assert entry.index == 3
    assert log_size() == len(LEAVES)
    assert log_root() == merkle.root(memory, size=len(LEAVES))
