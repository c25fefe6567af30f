"""The operator's audit bundles: what they hold, and the ranges it refuses."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from omadata_verifier import bundle as verifier

from ledger import checkpoints
from ledger.bundles import BundleRangeError, audit_bundle
from ledger.log import log_size
from tests.tampering import issue_receipts

pytestmark = pytest.mark.django_db


def test_a_bundle_holds_the_range_and_the_checkpoints_around_it(log):
    first, second, _third = log.checkpoint_sizes

    made = audit_bundle(start=first + 1, end=second)

    assert [r["log_index"] for r in made["receipts"]] == list(range(first + 1, second))
    assert [c["tree_size"] for c in made["checkpoints"]] == [first, second]
    assert [(p["first"], p["second"]) for p in made["consistency"]] == [(first, second)]
    assert made["inclusion"]["tree_size"] == second
    assert [k["kid"] for k in made["keys"] if k["retired_at"]] == [log.retired_kid]


def test_a_bundle_costs_queries_per_checkpoint_not_per_receipt(log):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            audit_bundle(start=0, end=checkpoints.checkpoint_latest().tree_size)
        return len(captured)

    before = queries()
    issue_receipts(40)
    checkpoints.checkpoint_sign()

    # One more checkpoint: its consistency proof reads the log's size and its nodes.
    assert queries() == before + 2


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (3, 2), (-1, 2), (0, 10**6)],
    ids=["empty", "reversed", "negative", "past"],
)
def test_a_range_outside_the_log_is_refused(log, start, end):
    with pytest.raises(BundleRangeError) as refused:
        audit_bundle(start=start, end=end)

    assert refused.value.code == "out_of_range"


def test_a_range_past_the_latest_checkpoint_is_refused_until_one_is_signed(log):
    issue_receipts(1)

    with pytest.raises(BundleRangeError) as refused:
        audit_bundle(start=0, end=log_size())

    assert refused.value.code == "no_checkpoint"


def test_the_command_writes_a_bundle_of_everything_checkpointed(log, tmp_path):
    call_command("audit_bundle", output=tmp_path / "bundle.json")

    report = verifier.check(json.loads((tmp_path / "bundle.json").read_text()))
    assert report.ok, report.problems
    assert (report.start, report.end) == (0, log.checkpoint_sizes[-1])


def test_the_command_says_why_a_range_is_refused(log, tmp_path):
    with pytest.raises(CommandError, match="there is no range from 5 to 999"):
        call_command("audit_bundle", start=5, end=1000, output=tmp_path / "bundle.json")
