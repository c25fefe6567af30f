# At commit, the receipt log's head claims only leaves that are stored (common/evidence.py).

from django.db import migrations

from common.evidence import log_stored_functions, stored_at_commit


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_signing_key_owner_writes_only'),
    ]

    operations = [
        log_stored_functions(),
        stored_at_commit(
            'ledger_loghead', function='omadata_log_head_stored', events='INSERT OR UPDATE'
        ),
        stored_at_commit('ledger_logentry', function='omadata_log_entry_stored'),
        stored_at_commit('ledger_lognode', function='omadata_log_node_stored'),
    ]
