"""Checking an audit bundle: a range of the receipt log with everything that proves it.

The format is described in the operator's docs/auditors.md ("The audit bundle").
Nothing in a bundle is trusted for what it says about itself: the signatures,
the chains and the proofs are recomputed, and only the key history is taken as
given (compare its keys with the JWKS the operator publishes, and with other
auditors' bundles).
"""

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omadata_verifier import jose, merkle
from omadata_verifier.values import b64_hash, b64_hashes, is_int, is_size, shown

FORMAT = "omadata-audit-bundle"
VERSION = 1
# The operator stamps a receipt a moment before it picks the key that signs it, and
# a rotation takes effect in its processes a moment after the key history records it.
CLOCK_TOLERANCE = 300


class BundleError(ValueError):
    """The file is not a bundle this verifier reads: another kind of file, or another version."""


@dataclass(frozen=True)
class Problem:
    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.reason}"


@dataclass(frozen=True)
class _Checkpoint:
    size: int
    root: bytes


@dataclass
class Report:
    operator: str
    start: int
    end: int
    keys: int = 0
    retired_keys: int = 0
    receipts: int = 0
    chains: Counter[str] = field(default_factory=Counter)
    continued: int = 0
    checkpoints: list[int] = field(default_factory=list)
    covering: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, record: str, reason: str) -> None:
        self.problems.append(Problem(record, reason))

    def summary(self) -> Iterator[str]:
        yield f"operator:    {self.operator}"
        yield f"log indexes: {self.start} to {self.end - 1} ({self.end - self.start} receipts)"
        yield f"keys:        {self.keys} in the key history, {self.retired_keys} retired"
        chains = ", ".join(_count(n, kind) for kind, n in sorted(self.chains.items()))
        yield f"receipts:    signatures verified: {self.receipts}; chains of {chains or 'none'}"
        if self.continued:
            yield f"             {_count(self.continued, 'chain')} continuing from before the range"
        sizes = ", ".join(map(str, self.checkpoints)) or "none"
        yield f"checkpoints: {len(self.checkpoints)} verified (tree sizes {sizes})"
        if self.covering is not None and self.ok:
            yield f"inclusion:   every receipt is in the tree of {self.covering} leaves"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def check(bundle: object) -> Report:
    """Check a parsed bundle; raise BundleError if it is not one."""
    data = _shape(bundle)
    start, end = data["range"]["start"], data["range"]["end"]
    report = Report(operator=data["operator"], start=start, end=end)
    keys = _keys(data["keys"], report)
    checkpoints = _checkpoints(data, keys, report)
    leaves = _receipts(data, keys, report)
    _inclusion(data, checkpoints, leaves, report)
    return report


def _shape(bundle: object) -> dict[str, Any]:
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(f'this is not an Omadata audit bundle (no "format": "{FORMAT}")')
    if bundle.get("version") != VERSION:
        raise BundleError(
            f"this is a bundle of version {shown(bundle.get('version'))}; "
            f"this verifier reads version {VERSION}"
        )
    lists = ("keys", "checkpoints", "consistency", "receipts")
    wrong = [name for name in lists if not isinstance(bundle.get(name), list)]
    span = bundle.get("range")
    if not (
        isinstance(span, dict)
        and all(is_size(span.get(k)) for k in ("start", "end"))
        and 0 <= span["start"] < span["end"]
    ):
        wrong.append("range")
    if not isinstance(bundle.get("operator"), str):
        wrong.append("operator")
    if not isinstance(bundle.get("inclusion"), dict | None):
        wrong.append("inclusion")
    if wrong:
        verb = "is" if len(wrong) == 1 else "are"
        raise BundleError(f"the bundle's {', '.join(wrong)} {verb} missing or malformed")
    return bundle


def _keys(items: list[Any], report: Report) -> dict[str, jose.Key]:
    keys: dict[str, jose.Key] = {}
    for n, item in enumerate(items):
        kid = item.get("kid") if isinstance(item, dict) else None
        if not isinstance(kid, str):
            report.fail(f"keys[{n}]", "not a key (needs kid, jwk, created_at and retired_at)")
            continue
        try:
            key = jose.Key(
                kid=kid,
                public=jose.public_key(item.get("jwk")),
                created_at=_time(item.get("created_at")),
                retired_at=_time(item.get("retired_at")),
            )
        except ValueError as error:
            report.fail(f"key {kid}", str(error))
            continue
        if kid in keys:
            report.fail(f"key {kid}", "listed twice in the key history")
        keys[kid] = key
        report.retired_keys += key.retired_at is not None
    report.keys = len(keys)
    return keys


