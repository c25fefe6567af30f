# A queue row goes only with its entry's index, and never names an integrated entry
# (common/evidence.py).

from django.db import migrations

from common.evidence import log_queue_holds_its_place


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0006_log_sequencer'),
    ]

    operations = [
        log_queue_holds_its_place(),
    ]
