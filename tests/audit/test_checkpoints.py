"""The checkpoints page: every checkpoint, its signature and its consistency checked."""

import hashlib
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import checkpoints, jws
from ledger.checkpoints import CHECKPOINT_TYP, b64
from ledger.log import log_root
from ledger.models import Checkpoint, SigningKey
from tests.tampering import evidence_unguarded, issue_receipts, signed_checkpoint

pytestmark = pytest.mark.django_db


def _sizes(response) -> list[int]:
    return [check.checkpoint.tree_size for check in response.context["checks"]]


def _check(response, size):
    return next(c for c in response.context["checks"] if c.checkpoint.tree_size == size)


def test_checkpoints_are_listed_largest_first_each_verified(as_auditor, log):
    first, second, third = log.checkpoint_sizes

    response = as_auditor.get("/audit/checkpoints")

    assert response.status_code == 200
    assert _sizes(response) == [third, second, first]
    for check in response.context["checks"]:
        assert check.signature_problems == []
        assert check.consistency_problems == []
    assert [c.previous and c.previous.tree_size for c in response.context["checks"]] == [
        second, first, None
    ]  # fmt: skip
    assert "Not verified" not in response.content.decode()


def test_a_checkpoint_signed_by_a_retired_key_while_it_was_in_use_verifies(as_auditor, log):
    first, *_later = log.checkpoint_sizes

    check = _check(as_auditor.get("/audit/checkpoints"), first)

    assert check.kid == log.retired_kid
    assert check.signature_problems == []


def test_a_checkpoint_signed_outside_its_keys_period_is_not_verified(as_auditor, log):
    first, *_later = log.checkpoint_sizes
    key = SigningKey.objects.get(kid=log.retired_kid)
    with evidence_unguarded():
        SigningKey.objects.filter(kid=key.kid).update(
            retired_at=key.created_at - timedelta(hours=1)
        )

    response = as_auditor.get("/audit/checkpoints")

    reason = f"signed by key {key.kid} when it was not in use"
    assert _check(response, first).signature_problems == [reason]
    assert reason in response.content.decode()


def test_a_checkpoint_of_a_dropped_key_is_not_verified(as_auditor, log):
    first, *_later = log.checkpoint_sizes
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    [reason] = _check(as_auditor.get("/audit/checkpoints"), first).signature_problems

    assert reason.startswith("its signature does not verify")


def test_a_changed_checkpoint_root_fails_its_signature_and_both_consistencies(as_auditor, log):
    first, second, third = log.checkpoint_sizes
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(root="00" * 32)

    response = as_auditor.get("/audit/checkpoints")

    assert _check(response, second).signature_problems == [
        "its stored size or root differs from what it signs"
    ]
    assert _check(response, third).consistency_problems == [
        "the consistency proof leads to another old root"
    ]
    assert _check(response, second).consistency_problems == [
        "the consistency proof leads to another new root"
    ]
    assert _check(response, first).signature_problems == []


def test_a_checkpoint_root_that_is_no_hex_is_named_not_a_server_error(as_auditor, log):
    _first, second, _third = log.checkpoint_sizes
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(root="not hex")

    response = as_auditor.get("/audit/checkpoints")

    assert response.status_code == 200
    assert _check(response, second).signature_problems == [
        "its stored size or root differs from what it signs"
    ]
    assert _check(response, second).consistency_problems != []


def test_a_forked_checkpoint_is_not_consistent_with_the_one_below(as_auditor, log):
    _first, second, third = log.checkpoint_sizes
    forked_root = hashlib.sha256(b"another history").digest()
    forked = signed_checkpoint(size=third, root=forked_root)
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=third).update(jws=forked, root=forked_root.hex())

    check = _check(as_auditor.get("/audit/checkpoints"), third)

    assert check.signature_problems == []
    assert check.previous.tree_size == second
    assert check.consistency_problems == ["the consistency proof leads to another new root"]


def test_a_smaller_checkpoint_signed_later_is_named(as_auditor, log):
    _first, second, _third = log.checkpoint_sizes
    size = second - 1
    later = {
        "tree_size": size,
        "root": b64(log_root(size=size)),
        "timestamp": int(time.time()) + 60,
    }
    with evidence_unguarded():
        Checkpoint.objects.create(
            tree_size=size, root=log_root(size=size).hex(), jws=jws.sign(later, typ=CHECKPOINT_TYP)
        )

    response = as_auditor.get("/audit/checkpoints")

    assert _check(response, second).consistency_problems == [
        f"checkpoint {size}, of a smaller tree, was signed after it"
    ]
    assert _check(response, size).consistency_problems == []


def test_checkpoints_are_paged_by_tree_size(as_auditor, log, monkeypatch):
    monkeypatch.setattr("audit.views.PAGE_SIZE", 2)
    first, second, third = log.checkpoint_sizes

    largest = as_auditor.get("/audit/checkpoints")
    following = as_auditor.get("/audit/checkpoints" + largest.context["next"])

    assert _sizes(largest) == [third, second]
    # The page's last checkpoint is checked against the first of the next page.
    assert _check(largest, second).previous.tree_size == first
    assert largest.context["next"] == f"?before={second}"
    assert _sizes(following) == [first]
    assert following.context["next"] is None


def _grow(count: int) -> None:
    for _ in range(count):
        issue_receipts(3)
        checkpoints.checkpoint_sign()


def test_checkpoints_page_queries_do_not_grow_with_the_log(as_auditor, log, monkeypatch):
    monkeypatch.setattr("audit.views.PAGE_SIZE", 2)
    as_auditor.get("/audit/checkpoints")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as small:
        as_auditor.get("/audit/checkpoints")
    _grow(6)
    with CaptureQueriesContext(connection) as large:
        response = as_auditor.get("/audit/checkpoints")

    assert Checkpoint.objects.count() == 9
    assert all(not c.consistency_problems for c in response.context["checks"])
    assert len(large) == len(small)


def test_unknown_checkpoints_parameter_is_refused(as_auditor, log):
    response = as_auditor.get("/audit/checkpoints?tree_size=3")

    assert response.status_code == 400
    assert "Unknown parameters: tree_size." in response.content.decode()


def test_no_checkpoint_yet_says_so(as_auditor, db):
    page = as_auditor.get("/audit/checkpoints").content.decode()

    assert "No checkpoint has been signed yet." in page


def test_checkpoints_page_offers_the_csv_and_the_bundle_form(as_auditor, log):
    page = as_auditor.get("/audit/checkpoints").content.decode()

    assert 'href="/audit/checkpoints.csv"' in page
    assert 'action="/audit/bundle"' in page
