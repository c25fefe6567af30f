"""The receipt log: an RFC 6962 Merkle tree kept in LogNode rows, sized by LogHead.

Each leaf is a LogEntry: opaque text (a compact JWS) that the log hashes and
proves things about, without reading it. Appends take the head row's lock, so
they serialise across processes; reads take no lock, because the nodes of any
size up to a committed head are written and never change.
"""

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import reduce
from operator import or_
from uuid import UUID, uuid4

from django.db import transaction
from django.db.models import Q

from ledger import merkle
from ledger.merkle import Position, TreeRangeError
from ledger.models import LogEntry, LogHead, LogNode


class DbNodeStore:
    """A merkle.NodeStore over LogNode rows: one query to read, one to write."""

    def get_many(self, positions: Iterable[Position]) -> dict[Position, bytes]:
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, index in positions:
            by_level[level].append(index)
        if not by_level:
            return {}
        # One condition per level (about log2(n) of them) keeps the query short and
        # lets each use the (level, index) unique index.
        where = reduce(or_, (Q(level=lv, index__in=ix) for lv, ix in by_level.items()))
        rows = LogNode.objects.filter(where).values_list("level", "index", "hash")
        # PostgreSQL hands binary columns back as memoryview.
        return {(level, index): bytes(digest) for level, index, digest in rows}

    def put_many(self, nodes: Mapping[Position, bytes]) -> None:
        LogNode.objects.bulk_create(
            LogNode(level=level, index=index, hash=digest)
            for (level, index), digest in nodes.items()
        )


def log_append(*, data: str | Callable[[int], str], entry_id: UUID | None = None) -> LogEntry:
    """Add a leaf at the log's next index; return its entry (with `entry_id`, if given).

    `data` is the leaf's text, or a function that makes it from its index: a
    receipt states its place in the log, so it is signed under the head's lock,
    once its index is certain. Must run inside the caller's `transaction.atomic`,
    the one that writes what the leaf is evidence of: both commit or vanish
    together. The head row stays locked until that transaction ends, so keep it
    short after this call.
    """
    if not transaction.get_connection().in_atomic_block:
        # SQLite ignores select_for_update, so Django would not catch this there.
        raise transaction.TransactionManagementError(
            "log_append must run inside transaction.atomic"
        )
    # get_or_create on a locking queryset is safe for the very first append too: of
    # two racing inserts of the head one fails, and its retry waits for the lock.
    head, _created = LogHead.objects.select_for_update().get_or_create(id=1)
    index = head.tree_size
    leaf = data(index) if callable(data) else data
    encoded = leaf.encode()
    store = DbNodeStore()
    store.put_many(merkle.append(store, size=index, data=encoded))
    LogHead.objects.filter(id=head.id).update(tree_size=index + 1)
    return LogEntry.objects.create(
        id=entry_id or uuid4(), index=index, data=leaf,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )  # fmt: skip


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
