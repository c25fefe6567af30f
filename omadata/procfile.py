"""`make run`'s last step: run the Procfile's processes, and stop them all on one Ctrl-C.

`python -m omadata.procfile Procfile`. In place of honcho, which cannot do what
a clean Ctrl-C needs:

- signal each process alone, not its process group: a group's SIGTERM also
  reaches the Celery worker's pool processes, which die under its warm shutdown;
- wait long enough: on the filesystem broker the worker notices a stop only
  every 2 to 3.5 seconds, then closes its pool and timer, 5-8 seconds in all;
  honcho sends SIGKILL after 5 and has no option to wait longer;
- end with status 0 when everything stopped cleanly (honcho: 130 after any Ctrl-C).

And it takes the terminal's Ctrl-C away from make: make dies of any SIGINT it
receives, status 130, however its recipe ends. So while the processes run, this
process's own group is the terminal's foreground group, as a job-control shell
makes each job's.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# From SIGTERM to SIGKILL: room for the worker's warm shutdown on a busy machine.
GRACE_SECONDS = 15.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CLEAN_ENDS = (0, -signal.SIGTERM)  # exited by itself, or died of the SIGTERM it was sent
OWN_NAME = "run"


def procfile_read(path: Path) -> dict[str, str]:
    """The `name: command` lines of a Procfile, in order."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


class Output:
    """Whole lines from every process on our stdout, each after its process's name."""

    def __init__(self, names: list[str]) -> None:
        self._width = max(len(name) for name in [*names, OWN_NAME])
        self._lock = threading.Lock()

    def line(self, name: str, data: bytes) -> None:
        prefix = f"{name:<{self._width}} | ".encode()
        # A closed terminal or pipe must not stop the stopping: the line is lost.
        with self._lock, suppress(OSError):
            sys.stdout.buffer.write(prefix + data.rstrip(b"\n") + b"\n")
            sys.stdout.buffer.flush()

    def say(self, message: str) -> None:
        self.line(OWN_NAME, message.encode())


def procfile_run(entries: dict[str, str]) -> int:
    """Run every entry until a stop signal comes or one of them ends, then stop them all.

    Returns 0 when a signal asked for the stop and every process stopped cleanly
    within the grace; 1 when one ended by itself first, failed, or had to be killed.
    """
    signalled: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: signalled.append(signum))
    output = Output(list(entries))
    with _terminal_foreground():
        processes = {name: _start(command) for name, command in entries.items()}
        readers = [
            threading.Thread(target=_relay, args=(name, process, output), daemon=True)
            for name, process in processes.items()
        ]
        for reader in readers:
            reader.start()
        while not signalled and all(p.poll() is None for p in processes.values()):
            time.sleep(0.1)
        ended_first = [name for name, p in processes.items() if p.poll() is not None]
        for name in ended_first:
            output.say(f"{name} ended by itself (rc={processes[name].returncode})")
        killed = _stop(processes, output)
        for reader in readers:
            reader.join(timeout=2)
    failed = [name for name, p in processes.items() if p.returncode not in CLEAN_ENDS]
    return 0 if signalled and not (ended_first or killed or failed) else 1


def _start(command: str) -> subprocess.Popen:
    # `exec`: the signal goes to the program itself, not to a shell waiting for it.
    # Its own process group: the terminal's Ctrl-C reaches us alone, and one
    # killpg reaches the program's children too.
    return subprocess.Popen(  # noqa: S603 -- the Procfile's commands, as written there
        ["/bin/sh", "-c", f"exec {command}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        process_group=0,
    )  # fmt: skip


def _relay(name: str, process: subprocess.Popen, output: Output) -> None:
    assert process.stdout is not None  # started with stdout=PIPE
    for data in iter(process.stdout.readline, b""):
        output.line(name, data)


def _stop(processes: dict[str, subprocess.Popen], output: Output) -> list[str]:
    """SIGTERM each running process; SIGKILL what is left of any after the grace.

    Returns the names of the processes that had to be killed.
    """
    for name, process in processes.items():
        if process.poll() is None:
            output.say(f"sending SIGTERM to {name} (pid {process.pid})")
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(p.poll() is None for p in processes.values()):
        time.sleep(0.1)
    killed = []
    for name, process in processes.items():
        if process.poll() is None:
            output.say(f"sending SIGKILL to {name} (pid {process.pid})")
            killed.append(name)
        with suppress(ProcessLookupError):  # the whole group: no child is left behind
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        output.say(f"{name} stopped (rc={process.returncode})")
    return killed


@contextmanager
def _terminal_foreground() -> Iterator[None]:
    """Be the terminal's foreground process group for the duration, if make is now."""
    try:
        terminal = sys.stdin.fileno()
        owner = os.tcgetpgrp(terminal)
    except (OSError, ValueError):
        yield  # no terminal: no Ctrl-C to take
        return
    if owner != os.getpgrp() or os.getpgrp() == os.getpid():
        yield  # in the background, or our group is already ours alone
        return
    os.setpgid(0, 0)
    _hand_terminal(terminal, os.getpgrp())
    # Ctrl-Z would stop us but not make, which would then wait on a stopped group.
    previous_tstp = signal.signal(signal.SIGTSTP, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTSTP, previous_tstp)
        with suppress(OSError):  # make's group is gone: nothing to give back
            _hand_terminal(terminal, owner)


def _hand_terminal(terminal: int, pgid: int) -> None:
    # A background group that sets the foreground one gets SIGTTOU, which would stop it.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(terminal, pgid)
    finally:
        signal.signal(signal.SIGTTOU, previous)


def main() -> None:
    sys.exit(procfile_run(procfile_read(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
