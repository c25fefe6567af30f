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
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.utils import timezone
from jwcrypto import jwk

from audit.models import IntegrityCheck
from consent.models import Receipt
from consent.receipts import RECEIPT_TYP
from ledger import jws
from ledger.integrity import BATCH, CLOCK_SLACK, Problem, log_check
from ledger.models import SigningKey


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


_Row = tuple[int, UUID, str, str, UUID | None, UUID | None, UUID | None]


def _rows() -> Iterator[_Row]:
    """Every receipt with its leaf, in log order, in batches."""
    last = -1
    while True:
        batch = list(
            Receipt.objects.filter(entry__index__gt=last)
            .order_by("entry__index")
            .values_list(
                "entry__index", "entry_id", "entry__data", "entry__sha256",
                "consent_id", "link_id", "request_id",
            )[:BATCH]
        )  # fmt: skip
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def receipts_check() -> list[Problem]:
    """Each receipt's signature, the key's period, what it states and its chain."""
    history = list(SigningKey.objects.all())
    trusted = {key.kid: jwk.JWK(**key.public_jwk) for key in history}
    periods = {key.kid: (key.created_at, key.retired_at) for key in history}
    last_in_chain: dict[tuple[str, UUID | None], str] = {}
    problems = []
    for index, receipt_id, token, digest, consent_id, link_id, request_id in _rows():
        record = f"receipt {receipt_id} (log index {index})"
        chain = (
            ("consent", consent_id) if consent_id
            else ("link", link_id) if link_id
            else ("request", request_id)
        )  # fmt: skip
        expected_previous = last_in_chain.get(chain)
        last_in_chain[chain] = digest
        try:
            payload = jws.verify(token, typ=RECEIPT_TYP, trusted=trusted)
        except jws.JWSError as error:
            problems.append(Problem(record, f"its signature does not verify: {error.message}"))
            continue
        problems += _stated(record, payload, index=index, receipt_id=receipt_id)
        kid = jws.header_of(token)["kid"]
        problems += _in_use(record, kid, periods[kid], payload.get("consentTimestamp"))
        omadata = _omadata(payload)
        if omadata.get("previous_receipt_sha256") != expected_previous:
            problems.append(
                Problem(record, "its chain is broken: it does not name the receipt before it")
            )
    return problems


def _stated(record: str, payload: dict[str, Any], *, index: int, receipt_id: UUID) -> list[Problem]:
    omadata = _omadata(payload)
    problems = []
    if omadata.get("log_index") != index:
        problems.append(Problem(record, f"it states the log index {omadata.get('log_index')}"))
    if payload.get("consentReceiptID") != str(receipt_id):
        problems.append(Problem(record, "it states another receipt id"))
    return problems


def _omadata(payload: dict[str, Any]) -> dict[str, Any]:
    omadata = payload.get("omadata")
    return omadata if isinstance(omadata, dict) else {}


def _in_use(
    record: str, kid: str, period: tuple[datetime, datetime | None], timestamp: Any
) -> list[Problem]:
    if not isinstance(timestamp, int):
        return [Problem(record, "it states no signing time")]
    signed = datetime.fromtimestamp(timestamp, tz=UTC)
    began, ended = period
    if signed + CLOCK_SLACK < began or (ended is not None and signed > ended + CLOCK_SLACK):
        return [Problem(record, f"signed by key {kid} when it was not in use")]
    return []
