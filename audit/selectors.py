"""What the audit pages read: receipts by log index and checkpoints, and what each proves.

Every read here is for someone `ledger.access.can_audit` lets in; the views
check that first. Residents appear by their pseudonyms only: nothing here
selects a resident's user row.
"""

from base64 import b64decode
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, islice, pairwise
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from audit.integrity import RowSubject, signed_subject
from consent.models import Consent, ConsentSource, Receipt, RequestSource
from consent.receipts import RECEIPT_TYP
from ledger import jws
from ledger.checkpoints import b64, checkpoint_latest
from ledger.integrity import checkpoint_check, key_history
from ledger.log import log_consistency_proof, log_inclusion_proof
from ledger.merkle import (
    MissingNodeError,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.models import Checkpoint, LogEntry, LogQueue, SigningKey
from registry.models import Service
from relay.models import Transfer

# Each receipt row names its services and its subject: one query for the whole page, and
# one more for the sources of its consents (one for its refused requests', if any).
_RELATED = ("entry", "consent__sink", "request__sink", "link__service")
_SOURCES = (
    Prefetch("consent__sources", ConsentSource.objects.select_related("service")),
    Prefetch("request__sources", RequestSource.objects.select_related("service")),
)


def _receipts() -> QuerySet[Receipt]:
    return Receipt.objects.select_related(*_RELATED).prefetch_related(*_SOURCES)


def receipt_query(
    *,
    before: int | None = None,
    event: str | None = None,
    service: str | None = None,
    consent_id: UUID | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
    from_index: int | None = None,
    to_index: int | None = None,
) -> QuerySet[Receipt]:
    """The receipts matching every filter given, newest first, below log index `before`.

    Dates are whole days in the operator's time zone, both ends included; so are
    the index bounds. Pages are keyed by log index, so a page costs the same at
    any depth of the log.
    """
    receipts = _receipts()
    if before is not None:
        receipts = receipts.filter(entry__index__lt=before)
    if event:
        receipts = receipts.filter(event=event)
    if service:
        # Any one of several sources: Exists, so that a receipt is listed once.
        consent_source = ConsentSource.objects.filter(
            consent=OuterRef("consent_id"), service__slug=service
        )
        request_source = RequestSource.objects.filter(
            request=OuterRef("request_id"), service__slug=service
        )
        receipts = receipts.filter(
            Q(consent__sink__slug=service) | Exists(consent_source)
            | Q(request__sink__slug=service) | Exists(request_source)
            | Q(link__service__slug=service)
        )  # fmt: skip
    if consent_id is not None:
        receipts = receipts.filter(consent_id=consent_id)
    if from_date is not None:
        receipts = receipts.filter(entry__created_at__gte=_day_start(from_date))
    if to_date is not None:
        receipts = receipts.filter(entry__created_at__lt=_day_start(to_date + timedelta(days=1)))
    if from_index is not None:
        receipts = receipts.filter(entry__index__gte=from_index)
    if to_index is not None:
        receipts = receipts.filter(entry__index__lte=to_index)
    # Newest first: those still waiting for the sequencer, then the log from its end.
    return receipts.order_by(*Receipt.LATEST_FIRST)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def receipt_access(*, receipt_id: UUID) -> Receipt:
    try:
        return _receipts().get(pk=receipt_id)
    except Receipt.DoesNotExist:
        raise Http404 from None


def receipt_services(receipt: Receipt) -> tuple[list[Service], Service | None]:
    """The receipt's sources, in order, and its sink; a link's receipt names its one service
    as its source. Read from the rows it was signed from (`_receipts` prefetches them)."""
    terms = receipt.consent or receipt.request
    if terms is not None:
        return [part.service for part in terms.source_parts()], terms.sink
    if receipt.link is not None:
        return [receipt.link.service], None
    return [], None


def _chain(receipt: Receipt) -> QuerySet[Receipt]:
    """The receipts chained with this one: those of its consent, or its link, or its request."""
    if receipt.consent_id is not None:
        return _receipts().filter(consent_id=receipt.consent_id)
    if receipt.link_id is not None:
        return _receipts().filter(link_id=receipt.link_id)
    return _receipts().filter(request_id=receipt.request_id)


def receipt_neighbours(receipt: Receipt) -> tuple[Receipt | None, Receipt | None]:
    """The previous and the next receipt of this receipt's chain.

    A receipt read while queued may be integrated before its neighbours are read:
    its place is read again, and it is judged as queued only if it still was after
    its neighbours were read (an index, once given, never changes).
    """
    chain = _chain(receipt).exclude(pk=receipt.pk)
    index = receipt.entry.index
    if index is None:
        place = LogQueue.objects.filter(entry_id=receipt.entry_id).values_list("id", flat=True)
        queued_at = place.first()
        if queued_at is not None:
            # Still queued: after every integrated receipt, in queue order among the rest.
            found = _neighbours(
                chain,
                before=Q(entry__index__isnull=False) | Q(entry__queued__id__lt=queued_at),
                after=Q(entry__queued__id__gt=queued_at),
            )
            if place.exists():
                return found
        index = LogEntry.objects.values_list("index", flat=True).get(pk=receipt.entry_id)
    return _neighbours(
        chain,
        before=Q(entry__index__lt=index),
        after=Q(entry__index__gt=index) | Q(entry__index__isnull=True),
    )


def _neighbours(
    chain: QuerySet[Receipt], *, before: Q, after: Q
) -> tuple[Receipt | None, Receipt | None]:
    previous = chain.filter(before).order_by(*Receipt.LATEST_FIRST).first()
    following = chain.filter(after).order_by(*Receipt.IN_ORDER).first()
    return previous, following


@dataclass(frozen=True)
class Verification:
    """The receipt's signature checked with the operator's published keys, alg and typ pinned."""

    verified: bool
    header: dict[str, Any]
    payload: dict[str, Any]
    key: SigningKey | None
    error: str = ""


def receipt_verify(receipt: Receipt) -> Verification:
    token = receipt.entry.data
    try:
        header, payload = jws.header_of(token), jws.payload_of(token)
    except jws.JWSError as error:
        return Verification(False, {}, {}, None, error.message)
    kid = header.get("kid")
    key = SigningKey.objects.filter(kid=kid).first() if isinstance(kid, str) else None
    try:
        signed = jws.verify(token, typ=RECEIPT_TYP)
    except jws.JWSError as error:
        return Verification(False, header, payload, key, error.message)
    # The pages list receipts by their rows: a row that is not what was signed is no receipt.
    row = RowSubject(receipt.event, receipt.consent_id, receipt.link_id, receipt.request_id)
    if reason := row.differs_from(signed_subject(signed)):
        return Verification(False, header, payload, key, reason)
    return Verification(True, header, payload, key)


@dataclass(frozen=True)
class Inclusion:
    """The receipt's inclusion proof, checked against the latest checkpoint."""

    checkpoint: Checkpoint | None
    proof: list[str]
    # None: the latest checkpoint is older than the receipt, so there is nothing to check yet.
    verified: bool | None
    error: str = ""


def receipt_inclusion(receipt: Receipt) -> Inclusion:
    checkpoint = checkpoint_latest()
    index = receipt.entry.index
    if checkpoint is None or index is None or index >= checkpoint.tree_size:
        return Inclusion(checkpoint, [], None)
    proof = log_inclusion_proof(index=index, size=checkpoint.tree_size)
    hexes = [node.hex() for node in proof]
    # The checkpoint's own checks, as everywhere (ledger.integrity); then the proof leads
    # to the root it signs, not to whatever its row holds.
    signed, reasons = checkpoint_check(checkpoint, history=key_history())
    if signed is None or reasons:
        return Inclusion(checkpoint, hexes, False, "; ".join(reasons))
    try:
        verify_inclusion(
            leaf_hash=leaf_hash(receipt.entry.data.encode()), index=index,
            size=checkpoint.tree_size, proof=proof, root=b64decode(str(signed.get("root"))),
        )  # fmt: skip
    except (ProofError, ValueError) as error:
        return Inclusion(checkpoint, hexes, False, str(error))
    return Inclusion(checkpoint, hexes, True)


def receipt_pseudonym(receipt: Receipt) -> str:
    """The resident's pseudonym the receipt was signed with (its piiPrincipalId), read from
    the row it was made from: the consent's or the refused request's, or the link's subject."""
    terms = receipt.consent or receipt.request
    if terms is not None:
        return terms.principal
    return receipt.link.subject if receipt.link is not None else ""


def checkpoint_query(*, before: int | None = None) -> QuerySet[Checkpoint]:
    """Every checkpoint, the largest tree first; with `before`, only those of fewer leaves."""
    checkpoints = Checkpoint.objects.order_by("-tree_size")
    if before is not None:
        checkpoints = checkpoints.filter(tree_size__lt=before)
    return checkpoints


@dataclass(frozen=True)
class CheckpointCheck:
    """A checkpoint with its signature checked, and its consistency with the one before it."""

    checkpoint: Checkpoint
    kid: str
    # The signed statement; None when the signature does not verify.
    statement: dict[str, Any] | None
    # Why the signature or the row cannot be trusted; empty: verified.
    signature_problems: list[str]
    # The checkpoint of the next smaller tree; None for the first one signed.
    previous: Checkpoint | None
    # Why this checkpoint's tree does not extend the previous one's; empty: it does.
    consistency_problems: list[str]

    @property
    def signed_at(self) -> datetime | None:
        timestamp = _timestamp(self.statement)
        return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None

    @property
    def root(self) -> str:
        """The root (base64) as the checkpoint signs it, or else as its row holds it."""
        signed = (self.statement or {}).get("root")
        if isinstance(signed, str):
            return signed
        try:
            return b64(bytes.fromhex(self.checkpoint.root))
        except ValueError:
            return self.checkpoint.root


# A checkpoint, its signed statement (None: the signature fails), and the signature's problems.
_Checked = tuple[Checkpoint, dict[str, Any] | None, list[str]]


def checkpoint_checks(
    checkpoints: Iterable[Checkpoint], *, limit: int
) -> Iterator[CheckpointCheck]:
    """The first `limit` of `checkpoints` (the largest first), each checked.

    Each one's signature is checked against the key history (integrity.checkpoint_check),
    and its tree against the next one's, the next smaller: give one checkpoint more than
    `limit` so that the last has its predecessor. Costs one query for the key history and
    two for each consistency proof, whatever the size of the log.
    """
    history = key_history()
    checked: Iterator[_Checked | None] = (
        (c, *checkpoint_check(c, history=history)) for c in checkpoints
    )
    for current, older in islice(pairwise(chain(checked, [None])), limit):
        assert current is not None  # only the last of the pairs ends in None
        checkpoint, statement, problems = current
        yield CheckpointCheck(
            checkpoint=checkpoint,
            kid=_kid(checkpoint),
            statement=statement,
            signature_problems=problems,
            previous=older[0] if older else None,
            consistency_problems=_consistency(checkpoint, statement, older) if older else [],
        )


def _timestamp(statement: dict[str, Any] | None) -> int | None:
    timestamp = (statement or {}).get("timestamp")
    return timestamp if isinstance(timestamp, int) else None


def _kid(checkpoint: Checkpoint) -> str:
    try:
        kid = jws.header_of(checkpoint.jws).get("kid")
    except jws.JWSError:
        return ""
    return kid if isinstance(kid, str) else ""


def _consistency(
    checkpoint: Checkpoint,
    statement: dict[str, Any] | None,
    older: _Checked,
) -> list[str]:
    """Why the log at `checkpoint` does not extend the log at the smaller `older` one."""
    previous, previous_statement, _problems = older
    problems = []
    # Sorted by size, a smaller checkpoint signed later means the log went back.
    signed, previous_signed = _timestamp(statement), _timestamp(previous_statement)
    if signed is not None and previous_signed is not None and previous_signed > signed:
        problems.append(f"checkpoint {previous.tree_size}, of a smaller tree, was signed after it")
    if previous.tree_size == 0:  # every tree extends the empty one
        return problems
    try:
        proof = log_consistency_proof(old_size=previous.tree_size, new_size=checkpoint.tree_size)
        verify_consistency(
            old_size=previous.tree_size, new_size=checkpoint.tree_size,
            old_root=bytes.fromhex(previous.root), new_root=bytes.fromhex(checkpoint.root),
            proof=proof,
        )  # fmt: skip
    except (ValueError, MissingNodeError) as error:  # ProofError and TreeRangeError among them
        problems.append(str(error))
    return problems


def consent_access(*, consent_id: UUID) -> Consent:
    try:
        return (
            Consent.objects.select_related("sink")
            .prefetch_related(Prefetch("sources", ConsentSource.objects.select_related("service")))
            .get(pk=consent_id)
        )
    except Consent.DoesNotExist:
        raise Http404 from None


def consent_receipts(consent: Consent) -> list[Receipt]:
    return list(_receipts().filter(consent=consent).order_by(*Receipt.IN_ORDER))


def consent_transfers(consent: Consent) -> list[Transfer]:
    """The consent's transfers, oldest first, each with its attempts."""
    return list(
        Transfer.objects.filter(consent=consent)
        .prefetch_related("attempt_rows")
        .order_by("created_at", "pk")
    )
