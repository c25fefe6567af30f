"""`omadata-verify follow`, installed without Django, watching a live operator's log."""

import socket
import subprocess

import pytest
from omadata_verifier import monitor

from consent.models import Receipt
from ledger import checkpoints
from ledger.models import Checkpoint, LogEntry, LogHead, LogNode, SigningKey
from tests.servers import Answer, wait_for
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


# -- answers and state files made to stop the monitor ---------------------------------

NESTED = b"[" * 200_000 + b"]" * 200_000  # under the 1 MiB cap, deeper than Python's stack


def hostile_operator(receiver) -> str:
    """The base URL of a server that answers every path with what `receiver.answers` holds."""
    return f"http://127.0.0.1:{receiver.port}"


def test_an_answer_nested_too_deeply_is_named_without_a_traceback(verify, receiver, tmp_path):
    receiver.answers = [Answer(body=NESTED)]

    result = verify("follow", hostile_operator(receiver), "--state", tmp_path / "s.json", "--once")

    assert result.status == 2
    assert "jwks.json answered JSON nested too deeply to read" in result.err
    assert "Traceback" not in result.output


def test_following_goes_on_after_an_answer_nested_too_deeply(verify_command, receiver, tmp_path):
    receiver.answers = [Answer(body=NESTED), Answer(body=NESTED)]
    url = hostile_operator(receiver)
    following = subprocess.Popen(
        [verify_command, "follow", url, "--state", tmp_path / "s.json", "--interval", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        wait_for(lambda: len(receiver.requests) >= 3)
    finally:
        following.terminate()
        output, _ = following.communicate(timeout=30)

    assert output.count("not checked this time: ") >= 3, output
    assert "nested too deeply to read" in output
    assert "Traceback" not in output


def test_an_answer_trickled_byte_by_byte_is_cut_off(receiver, tmp_path, monkeypatch):
    monkeypatch.setattr(monitor, "TIMEOUT", 0.5)
    receiver.answers = [Answer(body=b'{"keys": []}' * 100, drip=0.02)]

    with pytest.raises(monitor.Unreachable, match=r"took more than 0\.5 seconds to answer"):
        monitor.follow_once(hostile_operator(receiver), state=tmp_path / "s.json")


def test_a_key_with_fields_that_are_not_strings_is_no_key_set(verify, receiver, tmp_path):
    receiver.answers = [Answer(body=b'{"keys": [{"kid": "k1", "kty": "EC", "x": [1]}]}')]

    result = verify("follow", hostile_operator(receiver), "--state", tmp_path / "s.json", "--once")

    assert result.status == 2
    assert "the JWKS is not a key set: key 'k1' has a field not a string" in result.err


@pytest.mark.parametrize(
    ("content", "wrong"),
    [
        (b'{"keys": ["a"]}', "is not one this monitor wrote: its keys is malformed"),
        (b'{"keys": null}', "is not one this monitor wrote: its keys is malformed"),
        (b'{"keys": {"k1": "x"}}', "is not one this monitor wrote: its keys is malformed"),
        (b'{"jws": 5, "operator": ["x"]}', "its operator, jws are malformed"),
        (b'{"tree_size": -1}', "its tree_size is malformed"),
        (b"[1]", "is not one this monitor wrote: not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),
        (b"\xff\xfe{", "is not JSON"),
    ],
    ids=[
        "keys-list",
        "keys-null",
        "key-string",
        "jws-int",
        "size-negative",
        "list",
        "deep",
        "bytes",
    ],
)
def test_a_state_file_this_monitor_did_not_write_is_refused(verify, tmp_path, content, wrong):
    state = tmp_path / "state.json"
    state.write_bytes(content)

    # The state file is read first: the operator's address is never asked.
    result = verify("follow", "http://127.0.0.1:9", "--state", state, "--once")

    assert result.status == 2
    assert f"the state file {state} " in result.err
    assert wrong in result.err
    assert "Traceback" not in result.output
    assert state.read_bytes() == content


@pytest.mark.parametrize("interval", ["nan", "-1", "0", "1e300", "soon"])
def test_an_interval_that_cannot_be_waited_is_refused(verify, tmp_path, interval):
    result = verify("follow", "http://127.0.0.1:9", "--interval", interval)

    assert result.status == 2
    assert "is not a number of seconds from 0 to 604800" in result.err
    assert "Traceback" not in result.output
