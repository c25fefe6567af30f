"""Staff sign a checkpoint at once with a command, as the scheduler does."""

import pytest
from django.core.management import call_command

from ledger.models import Checkpoint
from tests.logs import append

pytestmark = pytest.mark.django_db


def test_the_command_signs_the_log_as_it_is(capsys):
    append(*(f"leaf {n}" for n in range(3)))

    call_command("checkpoint_sign")

    assert Checkpoint.objects.get().tree_size == 3
    assert "Checkpoint of 3 receipts" in capsys.readouterr().out
