"""Staff sign a checkpoint at once with a command, as the scheduler does."""

import pytest
from django.core.management import call_command
from django.db import transaction

from ledger.log import log_append
from ledger.models import Checkpoint

pytestmark = pytest.mark.django_db


def test_the_command_signs_the_log_as_it_is(capsys):
    with transaction.atomic():
        for n in range(3):
            log_append(data=f"leaf {n}")

    call_command("checkpoint_sign")

    assert Checkpoint.objects.get().tree_size == 3
    assert "Checkpoint of 3 receipts" in capsys.readouterr().out
