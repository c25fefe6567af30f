"""A check of the whole receipt log against itself, record by record.

Proofs show a client that one receipt is in one tree; this reads everything
the log stores and recomputes it: every leaf's hash from its text, every
stored node from the leaves, every checkpoint's root from the nodes, and every
checkpoint's signature against the key history. A change made behind the
operator's code (an edited, deleted or reordered leaf, a node or checkpoint
written by hand, a key removed from the history) shows as a Problem naming
the record. It reads leaves once, in index order and in batches, and holds
one hash per leaf and per node: about 100 MB for a million receipts.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from jwcrypto import jwk

from ledger import jws
from ledger.checkpoints import CHECKPOINT_TYP, b64
from ledger.log import log_size
from ledger.merkle import leaf_hash, node_hash
from ledger.models import Checkpoint, LogEntry, LogNode, LogQueue, SigningKey

BATCH = 5000
# A clock read on two machines: a key recorded a moment after the checkpoint
# it signed is not a forgery.
CLOCK_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class Problem:
    record: str  # "leaf 12", "node 2/3", "checkpoint 40", "log head", "key <kid>"
    reason: str


def log_check() -> tuple[int, list[Problem]]:
    """Check the whole log; return its size and every problem found (none: intact)."""
    size = log_size()
    problems: list[Problem] = []
    leaves = _leaves(size, problems)
    levels = _levels(leaves)
    problems += _stored_nodes(levels, size)
    problems += _checkpoints(levels, size)
    problems += _queue()
    return size, problems


def _queue() -> list[Problem]:
    """Entries waiting for the sequencer: each must be in its queue, and none overdue."""
    problems = []
    stray = LogEntry.objects.filter(index__isnull=True, queued__isnull=True)
    for entry_id in stray.values_list("id", flat=True)[:BATCH]:
        problems.append(Problem(f"entry {entry_id}", "has no index and is not queued"))
    overdue = timezone.now() - timedelta(seconds=settings.OMADATA_LOG_MERGE_DELAY) - CLOCK_SLACK
    late = LogQueue.objects.filter(entry__created_at__lt=overdue).count()
    if late:
        problems.append(
            Problem("log queue", f"{late} receipts have waited longer than the merge delay")
        )
    return problems


def log_leaves(*, start: int = 0, end: int | None = None) -> Iterator[LogEntry]:
    """The log's entries in index order, read in batches (for checks built on this one)."""
    last = start - 1
    while True:
        query = LogEntry.objects.filter(index__gt=last).order_by("index")
        if end is not None:
            query = query.filter(index__lt=end)
        batch = list(query.only("id", "index", "data", "sha256", "created_at")[:BATCH])
        if not batch:
            return
        yield from batch
        last = _index(batch[-1])


def _index(entry: LogEntry) -> int:
    """The index of an entry read from the tree (queued entries are never read there)."""
    return cast(int, entry.index)


def _leaves(size: int, problems: list[Problem]) -> list[bytes]:
    """Each leaf's hash from its text; problems for gaps, strays and altered digests."""
    hashes: list[bytes] = []
    expected = 0
    for entry in log_leaves():
        index = _index(entry)
        if index >= size:
            problems.append(Problem(f"leaf {index}", "lies beyond the log's head"))
            continue
        for missing in range(expected, index):
            problems.append(Problem(f"leaf {missing}", "is missing"))
            hashes.append(b"")
        text = entry.data.encode()
        if hashlib.sha256(text).hexdigest() != entry.sha256:
            problems.append(Problem(f"leaf {index}", "its text does not match its digest"))
        hashes.append(leaf_hash(text))
        expected = index + 1
    for missing in range(expected, size):
        problems.append(Problem(f"leaf {missing}", "is missing"))
        hashes.append(b"")
    return hashes


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every perfect subtree's hash, level by level, from the leaf hashes."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def _stored_nodes(levels: list[list[bytes]], size: int) -> list[Problem]:
    """Compare the stored nodes with the recomputed ones: a stored node is never altered."""
    problems = []
    seen: set[tuple[int, int]] = set()
    rows = LogNode.objects.order_by("level", "index").values_list("level", "index", "hash")
    for level, index, digest in rows.iterator(chunk_size=BATCH):
        seen.add((level, index))
        record = f"node {level}/{index}"
        if level >= len(levels) or index >= len(levels[level]):
            problems.append(Problem(record, "covers leaves beyond the log's head"))
        elif bytes(digest) != levels[level][index]:
            problems.append(Problem(record, "does not match the leaves below it"))
    for level, hashes in enumerate(levels):
        for index in range(len(hashes)):
            if (level, index) not in seen:
                problems.append(Problem(f"node {level}/{index}", "is missing"))
    return problems


