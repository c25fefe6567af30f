"""A database made by Omadata 0.1 is refused by name, before `migrate` touches it."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("app", "name"),
    [
        ("consent", "0005_one_checkpoint_per_size"),  # the last of 0.1
        ("consent", "0002_signingkey"),  # an early one
        ("relay", "0002_transfer_scheduled"),
    ],
)
def test_a_database_of_release_0_1_is_refused_with_what_to_do(app, name):
    MigrationRecorder.Migration.objects.create(app=app, name=name)

    with pytest.raises(SystemCheckError, match=r"omadata\.E002.*made by Omadata 0\.1"):
        call_command("migrate", "--check", verbosity=0, skip_checks=False)


def test_a_database_of_this_release_passes_the_check():
    call_command("migrate", "--check", verbosity=0, skip_checks=False)
