# Only the tables' owner may publish, change or delete a signing key (common/evidence.py).

from django.db import migrations

from common.evidence import owner_writes_only, owner_writes_only_function


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0002_append_only'),
    ]

    operations = [
        owner_writes_only_function(),
        owner_writes_only('ledger_signingkey'),
    ]