def root_at(levels: list[list[bytes]], size: int) -> bytes:
    """The RFC 6962 root of the first `size` leaves, from the perfect subtrees."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    subtrees = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            subtrees.append(levels[level][start >> level])
            start += 1 << level
    root = subtrees[-1]
    for left in reversed(subtrees[:-1]):
        root = node_hash(left, root)
    return root


@dataclass(frozen=True)
class KeyHistory:
    """Every key the operator has signed with, and when each was in use."""

    trusted: dict[str, jwk.JWK]
    periods: dict[str, tuple[datetime, datetime | None]]

    def in_use(self, kid: str, timestamp: object) -> bool:
        """Whether key `kid` signed at Unix time `timestamp` (a whole number of seconds)
        while it was in use, give or take CLOCK_SLACK. No time, or none the calendar can
        hold, is never in use."""
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            return False
        try:
            signed = datetime.fromtimestamp(timestamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return False
        began, ended = self.periods[kid]
        return began <= signed + CLOCK_SLACK and (ended is None or signed <= ended + CLOCK_SLACK)


def key_history() -> KeyHistory:
    """The key history, read in one query: retired keys too, for what they signed."""
    rows = list(SigningKey.objects.all())
    return KeyHistory(
        trusted={key.kid: jwk.JWK(**key.public_jwk) for key in rows},
        periods={key.kid: (key.created_at, key.retired_at) for key in rows},
    )


def checkpoint_check(
    checkpoint: Checkpoint, *, history: KeyHistory
) -> tuple[dict[str, Any] | None, list[str]]:
    """The checkpoint's signed statement, and every reason not to trust it (none: verified).

    Its signature must verify with a key of the history (alg and typ pinned), that key
    must have been in use at the checkpoint's timestamp, and the row must hold the size
    and root it signs. The statement is None when the signature does not verify.
    """
    try:
        payload = jws.verify(checkpoint.jws, typ=CHECKPOINT_TYP, trusted=history.trusted)
    except jws.JWSError as error:
        return None, [f"its signature does not verify: {error.message}"]
    reasons = []
    kid = jws.header_of(checkpoint.jws)["kid"]
    if not history.in_use(kid, payload.get("timestamp")):
        reasons.append(f"signed by key {kid} when it was not in use")
    try:
        stored_root = b64(bytes.fromhex(checkpoint.root))
    except ValueError:  # a row written by hand need not even hold hex
        stored_root = None
    if payload.get("tree_size") != checkpoint.tree_size or payload.get("root") != stored_root:
        reasons.append("its stored size or root differs from what it signs")
    return payload, reasons


def _checkpoints(levels: list[list[bytes]], size: int) -> list[Problem]:
    """Each checkpoint: signed by a key in use then, its root the log's at its size, and no
    checkpoint smaller than one signed before it (by the time it signs, not its row's)."""
    problems = []
    history = key_history()
    signed = []
    for checkpoint in Checkpoint.objects.order_by("tree_size", "id"):
        record = f"checkpoint {checkpoint.tree_size}"
        payload, reasons = checkpoint_check(checkpoint, history=history)
        problems += [Problem(record, reason) for reason in reasons]
        if payload is not None:
            signed.append((record, payload))
    largest = 0
    for record, payload in sorted(signed, key=lambda item: _signed_at(item[1])):
        claimed = payload.get("tree_size")
        if not isinstance(claimed, int) or claimed > size:
            problems.append(Problem(record, "claims more leaves than the log holds"))
        elif b64(root_at(levels, claimed)) != payload.get("root"):
            problems.append(Problem(record, "its root is not the log's at its size"))
        if isinstance(claimed, int):
            if claimed < largest:
                problems.append(
                    Problem(record, f"is smaller than checkpoint {largest}, signed before it")
                )
            largest = max(largest, claimed)
    return problems


def _signed_at(payload: dict[str, Any]) -> tuple[int, int]:
    timestamp, size = payload.get("timestamp"), payload.get("tree_size")
    return (
        timestamp if isinstance(timestamp, int) else 0,
        size if isinstance(size, int) else 0,
    )
