"""The installed verifier passes the operator's bundle of real receipts, and fails, naming the
record, each bundle made after someone changed the evidence in the database."""

import base64
import hashlib
import json
import subprocess
from datetime import timedelta

import pytest

from consent.models import Receipt
from consent.receipts import RECEIPT_TYP, receipt_verify
from ledger import jws
from ledger.log import log_root
from ledger.models import Checkpoint, LogEntry, SigningKey
from tests.tampering import evidence_unguarded, signed_checkpoint, swap_places
from tests.verifier.conftest import bundle_file

pytestmark = pytest.mark.django_db


def test_the_verifier_is_installed_without_django(verify_command):
    python = verify_command.parent / "python"

    assert subprocess.run([python, "-c", "import omadata_verifier"]).returncode == 0
    assert subprocess.run([python, "-c", "import django"], capture_output=True).returncode != 0


def test_the_command_explains_itself(verify):
    result = verify("--help")

    assert result.status == 0
    assert "bundle" in result.out
    assert "follow" in result.out


def test_a_bundle_of_the_whole_log_verifies(log, verify, tmp_path):
    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 0, result.output
    assert f"log indexes: 0 to {len(log.receipts) - 1}" in result.out
    assert "OK: every check passed" in result.out


def test_a_bundle_of_a_middle_range_verifies_with_chains_from_before_it(log, verify, tmp_path):
    first, second, _third = log.checkpoint_sizes

    result = verify("bundle", bundle_file(tmp_path, start=first, end=second - 1))

    assert result.status == 0, result.output
    assert "continuing from before the range" in result.out


def test_a_changed_receipt_is_named_even_when_signed_again(log, verify, tmp_path):
    target = log.at(3)
    payload = receipt_verify(target.jws)
    payload["omadata"]["data_types"] = ["wellbeing.heart_rate"]
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(data=jws.sign(payload, typ=RECEIPT_TYP))

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert f"receipt {target.pk} (log index 3): not the receipt that the log holds" in result.err


def test_a_receipt_changed_without_the_key_fails_its_signature(log, verify, tmp_path):
    target = log.at(2)
    header, _payload, signature = target.jws.split(".")
    forged = base64.urlsafe_b64encode(b'{"omadata":{}}').decode().rstrip("=")
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(data=f"{header}.{forged}.{signature}")

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert f"receipt {target.pk} (log index 2): the signature does not verify" in result.err


def test_a_deleted_receipt_is_named_by_its_index_and_its_chain(log, verify, tmp_path):
    target = log.at(4)
    chained = next(
        r
        for r in log.receipts
        if r.log_index > 4 and r.consent_id and r.consent_id == target.consent_id
    )
    with evidence_unguarded():
        Receipt.objects.filter(pk=target.pk).delete()
        LogEntry.objects.filter(pk=target.pk).delete()

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert "log index 4: no receipt" in result.err
    assert (
        f"receipt {chained.pk} (log index {chained.log_index}): its chain is broken" in result.err
    )


def test_two_reordered_receipts_are_both_named(log, verify, tmp_path):
    a, b = log.at(2), log.at(5)
    swap_places(a, b)

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert f"receipt {b.pk} (log index 2): not the receipt that the log holds" in result.err
    assert f"receipt {a.pk} (log index 5): not the receipt that the log holds" in result.err


def test_a_checkpoint_replaced_by_a_smaller_one_is_named(log, verify, tmp_path):
    _first, second, third = log.checkpoint_sizes
    smaller = signed_checkpoint(size=second, root=log_root(size=second))
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=third).update(jws=smaller)

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert (
        f"checkpoint {third}: the bundle lists it as size {third}, but it signs size {second}"
        in result.err
    )


def test_a_checkpoint_replaced_by_a_forked_one_is_named(log, verify, tmp_path):
    first, second, third = log.checkpoint_sizes
    forked = signed_checkpoint(size=second, root=hashlib.sha256(b"another history").digest())
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(jws=forked)

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert f"checkpoint {second}: does not extend checkpoint {first}" in result.err
    assert f"checkpoint {third}: does not extend checkpoint {second}" in result.err


def test_a_retired_key_dropped_from_the_key_history_is_named(log, verify, tmp_path):
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    receipt = log.at(0)
    assert f"receipt {receipt.pk} (log index 0): its kid '{log.retired_kid}' is not" in result.err


def test_a_receipt_signed_after_its_key_retired_is_named(log, verify, tmp_path):
    key = SigningKey.objects.get(kid=log.retired_kid)
    with evidence_unguarded():
        SigningKey.objects.filter(kid=key.kid).update(
            retired_at=key.created_at - timedelta(hours=1)
        )

    result = verify("bundle", bundle_file(tmp_path))

    assert result.status == 1
    assert f"receipt {log.at(0).pk} (log index 0): signed at" in result.err
    assert f"after key {key.kid} was retired" in result.err


# -- files that are no bundle -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "is not JSON, so not an Omadata audit bundle"),
        ("[1, 2, 3]", 'this is not an Omadata audit bundle (no "format"'),
        ('{"keys": [{"kty": "EC"}]}', 'this is not an Omadata audit bundle (no "format"'),
        ('{"format": "omadata-audit-bundle", "version": 2}', "this verifier reads version 1"),
        ('{"format": "omadata-audit-bundle", "version": 1}', "range, operator"),
        ("[" * 100_000, "is not JSON"),
    ],
    ids=["text", "list", "jwks", "newer-version", "empty-bundle", "deep-json"],
)
def test_a_file_that_is_no_bundle_is_named_without_a_traceback(verify, tmp_path, content, message):
    path = tmp_path / "file.json"
    path.write_text(content)

    result = verify("bundle", path)

    assert result.status == 2
    assert message in result.err
    assert "Traceback" not in result.output


def test_a_missing_file_is_named_without_a_traceback(verify, tmp_path):
    result = verify("bundle", tmp_path / "nowhere.json")

    assert result.status == 2
    assert "cannot read" in result.err
    assert "Traceback" not in result.output


def test_garbage_records_in_a_bundle_are_named_without_a_traceback(log, verify, tmp_path):
    path = bundle_file(tmp_path)
    bundle = json.loads(path.read_text())
    bundle["receipts"][1] = "garbage"
    bundle["checkpoints"].append({"tree_size": "x", "jws": 42})
    bundle["keys"].append({"kid": "odd", "jwk": {"kty": "RSA"}})
    path.write_text(json.dumps(bundle))

    result = verify("bundle", path)

    assert result.status == 1
    assert "receipts[1]: not a receipt" in result.err
    assert "log index 1: no receipt" in result.err
    assert f"checkpoints[{len(bundle['checkpoints']) - 1}]: the token is not" in result.err
    assert "key odd: not an EC P-256 public key" in result.err
    assert "Traceback" not in result.output
