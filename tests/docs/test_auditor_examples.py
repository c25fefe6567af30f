"""docs/auditors.md: the shell examples and the checking script, against a live operator."""

import pytest

from consent import services
from consent.models import Receipt
from ledger import checkpoints
from tests.docs.examples import DOCS, examples, report, run, shell_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shell]


def test_auditor_examples_check_a_receipt_against_signed_checkpoints(demo_world, consent, tmp_path):
    # The scheduler's checkpoint at three leaves, then two receipts more: the old tree is
    # not a perfect one, so the consistency proof takes its longer path.
    assert checkpoints.checkpoint_sign().tree_size == 3
    services.consent_pause(consent=consent)
    services.consent_resume(consent=consent)
    granted = Receipt.objects.get(consent=consent, event=Receipt.Event.GRANTED)
    # The run's folder holds var/demo.json, where the examples read the auditor's client.
    folder = tmp_path
    (folder / "receipt.jws").write_text(granted.jws + "\n")
    found = examples(DOCS / "auditors.md")

    outcomes = run(found, cwd=folder, env=shell_environment(OMADATA=demo_world.operator))

    assert [o.example.status for o in outcomes][-1] is None  # the script ran, last
    assert report(outcomes) == ""
    assert "is leaf 2 of the tree of 5" in outcomes[-1].output
    assert "the tree of 5 extends the tree of 3" in outcomes[-1].output