def _checkpoints(
    data: dict[str, Any], keys: Mapping[str, jose.Key], report: Report
) -> dict[int, _Checkpoint]:
    proofs: dict[tuple[int, int], list[bytes]] = {}
    for n, item in enumerate(data["consistency"]):
        fields = item if isinstance(item, dict) else {}
        first, second = fields.get("first"), fields.get("second")
        try:
            if not (is_size(first) and is_size(second)):
                raise ValueError("its sizes are not sizes")
            proofs[(first, second)] = b64_hashes(fields.get("proof"))
        except ValueError:
            report.fail(f"consistency[{n}]", "not a consistency proof (first, second, proof)")
    verified: dict[int, _Checkpoint] = {}
    previous: _Checkpoint | None = None
    for n, item in enumerate(data["checkpoints"]):
        checkpoint = _checkpoint(n, item, data["operator"], keys, report)
        if checkpoint is None:
            continue
        name = f"checkpoint {checkpoint.size}"
        if previous is not None:
            _consistent(name, previous, checkpoint, proofs, report)
        if checkpoint.size not in verified:
            verified[checkpoint.size] = checkpoint
            report.checkpoints.append(checkpoint.size)
        previous = checkpoint
    return verified


def _checkpoint(
    n: int, item: object, operator: str, keys: Mapping[str, jose.Key], report: Report
) -> _Checkpoint | None:
    listed = item.get("tree_size") if isinstance(item, dict) else None
    name = f"checkpoint {listed}" if is_int(listed) else f"checkpoints[{n}]"
    try:
        key, payload = jose.verify(
            item.get("jws") if isinstance(item, dict) else None,
            typ=jose.CHECKPOINT_TYP,
            keys=keys,
        )
        size, root = payload.get("tree_size"), b64_hash(payload.get("root"))
    except ValueError as error:
        report.fail(name, str(error))
        return None
    if not is_size(size):
        report.fail(name, "its signed tree_size is not a size")
        return None
    if size != listed:
        report.fail(name, f"the bundle lists it as size {listed}, but it signs size {size}")
    _signed_by(f"checkpoint {size}", key, payload.get("timestamp"), report)
    if payload.get("operator") != operator:
        report.fail(f"checkpoint {size}", f"signed for operator {shown(payload.get('operator'))}")
    return _Checkpoint(size=size, root=root)


def _consistent(
    name: str,
    old: _Checkpoint,
    new: _Checkpoint,
    proofs: Mapping[tuple[int, int], list[bytes]],
    report: Report,
) -> None:
    if new.size < old.size:
        report.fail(name, f"follows checkpoint {old.size}: a smaller log after a larger one")
        return
    if new.size == old.size:
        if new.root != old.root:
            report.fail(name, "two signed roots for one size: the log has forked")
        return
    if old.size == 0:
        return  # every tree extends the empty one
    proof = proofs.get((old.size, new.size))
    if proof is None:
        report.fail(name, f"the bundle has no consistency proof from checkpoint {old.size}")
        return
    try:
        merkle.verify_consistency(
            old_size=old.size,
            new_size=new.size,
            old_root=old.root,
            new_root=new.root,
            proof=proof,
        )
    except merkle.ProofError as error:
        report.fail(name, f"does not extend checkpoint {old.size}: {error}")


def _receipts(
    data: dict[str, Any], keys: Mapping[str, jose.Key], report: Report
) -> dict[int, bytes]:
    """Check each receipt and its chain; return the log's leaf hashes of the range by index.

    Kept by index, not in a list of the range's length: a bundle's range is only what it
    says, and one of 10**18 indexes must cost no more than the receipts it lists.
    """
    start, end = report.start, report.end
    leaves: dict[int, bytes] = {}
    chains: dict[tuple[str, str], tuple[str, str]] = {}  # chain -> (sha256, receipt name)
    expected = start
    for n, item in enumerate(data["receipts"]):
        if not _is_receipt(item):
            report.fail(f"receipts[{n}]", "not a receipt (needs id, log_index, leaf_hash, jws)")
            continue
        index, token = item["log_index"], item["jws"]
        name = f"receipt {item['id']} (log index {index})"
        if not start <= index < end:
            report.fail(name, f"outside the bundle's range, {start} to {end - 1}")
            continue
        if index < expected:
            report.fail(name, "out of order: the bundle lists the log in index order")
        _missing(expected, index, report)
        expected = max(expected, index + 1)
        if item["leaf_hash"] is None:
            report.fail(name, "the log holds no leaf hash at this index")
            continue
        try:
            stored = b64_hash(item["leaf_hash"])
        except ValueError as error:
            report.fail(name, f"its leaf hash: {error}")
            continue
        leaves.setdefault(index, stored)
        if not token.isascii() or merkle.leaf_hash(token.encode()) != stored:
            report.fail(name, "not the receipt that the log holds at this index (leaf hash)")
        try:
            key, payload = jose.verify(token, typ=jose.RECEIPT_TYP, keys=keys)
        except jose.Invalid as error:
            report.fail(name, str(error))
            continue
        report.receipts += 1
        if _receipt_claims(name, item, payload, key, data["operator"], report):
            _chain(name, token, payload["omadata"], chains, report)
    _missing(expected, end, report)
    return leaves


def _missing(first: int, end: int, report: Report) -> None:
    """Name the indexes first to end - 1 as missing: one problem, however many they are."""
    if end - first == 1:
        report.fail(f"log index {first}", "no receipt: the log holds one at every index")
    elif end - first > 1:
        report.fail(
            f"log indexes {first} to {end - 1}", "no receipts: the log holds one at every index"
        )


