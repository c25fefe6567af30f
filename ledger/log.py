"""The receipt log: an RFC 6962 Merkle tree kept in LogNode rows, sized by LogHead.

Each leaf is a LogEntry: opaque text (a compact JWS) that the log hashes and
proves things about, without reading it. A request writes its entry with the
evidence it stands for and queues it (`log_queue`); no request waits for
another. The sequencer (`log_integrate`, run by the scheduler) integrates queued
entries into the tree in batches, in queue order, one transaction a batch, and
holds the head row's lock only while it does: two sequencers never interleave.
Reads take no lock, because the nodes of any size up to a committed head are
written and never change.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from uuid import UUID, uuid4

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, ExpressionWrapper, F, Q, QuerySet

from ledger import merkle
from ledger.merkle import Position, TreeRangeError
from ledger.models import LogEntry, LogHead, LogNode, LogQueue


class DbNodeStore:
    """A merkle.NodeStore over LogNode rows: one query to read, one to write."""

    def get_many(self, positions: Iterable[Position]) -> dict[Position, bytes]:
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, index in positions:
            by_level[level].append(index)
        if not by_level:
            return {}
        # A proof's ~2 log2(n) nodes in one plain statement: the ORM took several times
        # longer to build it than the database took to answer. One condition per level
        # (about log2(n) of them), each a range of the (level, index) unique index.
        where = " OR ".join(
            f'(level = %s AND "index" IN ({", ".join(["%s"] * len(indexes))}))'
            for indexes in by_level.values()
        )
        params = [number for level, indexes in by_level.items() for number in (level, *indexes)]
        sql = 'SELECT level, "index", hash FROM ledger_lognode WHERE ' + where  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        # PostgreSQL hands binary columns back as memoryview.
        return {(level, index): bytes(digest) for level, index, digest in rows}

    def put_many(self, nodes: Mapping[Position, bytes]) -> None:
        LogNode.objects.bulk_create(
            LogNode(level=level, index=index, hash=digest)
            for (level, index), digest in nodes.items()
        )


class _BatchStore:
    """The stored tree plus a batch's new nodes, read from memory once fetched.

    Appending leaf `size` reads only left siblings, which are either new in this
    batch or the perfect subtrees of the tree as it stood (its frontier): those
    are fetched in one query up front.
    """

    def __init__(self, stored: DbNodeStore, *, size: int) -> None:
        frontier = [(level, (size >> level) - 1) for level in range(size.bit_length())]
        self.nodes = stored.get_many(p for p in frontier if p[1] >= 0 and size >> p[0] & 1)
        self.new: dict[Position, bytes] = {}

    def get_many(self, positions: Iterable[Position]) -> dict[Position, bytes]:
        return {p: self.nodes[p] for p in positions if p in self.nodes}

    def put_many(self, nodes: Mapping[Position, bytes]) -> None:
        self.nodes.update(nodes)
        self.new.update(nodes)


def log_queue(*, data: str, entry_id: UUID | None = None) -> LogEntry:
    """Write a leaf for the sequencer to integrate; return its entry (index None until then).

    Must run inside the caller's `transaction.atomic`, the one that writes what
    the leaf is evidence of: both commit or vanish together. It takes no lock.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("log_queue must run inside transaction.atomic")
    entry = LogEntry.objects.create(
        id=entry_id or uuid4(), data=data, sha256=hashlib.sha256(data.encode()).hexdigest()
    )
    LogQueue.objects.create(entry=entry)
    return entry


def log_integrate(*, batch: int | None = None) -> int | None:
    """Integrate queued entries into the tree, a batch per transaction, until none wait.

    Return how many were integrated, or None if another sequencer holds the log
    (it integrates them instead). A run killed mid-batch integrates nothing of
    that batch: the next run takes the same entries, in the same order.
    """
    limit = batch or settings.OMADATA_LOG_BATCH
    total = 0
    while True:
        done = _integrate_batch(limit)
        if done is None:
            return None if total == 0 else total
        total += done
        if done < limit:  # the queue ran dry: what arrives now waits for the next run
            return total


