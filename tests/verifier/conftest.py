"""The offline verifier as an auditor has it: pip-installed into a virtual environment of its
own, with no Django and none of the operator's code; and a receipt log to check, made by the
operator's own services.
"""

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import checkpoints
from ledger.bundles import audit_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def verify_command(tmp_path_factory) -> Path:
    """`omadata-verify` in a fresh virtual environment, installed from verifier/ with pip.

    pip fetches `cryptography` and the build backend from the package index (or its
    cache). The package is copied first: pip builds in the source tree, and the
    checkout stays clean.
    """
    folder = tmp_path_factory.mktemp("verifier")
    source = shutil.copytree(
        ROOT / "verifier", folder / "source", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    installed = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", source],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv / "bin" / "omadata-verify"


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_verify(command: Path, *args: str | Path, cwd: Path) -> Outcome:
    """Run the installed verifier where the operator's code is not on any path."""
    done = subprocess.run(
        [command, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )  # fmt: skip
    return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def verify(verify_command, tmp_path):
    def run(*args: str | Path) -> Outcome:
        return run_verify(verify_command, *args, cwd=tmp_path)

    return run


def bundle_file(folder: Path, *, start: int = 0, end: int | None = None) -> Path:
    """The operator's audit bundle of [start, end) (default: up to the latest checkpoint)."""
    if end is None:
        end = checkpoints.checkpoint_latest().tree_size
    path = folder / f"bundle-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(audit_bundle(start=start, end=end)))
    return path
