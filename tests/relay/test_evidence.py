"""Evidence is written once: the database refuses to change it (common/evidence.py).

On PostgreSQL, triggers refuse UPDATE and DELETE of receipts, the receipt log,
checkpoints, audit events and delivery attempts, whoever asks; a signing key may
only be retired, once, and the log head only grows, by leaves that are stored.
Everywhere, Django refuses to delete a row that evidence points to.
"""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from consent import services as consent_services
from consent.models import Receipt
from ledger import keys
from ledger.checkpoints import checkpoint_sign
from ledger.log import log_size
from ledger.models import Checkpoint, SigningKey
from registry.models import AuditEvent
from relay.models import Transfer, TransferAttempt
from tests.relay.helpers import relay_until_final, request_transfer
from tests.servers import Answer
from webhooks import services as notifications
from webhooks.models import Notification, NotificationAttempt

pytestmark = pytest.mark.django_db

# A change to one column of each append-only table, as an application role could try it.
CHANGES = {
    "consent_receipt": "UPDATE consent_receipt SET event = 'consent.refused'",
    "ledger_logentry": "UPDATE ledger_logentry SET data = 'forged'",
    "ledger_lognode": "UPDATE ledger_lognode SET hash = '\\x00'::bytea",
    "ledger_checkpoint": "UPDATE ledger_checkpoint SET root = repeat('0', 64)",
    "registry_auditevent": "UPDATE registry_auditevent SET action = 'service.approved'",
    "webhooks_notificationattempt": "UPDATE webhooks_notificationattempt SET outcome = 'delivered'",
    "relay_transferattempt": "UPDATE relay_transferattempt SET outcome = 'delivered'",
}
DELETES = {
    "consent_receipt": "DELETE FROM consent_receipt",
    "ledger_logentry": "DELETE FROM ledger_logentry",
    "ledger_lognode": "DELETE FROM ledger_lognode",
    "ledger_checkpoint": "DELETE FROM ledger_checkpoint",
    "registry_auditevent": "DELETE FROM registry_auditevent",
    "webhooks_notificationattempt": "DELETE FROM webhooks_notificationattempt",
    "relay_transferattempt": "DELETE FROM relay_transferattempt",
}
GUARDED = [*CHANGES, "ledger_signingkey", "ledger_loghead", "ledger_logqueue"]
# Beyond refusing changes: who may write keys, the log checked at commit, the audit clock.
MORE_TRIGGERS = [
    ("ledger_signingkey", "omadata_evidence_owner"),
    ("ledger_loghead", "omadata_evidence_stored"),
    ("ledger_logentry", "omadata_evidence_stored"),
    ("ledger_lognode", "omadata_evidence_stored"),
    ("ledger_logqueue", "omadata_evidence_stored"),
    ("registry_auditevent", "omadata_evidence_now"),
]
KEY_CHANGE = "UPDATE ledger_signingkey SET {} WHERE kid = %s"


@pytest.fixture
def consent_lived(peers, consent):
    """Aino's consent through a whole life: a transfer delivered, notified, checkpointed, withdrawn.

    Every append-only table has rows afterwards, made the ordinary way.
    """
    peers[0].answers = [Answer(body=b'{"steps": [1, 2]}')]
    relay_until_final(request_transfer(consent))
    for notification in Notification.objects.all():
        notifications.notification_deliver(notification_id=notification.id)
    checkpoint_sign()
    consent_services.consent_withdraw(consent=consent)
    return consent


def refused(sql: str, *params: str, at_commit: bool = False) -> bool:
    """Whether a trigger refuses `sql`; the test's transaction stays usable either way.

    `at_commit`: run the checks that wait for the commit too, as it would.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            if at_commit:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError as error:
        message = str(error)
    else:
        return False
    assert "refused" in message, message  # a trigger's refusal, not some other integrity error
    return True


@pytest.mark.postgres
def test_every_guarded_table_has_its_triggers_always_enabled():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'omadata_evidence_%%'"
        )
        found = cursor.fetchall()

    expected = {
        (table, trigger, "A")
        for table in GUARDED
        for trigger in ("omadata_evidence_rows", "omadata_evidence_truncate")
    } | {(table, trigger, "A") for table, trigger in MORE_TRIGGERS}
    assert set(found) == expected


@pytest.mark.postgres
def test_normal_operation_writes_its_evidence_under_the_triggers(consent_lived):
    old = keys.active_key()["kid"]
    new = keys.key_rotate()["kid"]
    checkpoint_sign()

    consent_lived.refresh_from_db()
    assert consent_lived.status == "withdrawn"
    events = list(Receipt.objects.filter(consent=consent_lived).values_list("event", flat=True))
    assert events == ["consent.granted", "transfer.delivered", "consent.withdrawn"]
    assert Transfer.objects.get().status == "delivered"
    assert TransferAttempt.objects.get().outcome == "delivered"
    assert NotificationAttempt.objects.filter(outcome="delivered").exists()
    assert Checkpoint.objects.order_by("-tree_size").first().tree_size == log_size()
    assert SigningKey.objects.get(kid=old).retired_at is not None
    assert SigningKey.objects.get(kid=new).retired_at is None


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(CHANGES))
def test_an_evidence_row_cannot_be_changed(consent_lived, table):
    assert refused(CHANGES[table])


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(CHANGES))
def test_an_evidence_row_cannot_be_deleted(consent_lived, table):
    assert refused(DELETES[table])


@pytest.mark.postgres
def test_a_signing_key_is_only_ever_retired_once(consent_lived):
    kid = keys.active_key()["kid"]
    delete = "DELETE FROM ledger_signingkey WHERE kid = %s"

    assert refused(KEY_CHANGE.format("public_jwk = '{}'"), kid)
    assert refused(KEY_CHANGE.format("kid = 'forged'"), kid)
    assert refused(delete, kid)
    assert not refused(KEY_CHANGE.format("retired_at = now()"), kid)
    assert refused(KEY_CHANGE.format("retired_at = now()"), kid)
    assert refused(KEY_CHANGE.format("retired_at = NULL"), kid)
    assert refused(delete, kid)


@pytest.mark.postgres
def test_the_receipt_log_head_only_grows(consent_lived):
    assert refused("UPDATE ledger_loghead SET tree_size = tree_size - 1")
    assert refused("UPDATE ledger_loghead SET tree_size = tree_size")
    assert refused("UPDATE ledger_loghead SET tree_size = 0")
    assert refused("DELETE FROM ledger_loghead")
    # It grows only by leaves that are stored (tests/ledger/test_log_stored.py).
    assert refused("UPDATE ledger_loghead SET tree_size = tree_size + 1", at_commit=True)


def test_a_transfer_with_attempts_cannot_be_deleted(consent_lived):
    with pytest.raises(ProtectedError):
        Transfer.objects.all().delete()


def test_a_notification_with_attempts_cannot_be_deleted(consent_lived):
    with pytest.raises(ProtectedError):
        Notification.objects.filter(attempts__gt=0).delete()


def test_a_user_named_in_audit_events_cannot_be_deleted(staff, consent_lived):
    assert AuditEvent.objects.filter(actor=staff).exists()

    with pytest.raises(ProtectedError):
        staff.delete()


def test_an_organisation_with_audit_events_cannot_be_deleted(other_sink_provider):
    assert AuditEvent.objects.filter(organisation=other_sink_provider.organisation).exists()

    with pytest.raises(ProtectedError):
        other_sink_provider.organisation.delete()
