"""The audit lists as CSV files: what each file holds, written row by row as it is sent.

A receipt's `source` column holds the slugs of all its sources, in the consent's
order, separated by a space (a slug has no spaces): a consent may join several.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.http import StreamingHttpResponse

from audit import selectors
from consent.models import Consent, Receipt

# A spreadsheet takes a cell that starts with one of these for a formula (OWASP's
# "CSV injection"): a pseudonym or a slug may start with "-".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

RECEIPT_COLUMNS = [
    "log_index", "receipt_id", "event", "created_at", "consent_id", "source", "sink",
    "pseudonym", "sha256",
]  # fmt: skip
CHECKPOINT_COLUMNS = [
    "tree_size", "root", "signed_at", "kid", "signature", "previous_tree_size", "consistency",
    "jws",
]  # fmt: skip
CONSENT_COLUMNS = [
    "record", "id", "time", "log_index", "event", "status", "http_status", "error",
    "byte_count", "sha256",
]  # fmt: skip
VERIFIED = "verified"


def csv_cell(value: object) -> str:
    """The value as a cell that a spreadsheet shows and never runs: one that a spreadsheet
    would take for a formula gets an apostrophe before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Lines:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def csv_response(
    *, filename: str, columns: list[str], rows: Iterable[Iterable[object]]
) -> StreamingHttpResponse:
    """A CSV attachment, sent as its rows are made: a long list is never held whole."""
    writer = csv.writer(_Lines())

    def lines() -> Iterator[str]:
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def receipt_rows(receipts: Iterable[Receipt]) -> Iterator[list[object]]:
    """RECEIPT_COLUMNS of each receipt. The pseudonym is read from the consent, request or
    link row the receipt was signed from, not decoded from each receipt's payload."""
    for receipt in receipts:
        sources, sink = selectors.receipt_services(receipt)
        yield [
            receipt.entry.index, receipt.pk, receipt.event, utc(receipt.entry.created_at),
            receipt.consent_id, " ".join(source.slug for source in sources),
            sink.slug if sink else "",
            selectors.receipt_pseudonym(receipt), receipt.entry.sha256,
        ]  # fmt: skip


def checkpoint_rows(checks: Iterable[selectors.CheckpointCheck]) -> Iterator[list[object]]:
    """CHECKPOINT_COLUMNS of each checked checkpoint: a check is "verified" or its reasons."""
    for check in checks:
        yield [
            check.checkpoint.tree_size, check.root, utc(check.signed_at), check.kid,
            "; ".join(check.signature_problems) or VERIFIED,
            check.previous.tree_size if check.previous else "",
            ("; ".join(check.consistency_problems) or VERIFIED) if check.previous else "",
            check.checkpoint.jws,
        ]  # fmt: skip


def consent_rows(consent: Consent) -> Iterator[list[object]]:
    """CONSENT_COLUMNS of the consent's receipts, then of each transfer and its attempts.

    An attempt's row carries its transfer's id, and its outcome in the status column.
    """
    for receipt in selectors.consent_receipts(consent):
        entry = receipt.entry
        yield ["receipt", receipt.pk, utc(entry.created_at), entry.index, receipt.event,
               "", "", "", "", entry.sha256]  # fmt: skip
    for transfer in selectors.consent_transfers(consent):
        yield ["transfer", transfer.pk, utc(transfer.created_at), "", "", transfer.status,
               "", transfer.error_code, transfer.byte_count, transfer.sha256]  # fmt: skip
        for attempt in transfer.attempt_rows.all():
            yield ["attempt", transfer.pk, utc(attempt.started_at), "", "", attempt.outcome,
                   attempt.http_status, attempt.error, "", ""]  # fmt: skip
