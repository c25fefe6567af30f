# The database refuses to change the receipt log and its keys (common/evidence.py).

from django.db import migrations

from common.evidence import (
    LOG_HEAD_GROW_ONLY,
    SIGNING_KEY_RETIRE_ONCE,
    evidence_functions,
    evidence_triggers,
)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
    ]

    operations = [
        evidence_functions(),
        evidence_triggers('ledger_logentry'),
        evidence_triggers('ledger_lognode'),
        evidence_triggers('ledger_checkpoint'),
        evidence_triggers('ledger_signingkey', rows=SIGNING_KEY_RETIRE_ONCE),
        evidence_triggers('ledger_loghead', rows=LOG_HEAD_GROW_ONLY),
    ]