def _integrate_batch(limit: int) -> int | None:
    with transaction.atomic():
        # SKIP LOCKED: a second sequencer returns at once instead of queueing behind
        # the first, so many workers may run the task and one integrates. (SQLite
        # serialises write transactions itself and ignores the clause.)
        head = LogHead.objects.select_for_update(skip_locked=True).filter(id=1).first()
        if head is None:
            if LogHead.objects.filter(id=1).exists():
                return None
            head, _created = LogHead.objects.select_for_update().get_or_create(id=1)
        # An entry already in the tree is never integrated again: a queue row naming one
        # (PostgreSQL refuses it, SQLite cannot) stays, and the integrity check names it.
        queued = list(
            LogQueue.objects.select_related("entry")
            .filter(entry__index__isnull=True)
            .only("id", "entry__id", "entry__data")
            .order_by("id")[:limit]
        )
        if not queued:
            return 0
        size = head.tree_size
        store = _BatchStore(DbNodeStore(), size=size)
        entries = [item.entry for item in queued]
        for offset, entry in enumerate(entries):
            store.put_many(merkle.append(store, size=size + offset, data=entry.data.encode()))
        DbNodeStore().put_many(store.new)
        ids = [item.id for item in queued]
        _index_entries(ids, start=size)
        LogHead.objects.filter(id=head.id).update(tree_size=size + len(entries))
        LogQueue.objects.filter(id__in=ids).delete()
        return len(entries)


def _index_entries(queue_ids: list[int], *, start: int) -> None:
    """Give the queued entries `queue_ids` the indexes start, start + 1 … in queue order.

    One statement for the whole batch (the ORM's bulk_update splits it into many
    on SQLite); its parameters are the batch's queue ids and the start.
    """
    places = ", ".join(["%s"] * len(queue_ids))
    sql = (
        'UPDATE ledger_logentry SET "index" = %s + queued.position FROM ('  # noqa: S608 (placeholders only)
        "SELECT entry_id, row_number() OVER (ORDER BY id) - 1 AS position "
        f"FROM ledger_logqueue WHERE id IN ({places})"
        ") AS queued WHERE ledger_logentry.id = queued.entry_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, *queue_ids])


def log_pending() -> int:
    """How many entries wait for the sequencer."""
    return LogQueue.objects.count()


def log_size() -> int:
    """The number of leaves in the log as last committed."""
    return LogHead.objects.filter(id=1).values_list("tree_size", flat=True).first() or 0


def log_root(*, size: int | None = None) -> bytes:
    """The root hash of the log at `size` leaves (default: now). Requires 0 <= size <= now."""
    if size is None:
        size = log_size()
    _check_size(size)
    return merkle.root(DbNodeStore(), size=size)


def log_inclusion_proof(*, index: int, size: int) -> list[bytes]:
    """The RFC 6962 inclusion proof of leaf `index` in the log at `size` leaves.

    Requires 0 <= index < size <= now; raises TreeRangeError otherwise.
    """
    _check_size(size)
    return merkle.inclusion_proof(DbNodeStore(), index=index, size=size)


def log_proof_store(*, entries: QuerySet[LogEntry], size: int) -> merkle.DictStore:
    """Every node that the inclusion proofs of `entries` in the log at `size` leaves need,
    read in one query however many entries there are: a store for merkle.inclusion_proof.

    A leaf's proof is made of, at each level, the sibling of its path node (a perfect
    subtree) or tiles of the tree's right edge, which are the perfect subtrees that
    the size's binary digits name. So the query asks, level by level, for both
    children of each entry's ancestor one level up, and for the right edge.
    Requires 0 <= size <= now.
    """
    _check_size(size)
    within = entries.filter(index__isnull=False, index__lt=size)
    wanted = Q()
    for level in range(max(size - 1, 1).bit_length()):
        parent = ExpressionWrapper(
            F("index") / (1 << (level + 1)) * 2, output_field=BigIntegerField()
        )
        for child in (0, 1):
            children = within.annotate(child=parent + child).values("child")
            wanted |= Q(level=level, index__in=children)
    for level in range(size.bit_length()):
        if size >> level & 1:
            wanted |= Q(level=level, index=(size >> level) - 1)
    store = merkle.DictStore()
    if size:
        nodes = LogNode.objects.filter(wanted).values_list("level", "index", "hash")
        store.nodes = {(level, index): bytes(digest) for level, index, digest in nodes}
    return store


def log_consistency_proof(*, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 6962 proof that the log at `new_size` extends the log at `old_size`.

    Requires 0 < old_size <= new_size <= now; raises TreeRangeError otherwise.
    """
    _check_size(new_size)
    return merkle.consistency_proof(DbNodeStore(), old_size=old_size, new_size=new_size)


def log_range_proof(*, start: int, end: int, size: int) -> list[bytes]:
    """The proof that the leaves [start, end) are in the log at `size` leaves (merkle.range_proof).

    Requires 0 <= start < end <= size <= now; raises TreeRangeError otherwise.
    """
    _check_size(size)
    return merkle.range_proof(DbNodeStore(), start=start, end=end, size=size)


def _check_size(size: int) -> None:
    current = log_size()
    if not 0 <= size <= current:
        raise TreeRangeError(f"the log has {current} leaves, so it has no tree of {size}")
