# The database refuses to change receipts (common/evidence.py).

from django.db import migrations

from common.evidence import evidence_triggers


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0002_link_return'),
        ('ledger', '0002_append_only'),
    ]

    operations = [
        evidence_triggers('consent_receipt'),
    ]
