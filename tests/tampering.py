"""A receipt log of every kind, and the means to tamper with it as someone with the
database's owner role could: for the tests that prove each check notices.
"""

import base64
import hashlib
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection, transaction

from consent import services
from consent.models import Consent, Receipt
from consent.receipts import transfer_receipt_issue
from ledger import checkpoints, jws, keys
from ledger.checkpoints import CHECKPOINT_TYP
from ledger.log import log_integrate
from ledger.models import LogEntry
from tests.factories import (
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)

EVIDENCE_TABLES = (
    "ledger_logentry", "ledger_lognode", "ledger_checkpoint", "ledger_signingkey",
    "ledger_loghead", "ledger_logqueue", "consent_receipt",
)  # fmt: skip


def issue_receipts(count: int) -> None:
    """Log `count` more receipts: deliveries under the first consent."""
    consent = Consent.objects.first()
    for _ in range(count):
        with transaction.atomic():
            transfer_receipt_issue(
                consent=consent, transfer_id=str(uuid.uuid4()), byte_count=1, sha256="0" * 64,
                part=1, parts=1, source=consent.sources.get().service,
            )  # fmt: skip
    log_integrate()


def swap_places(a: Receipt, b: Receipt) -> None:
    """Give two receipts each other's place in the log, as an owner rewriting it could."""
    with evidence_unguarded():
        LogEntry.objects.filter(pk=a.pk).update(index=-1)
        LogEntry.objects.filter(pk=b.pk).update(index=a.log_index)
        LogEntry.objects.filter(pk=a.pk).update(index=b.log_index)


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


def signed_checkpoint(*, size: int, root: bytes, timestamp: object = None) -> str:
    """A checkpoint signed with the operator's key, as an operator covering its tracks would."""
    payload = {
        "operator": settings.BASE_URL,
        "tree_size": size,
        "root": base64.b64encode(root).decode(),
        "timestamp": int(time.time()) if timestamp is None else timestamp,
    }
    return jws.sign(payload, typ=CHECKPOINT_TYP)


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
    log_integrate()
    first = checkpoints.checkpoint_sign().tree_size
    retired_kid = keys.active_key()["kid"]
    keys.key_rotate()
    services.consent_resume(consent=consent)
    with transaction.atomic():  # as the relay issues it, with the transfer's change
        transfer_receipt_issue(
            consent=consent, transfer_id=str(uuid.uuid4()), byte_count=5,
            sha256=hashlib.sha256(b"12345").hexdigest(), part=1, parts=1,
            source=consent.sources.get().service,
        )  # fmt: skip
    refused = request_consent(sink=wellbeing, source=wearable)
    services.consent_refuse(request=refused, resident=aino, language="en", notice_text="n")
    log_integrate()
    second = checkpoints.checkpoint_sign().tree_size
    link_resident(eero, wearable, reference="watch-owner-2")
    services.consent_withdraw(consent=consent)
    services.link_remove(link=linked)
    log_integrate()
    third = checkpoints.checkpoint_sign().tree_size
    receipts = list(Receipt.objects.select_related("entry").order_by(*Receipt.IN_ORDER))
    return Log(receipts=receipts, retired_kid=retired_kid, checkpoint_sizes=[first, second, third])