def _receipt_claims(
    name: str,
    item: dict[str, Any],
    payload: dict[str, Any],
    key: jose.Key,
    operator: str,
    report: Report,
) -> bool:
    """Check what the receipt says of itself; False if it is not an Omadata receipt at all."""
    omadata = payload.get("omadata")
    if not isinstance(omadata, dict):
        report.fail(name, "its payload has no omadata object")
        return False
    if payload.get("consentReceiptID") != item["id"]:
        report.fail(name, f"it states the id {shown(payload.get('consentReceiptID'))}")
    # Receipts signed before the operator's log had a sequencer state their index;
    # later ones are signed before they have one: the tree proves their place.
    if "log_index" in omadata and omadata["log_index"] != item["log_index"]:
        report.fail(name, f"it states the log index {shown(omadata.get('log_index'))}")
    if omadata.get("operator") != operator:
        report.fail(name, f"signed for operator {shown(omadata.get('operator'))}")
    _signed_by(name, key, payload.get("consentTimestamp"), report)
    return True


def _chain(
    name: str,
    token: str,
    omadata: dict[str, Any],
    chains: dict[tuple[str, str], tuple[str, str]],
    report: Report,
) -> None:
    """Each receipt names the SHA-256 of the one before it of the same consent, link or
    refused request; the first of a chain names none."""
    chain = _chain_of(omadata)
    if chain is None:
        report.fail(name, "it belongs to no consent, link or refused request")
        return
    previous = omadata.get("previous_receipt_sha256")
    if chain in chains:
        digest, before = chains[chain]
        if previous != digest:
            report.fail(
                name,
                f"its chain is broken: the previous receipt of {chain[0]} {chain[1]} "
                f"is {before}, whose SHA-256 it does not name",
            )
    else:
        report.chains[chain[0]] += 1
        if previous is not None and report.start == 0:
            report.fail(name, "it names a previous receipt that is not in the log before it")
        elif previous is not None:
            report.continued += 1
    chains[chain] = (jose.sha256_hex(token), name)


def _chain_of(omadata: dict[str, Any]) -> tuple[str, str] | None:
    for kind, claim in (("consent", "consent_id"), ("link", "link_id")):
        if isinstance(omadata.get(claim), str):
            return kind, omadata[claim]
    if omadata.get("event") == "consent.refused" and isinstance(omadata.get("request_id"), str):
        return "refused request", omadata["request_id"]
    return None


def _inclusion(
    data: dict[str, Any],
    checkpoints: Mapping[int, _Checkpoint],
    leaves: Mapping[int, bytes],
    report: Report,
) -> None:
    inclusion = data["inclusion"]
    span = f"the receipts at log indexes {report.start} to {report.end - 1}"
    if inclusion is None or not is_size(inclusion.get("tree_size")):
        report.fail("inclusion", f"the bundle proves no inclusion of {span}")
        return
    size = inclusion["tree_size"]
    checkpoint = checkpoints.get(size)
    if checkpoint is None:
        report.fail(
            f"checkpoint {size}",
            "the inclusion proof is to a tree that no verified checkpoint of the bundle signs",
        )
        return
    report.covering = size
    if len(leaves) != report.end - report.start:
        report.fail("inclusion", f"not checked: the bundle lacks some of {span}")
        return
    known = [leaves[index] for index in range(report.start, report.end)]
    try:
        root = merkle.range_root(
            start=report.start, size=size, leaves=known, proof=b64_hashes(inclusion.get("proof"))
        )
    except (ValueError, TypeError) as error:
        report.fail(f"checkpoint {size}", f"the inclusion proof of {span}: {error}")
        return
    if root != checkpoint.root:
        report.fail(f"checkpoint {size}", f"{span} do not lead to its signed root")


def _signed_by(name: str, key: jose.Key, timestamp: object, report: Report) -> None:
    if not is_size(timestamp):
        report.fail(name, "it states no time (Unix seconds) when it was signed")
        return
    if key.created_at is not None and timestamp < key.created_at - CLOCK_TOLERANCE:
        report.fail(
            name,
            f"signed at {_iso(timestamp)}, before key {key.kid} was in use "
            f"(from {_iso(key.created_at)})",
        )
    if key.retired_at is not None and timestamp > key.retired_at + CLOCK_TOLERANCE:
        report.fail(
            name,
            f"signed at {_iso(timestamp)}, after key {key.kid} was retired "
            f"(at {_iso(key.retired_at)})",
        )


def _is_receipt(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and is_int(item.get("log_index"))
        and isinstance(item.get("leaf_hash"), str | None)
        and isinstance(item.get("jws"), str)
    )


def _time(value: object) -> int | None:
    """An ISO 8601 time with its offset, as Unix seconds; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a time is an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{shown(value)} has no offset from UTC")
    return int(moment.timestamp())


def _iso(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        # Outside the years 1 to 9999 that datetime knows: a bundle's times are its own.
        return f"{timestamp} (Unix seconds)"
