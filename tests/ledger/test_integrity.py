"""The log's own check: intact, it finds nothing; changed behind the code, it names the record."""

import hashlib
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from consent.models import Receipt
from ledger import jws
from ledger.integrity import Problem, log_check, root_at
from ledger.log import DbNodeStore, log_queue, log_root
from ledger.merkle import root
from ledger.models import Checkpoint, LogEntry, LogHead, LogNode, LogQueue, SigningKey
from tests.tampering import evidence_unguarded, issue_receipts, signed_checkpoint, swap_places

pytestmark = pytest.mark.django_db


def test_an_intact_log_has_no_problems(log):
    size, problems = log_check()

    assert size == len(log.receipts)
    assert problems == []


def test_roots_from_subtrees_are_the_logs_at_every_size(log):
    from ledger.integrity import _leaves, _levels

    levels = _levels(_leaves(len(log.receipts), []))

    for size in range(len(log.receipts) + 1):
        assert root_at(levels, size) == root(DbNodeStore(), size=size)


def test_a_changed_receipt_is_named(log):
    target = log.at(3)
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(data=target.jws + "x")

    _size, problems = log_check()

    assert Problem("leaf 3", "its text does not match its digest") in problems
    assert Problem("node 0/3", "does not match the leaves below it") in problems


def test_a_changed_receipt_with_its_digest_is_named_by_its_node(log):
    target = log.at(3)
    forged = target.jws + "x"
    with evidence_unguarded():
        LogEntry.objects.filter(pk=target.pk).update(
            data=forged, sha256=hashlib.sha256(forged.encode()).hexdigest()
        )

    _size, problems = log_check()

    assert problems[0] == Problem("node 0/3", "does not match the leaves below it")


def test_a_deleted_receipt_is_named(log):
    target = log.at(4)
    with evidence_unguarded():
        Receipt.objects.filter(pk=target.pk).delete()
        LogEntry.objects.filter(pk=target.pk).delete()

    _size, problems = log_check()

    assert not LogEntry.objects.filter(index=4).exists()

    assert Problem("leaf 4", "is missing") in problems


def test_two_reordered_receipts_are_both_named(log):
    a, b = log.at(2), log.at(5)
    swap_places(a, b)

    _size, problems = log_check()

    assert Problem("node 0/2", "does not match the leaves below it") in problems
    assert Problem("node 0/5", "does not match the leaves below it") in problems


def test_a_checkpoint_replaced_by_a_smaller_one_is_named(log):
    _first, second, third = log.checkpoint_sizes
    smaller = signed_checkpoint(size=second, root=log_root(size=second))
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=third).update(jws=smaller)

    _size, problems = log_check()

    assert (
        Problem(f"checkpoint {third}", "its stored size or root differs from what it signs")
        in problems
    )


def test_a_checkpoint_replaced_by_a_forked_one_is_named(log):
    _first, second, _third = log.checkpoint_sizes
    forked_root = hashlib.sha256(b"another history").digest()
    forked = signed_checkpoint(size=second, root=forked_root)
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(jws=forked, root=forked_root.hex())

    _size, problems = log_check()

    assert problems == [Problem(f"checkpoint {second}", "its root is not the log's at its size")]


def test_a_log_rolled_back_below_its_checkpoint_is_named(log):
    *_earlier, third = log.checkpoint_sizes
    with evidence_unguarded():
        Receipt.objects.filter(entry__index__gte=third - 1).delete()
        LogEntry.objects.filter(index__gte=third - 1).delete()
        LogNode.objects.all().delete()
        LogHead.objects.update(tree_size=third - 1)

    _size, problems = log_check()

    assert Problem(f"checkpoint {third}", "claims more leaves than the log holds") in problems


def test_a_retired_key_dropped_from_the_key_history_is_named(log):
    first, *_later = log.checkpoint_sizes
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    _size, problems = log_check()

    assert [p.record for p in problems] == [f"checkpoint {first}"]
    assert "its signature does not verify" in problems[0].reason


def test_a_checkpoint_signed_outside_its_keys_period_is_named(log):
    first, *_later = log.checkpoint_sizes
    key = SigningKey.objects.get(kid=log.retired_kid)
    with evidence_unguarded():
        SigningKey.objects.filter(kid=key.kid).update(
            retired_at=key.created_at - timedelta(hours=1)
        )

    _size, problems = log_check()

    assert problems == [
        Problem(f"checkpoint {first}", f"signed by key {key.kid} when it was not in use")
    ]


def test_the_check_reads_the_log_in_batches(log, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr("ledger.integrity.BATCH", 2)

    with django_assert_max_num_queries(len(log.receipts) // 2 + 8):
        _size, problems = log_check()

    assert problems == []


def test_a_checkpoint_signed_smaller_after_a_larger_one_is_named_whatever_its_row_says(log):
    *_earlier, third = log.checkpoint_sizes
    later = int(time.time()) + 60
    smaller = signed_checkpoint(size=third - 1, root=log_root(size=third - 1), timestamp=later)
    with evidence_unguarded():
        # Its row dated before the others, to hide the order it was signed in.
        Checkpoint.objects.create(
            tree_size=third - 1,
            root=log_root(size=third - 1).hex(),
            jws=smaller,
        )
        Checkpoint.objects.filter(tree_size=third - 1).update(
            created_at=timezone.now() - timedelta(days=1)
        )

    _size, problems = log_check()

    assert (
        Problem(f"checkpoint {third - 1}", f"is smaller than checkpoint {third}, signed before it")
        in problems
    )


@pytest.mark.parametrize("timestamp", ["yesterday", 10**20, True])
def test_a_checkpoint_signed_at_no_time_the_calendar_holds_is_named(log, timestamp):
    _first, second, _third = log.checkpoint_sizes
    odd = signed_checkpoint(size=second, root=log_root(size=second), timestamp=timestamp)
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size=second).update(jws=odd)

    _size, problems = log_check()

    assert (
        Problem(
            f"checkpoint {second}",
            f"signed by key {jws.header_of(odd)['kid']} when it was not in use",
        )
        in problems
    )


def test_a_receipt_waiting_longer_than_the_merge_delay_is_named(log, settings):
    issue_receipts(1)  # integrated at once
    with transaction.atomic():
        log_queue(data="waiting")
    assert log_check()[1] == []  # queued just now: within the delay

    later = timezone.now() + timedelta(seconds=settings.OMADATA_LOG_MERGE_DELAY + 5)
    with time_machine.travel(later, tick=False):
        _size, problems = log_check()

    assert problems == [Problem("log queue", "1 receipts have waited longer than the merge delay")]


def test_an_entry_without_an_index_that_is_not_queued_is_named(log):
    with transaction.atomic():
        entry = log_queue(data="dropped from the queue")
    with evidence_unguarded():
        LogQueue.objects.filter(entry=entry).delete()

    _size, problems = log_check()

    assert Problem(f"entry {entry.pk}", "has no index and is not queued") in problems


def test_a_receipt_signed_before_the_sequencer_must_state_its_own_index(log):
    """Receipts from before the sequencer state `log_index`; the check holds them to it."""
    from audit.integrity import receipts_check

    receipt = log.at(3)
    payload = jws.verify(receipt.jws, typ="consent-receipt+jwt")
    payload["omadata"]["log_index"] = 7
    forged = jws.sign(payload, typ="consent-receipt+jwt")
    with evidence_unguarded():
        LogEntry.objects.filter(pk=receipt.pk).update(
            data=forged, sha256=hashlib.sha256(forged.encode()).hexdigest()
        )

    reasons = {problem.reason for problem in receipts_check()}

    assert "it states the log index 7" in reasons
