"""The audit lists as CSV files."""

import csv
import io
from datetime import UTC

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.exports import CHECKPOINT_COLUMNS, CONSENT_COLUMNS, RECEIPT_COLUMNS, csv_cell
from consent import services as consent_services
from consent.models import Consent, Receipt
from ledger import jws
from relay import services as relay_services
from relay.models import TransferAttempt
from tests.tampering import issue_receipts

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_receipts_csv_holds_every_receipt_newest_first(as_auditor, log):
    response = as_auditor.get("/audit/receipts.csv")

    rows = _csv(response)
    assert [int(row["log_index"]) for row in rows] == [r.log_index for r in log.receipts][::-1]
    assert list(rows[0]) == RECEIPT_COLUMNS


def test_receipts_csv_columns_are_the_receipts(as_auditor, log):
    rows = {row["receipt_id"]: row for row in _csv(as_auditor.get("/audit/receipts.csv"))}

    for receipt in Receipt.objects.select_related("entry"):
        row = rows[str(receipt.pk)]
        payload = jws.payload_of(receipt.entry.data)
        # A random pseudonym may start with "-": guarded, as any cell.
        assert row["pseudonym"] == csv_cell(payload["piiPrincipalId"])
        assert row["event"] == receipt.event == payload["omadata"]["event"]
        assert row["sha256"] == receipt.entry.sha256
        assert row["consent_id"] == (str(receipt.consent_id) if receipt.consent_id else "")
        created = receipt.entry.created_at.astimezone(UTC)
        assert row["created_at"] == created.isoformat(timespec="seconds")
        assert row["created_at"].endswith("+00:00")


def test_receipts_csv_names_source_and_sink_by_slug(as_auditor, log):
    rows = _csv(as_auditor.get("/audit/receipts.csv?event=consent.granted"))

    [granted] = rows
    consent = Consent.objects.get(pk=granted["consent_id"])
    [part] = consent.source_parts()
    assert (granted["source"], granted["sink"]) == (part.service.slug, consent.sink.slug)


def test_receipts_csv_takes_the_lists_filters(as_auditor, log):
    rows = _csv(as_auditor.get("/audit/receipts.csv?from_index=2&to_index=4"))

    assert [row["log_index"] for row in rows] == ["4", "3", "2"]


def test_receipts_csv_refuses_an_unknown_filter(as_auditor, log):
    response = as_auditor.get("/audit/receipts.csv?format=csv")

    assert response.status_code == 400
    assert "Unknown parameters: format." in response.content.decode()


def test_receipts_csv_holds_at_most_its_bound(as_auditor, log, monkeypatch):
    monkeypatch.setattr("audit.views.CSV_MAX", 2)

    rows = _csv(as_auditor.get("/audit/receipts.csv"))

    assert [int(row["log_index"]) for row in rows] == [len(log.receipts) - 1, len(log.receipts) - 2]


def test_receipts_csv_queries_do_not_grow_with_the_log(as_auditor, log):
    as_auditor.get("/audit/receipts.csv")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as small:
        _csv(as_auditor.get("/audit/receipts.csv"))
    issue_receipts(10)
    with CaptureQueriesContext(connection) as large:
        rows = _csv(as_auditor.get("/audit/receipts.csv"))

    assert len(rows) == len(log.receipts) + 10
    assert len(large) == len(small)


def test_receipts_page_links_its_csv_with_its_filters(as_auditor, log):
    page = as_auditor.get("/audit/receipts?event=consent.granted&before=9").content.decode()

    assert 'href="/audit/receipts.csv?event=consent.granted"' in page


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1", "'+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain-text", "plain-text"),
        (12, "12"),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(value, cell):
    assert csv_cell(value) == cell


def test_receipts_csv_guards_a_pseudonym_against_csv_injection(as_auditor, log):
    granted = Receipt.objects.get(event=Receipt.Event.GRANTED)
    Consent.objects.filter(pk=granted.consent_id).update(principal="=1+1")

    rows = _csv(as_auditor.get("/audit/receipts.csv?event=consent.granted"))

    assert rows[0]["pseudonym"] == "'=1+1"


def test_checkpoints_csv_holds_each_checkpoint_with_its_checks(as_auditor, log):
    first, second, third = log.checkpoint_sizes

    response = as_auditor.get("/audit/checkpoints.csv")

    rows = _csv(response)
    assert list(rows[0]) == CHECKPOINT_COLUMNS
    assert [int(row["tree_size"]) for row in rows] == [third, second, first]
    assert [row["signature"] for row in rows] == ["verified"] * 3
    assert [row["consistency"] for row in rows] == ["verified", "verified", ""]
    assert [row["previous_tree_size"] for row in rows] == [str(second), str(first), ""]
    assert rows[2]["kid"] == csv_cell(log.retired_kid)  # a kid may begin with "-": guarded
    # A base64 root may begin with "+": the file guards it, as it guards every cell.
    assert all(csv_cell(jws.payload_of(row["jws"])["root"]) == row["root"] for row in rows)


def test_checkpoints_csv_holds_at_most_its_bound(as_auditor, log, monkeypatch):
    monkeypatch.setattr("audit.views.CHECKPOINT_CSV_MAX", 2)
    _first, second, third = log.checkpoint_sizes

    rows = _csv(as_auditor.get("/audit/checkpoints.csv"))

    assert [int(row["tree_size"]) for row in rows] == [third, second]
    assert rows[1]["consistency"] == "verified"


def test_consent_history_csv_holds_receipts_transfers_and_attempts(as_auditor, consent):
    transfer, _created = relay_services.transfer_request(
        consent=consent, organisation=consent.sink.organisation
    )
    now = timezone.now()
    TransferAttempt.objects.create(
        transfer=transfer, started_at=now, finished_at=now, duration_ms=0,
        outcome=TransferAttempt.Outcome.RETRY, http_status=503, error="source_unavailable",
    )  # fmt: skip
    consent_services.consent_withdraw(consent=consent)

    response = as_auditor.get(f"/audit/consents/{consent.pk}.csv")

    rows = _csv(response)
    assert list(rows[0]) == CONSENT_COLUMNS
    assert [row["record"] for row in rows] == ["receipt", "receipt", "transfer", "attempt"]
    assert [row["event"] for row in rows[:2]] == ["consent.granted", "consent.withdrawn"]
    assert rows[2]["id"] == rows[3]["id"] == str(transfer.pk)
    assert (rows[3]["status"], rows[3]["http_status"], rows[3]["error"]) == (
        "retry", "503", "source_unavailable"
    )  # fmt: skip


def test_consent_history_page_links_its_csv(as_auditor, consent):
    page = as_auditor.get(f"/audit/consents/{consent.pk}").content.decode()

    assert f'href="/audit/consents/{consent.pk}.csv"' in page


def test_unknown_consent_csv_is_404_for_an_auditor(as_auditor, db):
    response = as_auditor.get("/audit/consents/00000000-0000-0000-0000-000000000000.csv")

    assert response.status_code == 404


def test_resident_is_refused_the_csv_files(client, aino, consent):
    client.force_login(aino)

    for url in (
        "/audit/receipts.csv",
        "/audit/checkpoints.csv",
        f"/audit/consents/{consent.pk}.csv",
    ):
        assert client.get(url).status_code == 403
