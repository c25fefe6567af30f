# Receipts wait in a queue for the log sequencer, which gives each its index once
# (common/evidence.py).

import django.db.models.deletion
from django.db import migrations, models

from common.evidence import log_entry_triggers_for_sequencer, log_sequencer_functions


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0005_leaf_hash_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='logentry',
            name='index',
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.CreateModel(
            name='LogQueue',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('entry', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='queued', to='ledger.logentry')),
            ],
            options={
                'verbose_name': 'queued log entry',
                'verbose_name_plural': 'queued log entries',
            },
        ),
        log_sequencer_functions(),
        log_entry_triggers_for_sequencer(),
    ]
