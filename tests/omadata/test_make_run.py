"""`make run` in a terminal: one Ctrl-C stops every process cleanly, and make ends with 0.

The test runs the real `make run` (migrate, seed, the Procfile's four processes)
in a terminal of its own, a pseudo-terminal, with its own var directory, SQLite
database, embedded broker and free ports; Ctrl-C is the ^C character typed into
the terminal, which sends SIGINT to the terminal's foreground process group.
"""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from omadata.procfile import GRACE_SECONDS
from tests.servers import ROOT, wait_for

pytestmark = [
    pytest.mark.slow,  # migrate and seed a fresh database, start everything, stop it
    pytest.mark.skipif(sys.platform != "linux", reason="finds the processes in /proc"),
]

# The developer's or CI's own parts must not be touched: the run gets SQLite and
# the filesystem broker under its own var directory, and a make of its own.
_NOT_INHERITED = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "MAKEFLAGS", "MAKELEVEL",
                  "MFLAGS", "DJANGO_ALLOW_ASYNC_UNSAFE")  # fmt: skip


def test_ctrl_c_stops_every_process_without_sigkill_and_make_exits_0(tmp_path):
    run = TerminalRun(var_dir=tmp_path / "var", port=_two_free_ports())
    try:
        wait_for(run.healthy_or_ended, timeout=90, interval=0.5)
        assert run.process.poll() is None, run.output()
        pressed = time.monotonic()
        run.type(b"\x03")
        status = run.process.wait(timeout=GRACE_SECONDS + 20)
        took = time.monotonic() - pressed
        left = run.leftovers(wait=3)
    finally:
        run.kill_everything()

    output = run.output()
    assert status == 0, output
    assert "SIGKILL" not in output
    assert took < GRACE_SECONDS, output
    assert left == []
    for name in ("web", "worker", "scheduler", "demo"):
        assert f"{name} stopped" in output


class TerminalRun:
    """`make run` as a newcomer starts it: the leader of a new session with a terminal."""

    def __init__(self, *, var_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env = {k: v for k, v in env.items() if not k.startswith("OMADATA_")}
        env.update(OMADATA_VAR_DIR=str(var_dir), PORT=str(port))
        self.health_url = f"http://127.0.0.1:{port}/health"
        self._master, terminal = os.openpty()
        self.process = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env,
            stdin=terminal, stdout=terminal, stderr=terminal,
            start_new_session=True, preexec_fn=_take_controlling_terminal,
        )  # fmt: skip
        os.close(terminal)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the last process holding the terminal has gone
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def healthy_or_ended(self) -> bool:
        if self.process.poll() is not None:
            return True
        try:
            return requests.get(self.health_url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def session_pids(self) -> list[int]:
        """The processes still in make's session: make's, and what it started."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # After "pid (command)": state, parent, process group, session, ...
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # it ended while we looked
            if int(fields[3]) == self.process.pid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
        return pids

    def leftovers(self, *, wait: float) -> list[int]:
        """The session's processes still there after `wait` seconds (children take a moment)."""
        deadline = time.monotonic() + wait
        while (pids := self.session_pids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    def kill_everything(self) -> None:
        for pid in self.session_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        os.close(self._master)


def _take_controlling_terminal() -> None:
    # In the child, after setsid(): stdin, the new terminal, becomes its terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _two_free_ports() -> int:
    """A port whose next one is free too: make run puts the demo services there."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
