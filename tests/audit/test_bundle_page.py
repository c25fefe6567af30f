"""The audit bundle from the pages: the form, and what a range it cannot serve gets."""

import pytest

from ledger.bundles import BUNDLE_MAX
from ledger.log import log_integrate, log_size
from tests.factories import link_resident, make_user

pytestmark = pytest.mark.django_db


def test_bundle_page_offers_the_range_of_the_latest_checkpoint(as_auditor, log):
    *_earlier, last = log.checkpoint_sizes

    response = as_auditor.get("/audit/bundle")

    assert response.status_code == 200
    form = response.context["bundle_form"]
    assert (form["start"].value(), form["end"].value()) == (0, last)


def test_a_bundle_is_a_json_attachment_of_its_range(as_auditor, log):
    _first, second, _third = log.checkpoint_sizes

    response = as_auditor.get("/audit/bundle", {"start": 1, "end": second})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="omadata-audit-1-{second - 1}.json"'
    )
    assert response.json()["range"] == {"start": 1, "end": second}
    assert "no-store" in response["Cache-Control"]


def test_a_range_past_the_log_is_a_400_page_saying_so(as_auditor, log):
    response = as_auditor.get("/audit/bundle", {"start": 0, "end": 999})

    assert response.status_code == 400
    assert f"The log has {log_size()} receipts" in response.content.decode()


def test_a_range_no_checkpoint_covers_is_a_409_page_saying_so(as_auditor, log):
    link_resident(make_user("late"), log.receipts[0].link.service)
    log_integrate()  # in the tree, not yet under a checkpoint

    response = as_auditor.get("/audit/bundle", {"start": 0, "end": log_size()})

    assert response.status_code == 409
    assert f"No signed checkpoint covers log index {log_size() - 1} yet" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": 0, "end": BUNDLE_MAX + 1}, f"by at most {BUNDLE_MAX} log indexes"),
        ({"start": 3, "end": 3}, "The end must be after the start"),
        ({"start": -1, "end": 3}, "greater than or equal to 0"),
        ({"start": "x", "end": 3}, "Enter a whole number"),
        ({"end": 3}, "This field is required"),
        ({"start": 0, "end": 2, "format": "csv"}, "Unknown parameters: format."),
    ],
)
def test_a_bad_range_is_a_400_page_saying_what_is_wrong(as_auditor, log, query, message):
    response = as_auditor.get("/audit/bundle", query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_resident_is_refused_a_bundle(client, aino, log):
    client.force_login(aino)

    assert client.get("/audit/bundle", {"start": 0, "end": 2}).status_code == 403
