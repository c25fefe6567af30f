"""The offline verifier as an auditor has it: pip-installed into a virtual environment of its
own, with no Django and none of the operator's code; and a receipt log to check, made by the
operator's own services.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection, transaction

from consent import services
from consent.models import Consent, Receipt
from consent.receipts import transfer_receipt_issue
from ledger import checkpoints, keys
from ledger.bundles import audit_bundle
from tests.factories import (
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE_TABLES = (
    "ledger_logentry", "ledger_lognode", "ledger_checkpoint", "ledger_signingkey",
    "ledger_loghead", "consent_receipt",
)  # fmt: skip


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


def issue_receipts(count: int) -> None:
    """Log `count` more receipts: deliveries under the first consent."""
    consent = Consent.objects.first()
    for _ in range(count):
        with transaction.atomic():
            transfer_receipt_issue(
                consent=consent, transfer_id=str(uuid.uuid4()), byte_count=1, sha256="0" * 64
            )


@contextmanager
def evidence_unguarded():
    """Let the test change evidence, as someone with the database's owner role could.

    PostgreSQL refuses it with triggers (common/evidence.py): as their owner, the test
    turns them off for the moment. SQLite has no such triggers.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # ALTER TABLE waits for no deferred foreign key check: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgrelid::regclass::text = ANY(%s) AND NOT tgisinternal AND tgenabled = 'A'",
            [list(EVIDENCE_TABLES)],
        )
        triggers = cursor.fetchall()
        for table, name in triggers:
            cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, name in triggers:
                cursor.execute(f'ALTER TABLE {table} ENABLE ALWAYS TRIGGER "{name}"')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@dataclass
class Log:
    """A receipt log of every kind of receipt, signed with two keys, under three checkpoints."""

    receipts: list[Receipt]
    retired_kid: str
    checkpoint_sizes: list[int]

    def at(self, index: int) -> Receipt:
        return next(r for r in self.receipts if r.log_index == index)


@pytest.fixture
def log(source_provider, sink_provider, data_types, staff, aino, eero) -> Log:
    wearable = register_service(source_provider, source_spec(), approve_by=staff)
    wellbeing = register_service(sink_provider, sink_spec(), approve_by=staff)
    linked = link_resident(aino, wearable)
    consent = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
    services.consent_pause(consent=consent)
    first = checkpoints.checkpoint_sign().tree_size
    retired_kid = keys.active_key()["kid"]
    keys.key_rotate()
    services.consent_resume(consent=consent)
    with transaction.atomic():  # as the relay issues it, with the transfer's change
        transfer_receipt_issue(
            consent=consent, transfer_id=str(uuid.uuid4()), byte_count=5,
            sha256=hashlib.sha256(b"12345").hexdigest(),
        )  # fmt: skip
    refused = request_consent(sink=wellbeing, source=wearable)
    services.consent_refuse(request=refused, resident=aino, language="en", notice_text="n")
    second = checkpoints.checkpoint_sign().tree_size
    link_resident(eero, wearable, reference="watch-owner-2")
    services.consent_withdraw(consent=consent)
    services.link_remove(link=linked)
    third = checkpoints.checkpoint_sign().tree_size
    receipts = list(Receipt.objects.select_related("entry").order_by("entry__index"))
    return Log(receipts=receipts, retired_kid=retired_kid, checkpoint_sizes=[first, second, third])
