"""Bundles made to hurt the verifier rather than to fool it: each is named, with status 1 or
2, without a traceback and without work or memory beyond the receipts the bundle lists."""

import hashlib
import json
import os

import pytest

from tests.tampering import signed_checkpoint
from tests.verifier.conftest import bundle_file

pytestmark = pytest.mark.django_db


def edited_bundle(folder, edit) -> str:
    """The operator's bundle of the whole log, after `edit(bundle)` changed it."""
    path = bundle_file(folder)
    bundle = json.loads(path.read_text())
    edit(bundle)
    path.write_text(json.dumps(bundle))
    return path


def key_entry(bundle: dict, kid: str) -> dict:
    return next(key for key in bundle["keys"] if key["kid"] == kid)


def test_a_range_far_longer_than_its_receipts_is_named_as_one_missing_range(log, verify, tmp_path):
    count = len(log.receipts)
    path = edited_bundle(tmp_path, lambda bundle: bundle["range"].update(end=10**18))

    result = verify("bundle", path)

    assert result.status == 1, result.output
    assert f"log indexes {count} to {10**18 - 1}: no receipts" in result.err
    assert "Traceback" not in result.output


def test_a_range_beyond_any_log_size_is_unusable(log, verify, tmp_path):
    path = edited_bundle(tmp_path, lambda bundle: bundle["range"].update(end=10**30))

    result = verify("bundle", path)

    assert result.status == 2
    assert "the bundle's range is missing or malformed" in result.err
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("field", "time", "shown"),
    [
        ("retired_at", "0001-01-01T00:00:00+05:00", "was retired (at -62135614800 (Unix seconds))"),
        (
            "created_at",
            "9999-12-31T23:59:59-14:00",
            "was in use (from 253402351199 (Unix seconds))",
        ),
    ],
    ids=["retired-in-year-0", "created-in-year-10000"],
)
def test_key_times_beyond_the_calendar_are_named(log, verify, tmp_path, field, time, shown):
    path = edited_bundle(
        tmp_path, lambda bundle: key_entry(bundle, log.retired_kid).update({field: time})
    )

    result = verify("bundle", path)

    assert result.status == 1, result.output
    assert f"receipt {log.at(0).pk} (log index 0): signed at" in result.err
    assert shown in result.err
    assert "Traceback" not in result.output


def test_a_checkpoint_signed_over_a_size_beyond_any_log_is_named(log, verify, tmp_path):
    size = 10**4000  # a tree this deep would exhaust the stack of the proof's recursion

    def edit(bundle):
        jws = signed_checkpoint(size=size, root=hashlib.sha256(b"none").digest())
        bundle["checkpoints"].append({"tree_size": size, "jws": jws})
        bundle["inclusion"]["tree_size"] = size

    result = verify("bundle", edited_bundle(tmp_path, edit))

    assert result.status == 1, result.output
    assert "its signed tree_size is not a size" in result.err
    assert "Traceback" not in result.output


def test_a_consistency_proof_between_values_that_are_no_sizes_is_named(log, verify, tmp_path):
    path = edited_bundle(
        tmp_path,
        lambda bundle: bundle["consistency"].append({"first": "1", "second": "2", "proof": []}),
    )

    result = verify("bundle", path)

    assert result.status == 1, result.output
    assert "not a consistency proof (first, second, proof)" in result.err


def test_a_file_larger_than_the_cap_is_refused_unread(verify, tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        os.truncate(file.fileno(), (1 << 30) + 1)  # sparse: it takes no room on the disk

    result = verify("bundle", path)

    assert result.status == 2
    assert "is larger than 1 GiB" in result.err
