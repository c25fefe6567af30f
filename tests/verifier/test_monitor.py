"""`omadata-verify follow`, installed without Django, watching a live operator's log."""

import socket

import pytest

from consent.models import Receipt
from ledger import checkpoints
from ledger.models import Checkpoint, LogEntry, LogHead, LogNode, SigningKey
from tests.tampering import evidence_unguarded, issue_receipts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def follow(verify, live_operator, tmp_path):
    def once():
        return verify("follow", live_operator, "--state", tmp_path / "state.json", "--once")

    return once


def more_receipts(count: int) -> int:
    """Log `count` more receipts and sign a checkpoint; return its size."""
    issue_receipts(count)
    return checkpoints.checkpoint_sign().tree_size


def restore_log_to(size: int) -> None:
    """The receipt log as a backup taken at `size` leaves would bring it back."""
    with evidence_unguarded():
        Checkpoint.objects.filter(tree_size__gt=size).delete()
        Receipt.objects.filter(entry__index__gte=size).delete()
        LogEntry.objects.filter(index__gte=size).delete()
        for node in LogNode.objects.all():
            if (node.index + 1) << node.level > size:
                node.delete()
        LogHead.objects.update(tree_size=size)


def test_the_first_checkpoint_is_verified_and_kept(live_operator, log, follow, tmp_path):
    result = follow()

    assert result.status == 0, result.output
    assert f"checkpoint {log.checkpoint_sizes[-1]}: first seen" in result.out
    assert (tmp_path / "state.json").exists()


def test_a_grown_log_is_verified_against_the_last_checkpoint(live_operator, log, follow):
    follow()
    grown = more_receipts(3)

    result = follow()

    assert result.status == 0, result.output
    assert f"checkpoint {grown}: extends checkpoint {log.checkpoint_sizes[-1]}" in result.out


def test_a_log_restored_from_an_older_backup_is_a_rollback(live_operator, log, follow):
    _first, second, third = log.checkpoint_sizes
    follow()
    restore_log_to(second)

    result = follow()

    assert result.status == 1
    assert f"rollback: the latest checkpoint has {second} leaves, fewer than the {third}" in (
        result.err
    )


def test_a_restored_log_grown_again_is_a_fork(live_operator, log, follow):
    _first, second, third = log.checkpoint_sizes
    follow()
    restore_log_to(second)
    regrown = more_receipts(third - second + 2)

    result = follow()

    assert result.status == 1
    assert f"fork: checkpoint {regrown} does not extend checkpoint {third}" in result.err


def test_a_restored_log_grown_to_the_same_size_is_a_fork(live_operator, log, follow):
    _first, second, third = log.checkpoint_sizes
    follow()
    restore_log_to(second)
    more_receipts(third - second)

    result = follow()

    assert result.status == 1
    assert f"fork: two signed roots for a tree of {third} leaves" in result.err


def test_a_key_dropped_from_the_jwks_is_named(live_operator, log, follow):
    follow()
    with evidence_unguarded():
        SigningKey.objects.filter(kid=log.retired_kid).delete()

    result = follow()

    assert result.status == 1
    assert f"key {log.retired_kid}, published before, is missing from the JWKS" in result.err


def test_a_failed_check_leaves_the_state_as_it_was(live_operator, log, follow, tmp_path):
    follow()
    kept = (tmp_path / "state.json").read_text()
    restore_log_to(log.checkpoint_sizes[1])

    follow()

    assert (tmp_path / "state.json").read_text() == kept


def test_an_operator_that_cannot_be_reached_is_named_without_a_traceback(verify, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = verify("follow", f"http://127.0.0.1:{port}", "--state", tmp_path / "s.json", "--once")

    assert result.status == 2
    assert f"cannot reach http://127.0.0.1:{port}/.well-known/jwks.json" in result.err
    assert "Traceback" not in result.output
