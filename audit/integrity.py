"""The whole receipt log checked on the operator's side, for the audit front page.

`ledger.integrity.log_check` recomputes the log's structure (leaves, nodes,
checkpoints). This adds what makes each leaf a receipt: its signature with a
key of the history that was in use when it was signed (alg and typ pinned),
the id and log index it states, and the hash chain of its consent, link or
refused request. The offline verifier (`verifier/`) checks the same from a
bundle, without the operator's code: two implementations, so that neither has
to be trusted alone.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from django.utils import timezone

from audit.models import IntegrityCheck
from consent.receipts import RECEIPT_TYP
from ledger import jws
from ledger.integrity import BATCH, Problem, key_history, log_check
from ledger.models import LogEntry


def integrity_check() -> IntegrityCheck:
    """Check the log and every receipt in it; record and return what was found."""
    started = timezone.now()
    size, problems = log_check()
    problems += receipts_check()
    return IntegrityCheck.objects.create(
        started_at=started, finished_at=timezone.now(), tree_size=size,
        problem_count=len(problems),
        problems=[
            {"record": p.record, "reason": p.reason}
            for p in problems[: IntegrityCheck.PROBLEMS_KEPT]
        ],
    )  # fmt: skip


def integrity_latest() -> IntegrityCheck | None:
    return IntegrityCheck.objects.order_by("-finished_at", "-id").first()


_Row = tuple[int, UUID, str, str, str | None, UUID | None, UUID | None, UUID | None]


def _rows() -> Iterator[_Row]:
    """Every leaf of the log with its receipt row, if it has one, in log order, in batches."""
    last = -1
    while True:
        batch = list(
            LogEntry.objects.filter(index__gt=last)
            .order_by("index")
            .values_list(
                "index", "id", "data", "sha256", "receipt__event", "receipt__consent_id",
                "receipt__link_id", "receipt__request_id",
            )[:BATCH]
        )  # fmt: skip
        if not batch:
            return
        # Read from the tree only (index > last): none is still queued.
        yield from cast(list[_Row], batch)
        last = cast(int, batch[-1][0])


def receipts_check() -> list[Problem]:
    """Each leaf's receipt: its row, its signature, the key's period, what it states, and
    its chain (followed by what the receipts sign, not by what their rows say)."""
    history = key_history()
    last_in_chain: dict[tuple[str, Any], str] = {}
    problems = []
    for index, receipt_id, token, digest, event, consent_id, link_id, request_id in _rows():
        record = f"receipt {receipt_id} (log index {index})"
        if event is None:
            problems.append(Problem(record, "has no receipt row: the pages do not show it"))
        row = RowSubject(event, consent_id, link_id, request_id)
        try:
            payload = jws.verify(token, typ=RECEIPT_TYP, trusted=history.trusted)
        except jws.JWSError as error:
            problems.append(Problem(record, f"its signature does not verify: {error.message}"))
            last_in_chain[row.chain] = digest
            continue
        signed = signed_subject(payload)
        expected_previous = last_in_chain.get(signed.chain)
        last_in_chain[signed.chain] = digest
        if event is not None and (reason := row.differs_from(signed)):
            problems.append(Problem(record, reason))
        problems += _stated(record, payload, index=index, receipt_id=receipt_id)
        kid, timestamp = jws.header_of(token)["kid"], payload.get("consentTimestamp")
        if not isinstance(timestamp, int):
            problems.append(Problem(record, "it states no signing time"))
        elif not history.in_use(kid, timestamp):
            problems.append(Problem(record, f"signed by key {kid} when it was not in use"))
        if _omadata(payload).get("previous_receipt_sha256") != expected_previous:
            problems.append(
                Problem(record, "its chain is broken: it does not name the receipt before it")
            )
    return problems


@dataclass(frozen=True)
class RowSubject:
    """What a receipt is about: its event and its consent, link or refused request."""

    event: str | None
    consent_id: Any
    link_id: Any
    request_id: Any

    @property
    def chain(self) -> tuple[str, str]:
        if self.consent_id:
            return ("consent", str(self.consent_id))
        if self.link_id:
            return ("link", str(self.link_id))
        return ("request", str(self.request_id))

    def differs_from(self, signed: "RowSubject") -> str:
        """Why this row is not the receipt it stands for ("" if it is): the pages read rows."""
        if self.event != signed.event:
            return f"its row says {self.event}, the receipt {signed.event}"
        if self.chain != signed.chain:
            return (
                f"its row names {self.chain[0]} {self.chain[1]}, "
                f"the receipt {signed.chain[0]} {signed.chain[1]}"
            )
        return ""


def signed_subject(payload: dict[str, Any]) -> RowSubject:
    """The event and subject a verified receipt states. A consent's receipts name its
    request too; a refused request's name no consent; a link's, the link."""
    omadata = _omadata(payload)
    consent_id = omadata.get("consent_id")
    return RowSubject(
        event=omadata.get("event"),
        consent_id=consent_id,
        link_id=omadata.get("link_id"),
        request_id=None if consent_id else omadata.get("request_id"),
    )


def _stated(record: str, payload: dict[str, Any], *, index: int, receipt_id: UUID) -> list[Problem]:
    omadata = _omadata(payload)
    problems = []
    # Receipts signed before the log had a sequencer state their index; later ones
    # are signed before they have one, and their place is the tree's to prove.
    if "log_index" in omadata and omadata["log_index"] != index:
        problems.append(Problem(record, f"it states the log index {omadata.get('log_index')}"))
    if payload.get("consentReceiptID") != str(receipt_id):
        problems.append(Problem(record, "it states another receipt id"))
    return problems


def _omadata(payload: dict[str, Any]) -> dict[str, Any]:
    omadata = payload.get("omadata")
    return omadata if isinstance(omadata, dict) else {}
