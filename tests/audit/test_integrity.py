"""The log's integrity on the audit front page: intact, or each change behind the code named."""

import hashlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.integrity import integrity_check
from audit.models import IntegrityCheck
from consent.models import Receipt
from consent.receipts import RECEIPT_TYP, receipt_verify
from ledger import jws
from ledger.log import log_integrate, log_root
from ledger.models import Checkpoint, LogEntry, SigningKey
from tests.factories import grant_consent, request_consent
from tests.tampering import evidence_unguarded, signed_checkpoint, swap_places

pytestmark = pytest.mark.django_db


def reasons(check: IntegrityCheck) -> list[str]:
    return [f"{p['record']}: {p['reason']}" for p in check.problems]


def test_an_intact_log_is_shown_intact(log, as_auditor):
    check = integrity_check()

    page = as_auditor.get("/audit/").content.decode()

    assert (check.tree_size, check.problem_count) == (len(log.receipts), 0)
    assert "Intact." in page
    assert f"Every one of the {len(log.receipts)} receipts" in page


def test_a_log_never_checked_says_when_it_will_be(as_auditor, settings):
    settings.OMADATA_INTEGRITY_INTERVAL = 3600

    page = as_auditor.get("/audit/").content.decode()

    assert "The log has not been checked yet. The scheduler checks it every 60 minutes." in page


def test_a_receipt_changed_and_signed_again_is_named_on_the_page(log, as_auditor):
    target = log.at(3)
    payload = receipt_verify(target.jws)
    payload["omadata"]["data_types"] = ["wellbeing.heart_rate"]
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(data=jws.sign(payload, typ=RECEIPT_TYP))
    integrity_check()

    page = as_auditor.get("/audit/").content.decode()

    assert "leaf 3</code>: its text does not match its digest" in page
    assert "node 0/3</code>: does not match the leaves below it" in page
    assert "problems found" in page


def test_a_receipt_changed_without_the_key_is_named(log):
    target = log.at(2)
    header, _payload, signature = target.jws.split(".")
    forged = f"{header}.{log.at(4).jws.split('.')[1]}.{signature}"
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(
            data=forged, sha256=hashlib.sha256(forged.encode()).hexdigest()
        )

    check = integrity_check()

    assert (
        f"receipt {target.pk} (log index 2): its signature does not verify: "
        "The signature does not verify."
    ) in reasons(check)


def test_a_deleted_receipt_is_named_by_its_index_and_its_chain(log):
    target = log.at(4)
    chained = next(
        r for r in log.receipts
        if r.log_index > 4 and r.consent_id and r.consent_id == target.consent_id
    )  # fmt: skip
    with evidence_unguarded():
        Receipt.objects.filter(pk=target.pk).delete()
        LogEntry.objects.filter(pk=target.pk).delete()

    check = integrity_check()

    assert "leaf 4: is missing" in reasons(check)
    assert (
        f"receipt {chained.pk} (log index {chained.log_index}): its chain is broken: "
        "it does not name the receipt before it"
    ) in reasons(check)


def test_two_reordered_receipts_are_both_named(log):
    a, b = log.at(2), log.at(5)
    swap_places(a, b)

    check = integrity_check()

    # The receipts state no index: the leaves they no longer hash to name both places.
    assert "node 0/2: does not match the leaves below it" in reasons(check)
    assert "node 0/5: does not match the leaves below it" in reasons(check)


def test_a_checkpoint_replaced_by_a_smaller_one_is_named(log):
    _first, second, third = log.checkpoint_sizes
    smaller = signed_checkpoint(size=second, root=log_root(size=second))
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=third).update(jws=smaller)

    check = integrity_check()

    assert f"checkpoint {third}: its stored size or root differs from what it signs" in reasons(
        check
    )


def test_a_checkpoint_replaced_by_a_forked_one_is_named(log):
    _first, second, _third = log.checkpoint_sizes
    forked_root = hashlib.sha256(b"another history").digest()
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(
            jws=signed_checkpoint(size=second, root=forked_root), root=forked_root.hex()
        )

    check = integrity_check()

    assert reasons(check) == [f"checkpoint {second}: its root is not the log's at its size"]


def test_a_retired_key_dropped_from_the_key_history_is_named(log):
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    check = integrity_check()

    assert f"receipt {log.at(0).pk} (log index 0): its signature does not verify" in " ".join(
        reasons(check)
    )


def test_a_receipt_signed_after_its_key_retired_is_named(log):
    key = SigningKey.objects.get(kid=log.retired_kid)
    with evidence_unguarded():
        SigningKey.objects.filter(kid=key.kid).update(
            retired_at=key.created_at - timedelta(hours=1)
        )

    check = integrity_check()

    assert (
        f"receipt {log.at(0).pk} (log index 0): signed by key {key.kid} when it was not in use"
    ) in reasons(check)


def test_the_command_fails_on_a_changed_log_naming_each_problem(log, capsys):
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    with pytest.raises(CommandError, match="problems in the receipt log"):
        call_command("audit_integrity_check")

    assert f"receipt {log.at(0).pk} (log index 0)" in capsys.readouterr().err


def test_the_command_passes_an_intact_log(log, capsys):
    call_command("audit_integrity_check")

    assert f"The receipt log of {len(log.receipts)} receipts is intact." in capsys.readouterr().out


def test_a_page_of_problems_keeps_the_first_hundred(log, as_auditor, monkeypatch):
    monkeypatch.setattr(IntegrityCheck, "PROBLEMS_KEPT", 2)
    with evidence_unguarded():
        SigningKey.objects.all().delete()
    check = integrity_check()

    page = as_auditor.get("/audit/").content.decode()

    assert check.problem_count > 2
    assert len(check.problems) == 2
    assert "The first 2 are listed." in page


def test_a_receipt_row_whose_event_was_changed_is_named(log, as_auditor):
    target = next(r for r in log.receipts if r.event == "consent.granted")
    with evidence_unguarded():
        Receipt.objects.filter(pk=target.pk).update(event="consent.refused")

    check = integrity_check()
    page = as_auditor.get(f"/audit/receipts/{target.pk}")

    assert (
        f"receipt {target.pk} (log index {target.log_index}): its row says consent.refused, "
        "the receipt consent.granted"
    ) in reasons(check)
    assert page.context["verification"].verified is False


def test_a_receipt_row_deleted_from_under_its_leaf_is_named(log):
    target = log.receipts[-1]
    with evidence_unguarded():
        Receipt.objects.filter(pk=target.pk).delete()

    check = integrity_check()

    assert (
        f"receipt {target.pk} (log index {target.log_index}): has no receipt row: "
        "the pages do not show it"
    ) in reasons(check)


def test_receipt_rows_moved_to_another_consent_are_named(log, eero):
    mine = next(r for r in log.receipts if r.consent_id and r.event == "consent.granted")
    [part] = mine.consent.source_parts()
    other = grant_consent(request_consent(sink=mine.consent.sink, source=part.service), eero)
    theirs = other.receipts.get()
    log_integrate()
    with evidence_unguarded():
        Receipt.objects.filter(pk=mine.pk).update(consent=other)
        Receipt.objects.filter(pk=theirs.pk).update(consent=mine.consent)

    check = integrity_check()

    assert any(
        r.startswith(f"receipt {mine.pk} (log index {mine.log_index}): its row names consent")
        for r in reasons(check)
    )
    assert any(r.startswith(f"receipt {theirs.pk}") for r in reasons(check))
