"""Audit bundles: a range of the receipt log, with everything an auditor needs to check it offline.

A bundle holds the receipts at log indexes [start, end), the signed checkpoints
from the last one before the range to the first that covers all of it, the
consistency proofs between successive checkpoints, one range proof of the
receipts under the covering checkpoint, and the key history. The format is in
docs/auditors.md ("The audit bundle"); `omadata-verify bundle FILE` checks one.

The bundle says what the database holds, tampered or not: a proof that cannot be
made from it is left out, for the verifier to report, rather than failing here.
"""

import base64
from datetime import datetime
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.utils import timezone

from ledger.log import log_consistency_proof, log_range_proof, log_size
from ledger.merkle import MissingNodeError, TreeRangeError
from ledger.models import Checkpoint, LogEntry, LogNode, SigningKey

FORMAT = "omadata-audit-bundle"
VERSION = 1
# The most receipts one bundle holds (the API and the pages ask no more): about 25 MB,
# made in the web process's memory.
BUNDLE_MAX = 10_000


class BundleRangeError(ValueError):
    """No bundle can be made for that range: the message says why, `code` names it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def audit_bundle(*, start: int, end: int) -> dict[str, Any]:
    """The audit bundle of the receipts at log indexes start to end - 1.

    Raises BundleRangeError if the range is empty or past the log, or if no signed
    checkpoint covers it yet (sign one first).
    """
    size = log_size()
    if not 0 <= start < end <= size:
        raise BundleRangeError(
            "out_of_range",
            f"The log has {size} receipts (indexes 0 to {size - 1}): "
            f"there is no range from {start} to {end - 1} in it.",
        )
    covering = Checkpoint.objects.filter(tree_size__gte=end).order_by("tree_size").first()
    if covering is None:
        raise BundleRangeError(
            "no_checkpoint",
            f"No signed checkpoint covers log index {end - 1} yet: sign one, then ask again.",
        )
    checkpoints = _checkpoints(start=start, covering=covering.tree_size)
    return {
        "format": FORMAT,
        "version": VERSION,
        "operator": settings.BASE_URL,
        "created_at": iso(timezone.now()),
        "range": {"start": start, "end": end},
        "keys": key_history(),
        "checkpoints": [{"tree_size": c.tree_size, "jws": c.jws} for c in checkpoints],
        "consistency": _consistency_proofs([c.tree_size for c in checkpoints]),
        "receipts": _receipts(start=start, end=end),
        "inclusion": _inclusion(start=start, end=end, size=covering.tree_size),
    }


def _checkpoints(*, start: int, covering: int) -> list[Checkpoint]:
    """The last checkpoint before the range (if any), then every one up to the covering one.

    The first joins this bundle to the one of the range before it.
    """
    before = (
        Checkpoint.objects.filter(tree_size__gte=1, tree_size__lte=start)
        .order_by("-tree_size")
        .first()
    )
    within = Checkpoint.objects.filter(tree_size__gt=start, tree_size__lte=covering)
    return ([before] if before else []) + list(within.order_by("tree_size"))


def _consistency_proofs(sizes: list[int]) -> list[dict[str, Any]]:
    proofs = []
    for first, second in pairwise(sizes):
        try:
            proof = log_consistency_proof(old_size=first, new_size=second)
        except (TreeRangeError, MissingNodeError):
            continue  # the log no longer holds what the checkpoints say: the verifier tells
        proofs.append({"first": first, "second": second, "proof": b64_all(proof)})
    return proofs


def _receipts(*, start: int, end: int) -> list[dict[str, Any]]:
    """The receipts in log order, each with the leaf hash the log stores for its index."""
    leaves = dict(
        LogNode.objects.filter(level=0, index__gte=start, index__lt=end).values_list(
            "index", "hash"
        )
    )
    entries = LogEntry.objects.filter(index__gte=start, index__lt=end).order_by("index")
    return [
        {
            "id": str(entry_id),
            "log_index": index,
            "leaf_hash": b64(bytes(leaves[index])) if index in leaves else None,
            "jws": data,
        }
        for entry_id, index, data in entries.values_list("id", "index", "data").iterator()
    ]


def _inclusion(*, start: int, end: int, size: int) -> dict[str, Any] | None:
    try:
        proof = log_range_proof(start=start, end=end, size=size)
    except (TreeRangeError, MissingNodeError):
        return None
    return {"tree_size": size, "proof": b64_all(proof)}


def key_history() -> list[dict[str, Any]]:
    """Every key the operator has signed with, and from when to when (bundles and exports)."""
    return [
        {
            "kid": key.kid,
            "jwk": key.public_jwk,
            "created_at": iso(key.created_at),
            "retired_at": iso(key.retired_at) if key.retired_at else None,
        }
        for key in SigningKey.objects.order_by("created_at", "kid")
    ]


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def b64_all(digests: list[bytes]) -> list[str]:
    return [b64(digest) for digest in digests]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
