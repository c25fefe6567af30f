"""The audit pages through Django's test client."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import services as consent_services
from consent.models import Receipt
from ledger import checkpoints
from ledger.log import log_size
from ledger.models import Checkpoint, LogEntry
from relay import services as relay_services
from tests.factories import PASSWORD, grant_consent, link_resident, request_consent
from tests.tampering import evidence_unguarded

pytestmark = pytest.mark.django_db


def test_auditor_lands_on_the_audit_pages_after_login(client, auditor):
    response = client.post("/accounts/login/", {"username": "auditor", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/audit/"


def test_resident_still_lands_on_the_front_page_after_login(client, aino):
    response = client.post("/accounts/login/", {"username": "aino", "password": PASSWORD})

    assert response["Location"] == "/"


def test_navigation_shows_the_audit_link_to_auditors(as_auditor):
    assert 'href="/audit/"' in as_auditor.get("/").content.decode()


def test_navigation_hides_the_audit_link_from_residents(client, aino):
    client.force_login(aino)

    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_resident_is_refused_the_audit_pages(client, aino):
    client.force_login(aino)

    assert client.get("/audit/receipts").status_code == 403


def test_audit_pages_are_never_stored_by_a_cache(as_auditor):
    assert "no-store" in as_auditor.get("/audit/").get("Cache-Control", "")


def test_front_page_shows_the_log_size_and_latest_checkpoint(as_auditor, consent):
    checkpoint = checkpoints.checkpoint_sign()

    page = as_auditor.get("/audit/").content.decode()

    assert f"<dd>{log_size()}</dd>" in page
    assert f"{checkpoint.tree_size} receipts, signed" in page


def _all_indexes(**filters) -> list[int]:
    receipts = Receipt.objects.filter(**filters)
    return sorted(receipts.values_list("entry__index", flat=True), reverse=True)


def _indexes(response) -> list[int]:
    return [receipt.entry.index for receipt, _source, _sink in response.context["rows"]]


def test_receipts_are_listed_newest_first(as_auditor, consent):
    response = as_auditor.get("/audit/receipts")

    assert response.status_code == 200
    indexes = _indexes(response)
    assert indexes == _all_indexes()
    assert len(indexes) == Receipt.objects.count()


def test_receipts_filter_by_event(as_auditor, consent):
    response = as_auditor.get("/audit/receipts", {"event": "consent.granted"})

    assert _indexes(response) == [consent.receipts.get().entry.index]


def test_receipts_filter_by_service_as_source_or_sink(as_auditor, consent):
    granted = consent.receipts.get().entry.index

    for slug in ("wearable", "wellbeing"):
        links = _all_indexes(link__service__slug=slug)
        expected = sorted([granted, *links], reverse=True)
        assert _indexes(as_auditor.get("/audit/receipts", {"service": slug})) == expected
    assert _indexes(as_auditor.get("/audit/receipts", {"service": "no-such-service"})) == []


def test_receipts_filter_by_consent(as_auditor, consent, eero, wellbeing, wearable):
    link_resident(eero, wearable, reference="watch-owner-2")
    grant_consent(request_consent(sink=wellbeing, source=wearable), eero)

    response = as_auditor.get("/audit/receipts", {"consent": str(consent.pk)})

    assert _indexes(response) == [consent.receipts.get().entry.index]


def test_receipts_filter_by_log_index_range(as_auditor, consent):
    granted = consent.receipts.get().entry.index

    response = as_auditor.get("/audit/receipts", {"from_index": granted, "to_index": granted})

    assert _indexes(response) == [granted]


def test_receipts_filter_by_dates(as_auditor, consent):
    today = timezone.localdate()
    tomorrow = (today + timedelta(days=1)).isoformat()

    assert _indexes(as_auditor.get("/audit/receipts", {"from_date": tomorrow})) == []
    assert _indexes(as_auditor.get("/audit/receipts", {"to_date": today.isoformat()})) == (
        _all_indexes()
    )


def test_unknown_receipt_filter_is_refused(as_auditor, consent):
    response = as_auditor.get("/audit/receipts", {"resident": "aino"})

    assert response.status_code == 400
    assert "Unknown parameters: resident." in response.content.decode()


def test_bad_receipt_filter_value_is_refused_with_what_is_wrong(as_auditor, consent):
    response = as_auditor.get("/audit/receipts", {"from_index": "-1"})

    assert response.status_code == 400
    assert "From log index:" in response.content.decode()


def test_inverted_index_range_is_refused(as_auditor, consent):
    response = as_auditor.get("/audit/receipts", {"from_index": 5, "to_index": 2})

    assert response.status_code == 400
    assert "greater than the to log index" in response.content.decode()


def test_receipts_are_paged_by_log_index(as_auditor, consent, monkeypatch):
    monkeypatch.setattr("audit.views.PAGE_SIZE", 1)

    first, second, *_rest = _all_indexes()

    newest = as_auditor.get("/audit/receipts")
    following = as_auditor.get("/audit/receipts" + newest.context["next"])

    assert _indexes(newest) == [first]
    assert newest.context["next"] == f"?before={first}"
    assert _indexes(following) == [second]


def _more_consents(count, *, wellbeing, wearable, resident):
    for _ in range(count):
        consent = grant_consent(request_consent(sink=wellbeing, source=wearable), resident)
        consent_services.consent_withdraw(consent=consent)


def test_receipts_page_queries_do_not_grow_with_the_log(
    as_auditor, consent, wellbeing, wearable, aino
):
    as_auditor.get("/audit/receipts")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as small:
        as_auditor.get("/audit/receipts")
    _more_consents(10, wellbeing=wellbeing, wearable=wearable, resident=aino)
    with CaptureQueriesContext(connection) as large:
        response = as_auditor.get("/audit/receipts")

    assert len(_indexes(response)) == Receipt.objects.count() > 20
    assert len(large) == len(small)


def test_receipts_page_never_names_a_resident(as_auditor, consent, aino):
    aino.first_name, aino.email = "Aino", "aino@example.fi"
    aino.save()

    page = as_auditor.get("/audit/receipts").content.decode()
    detail = as_auditor.get(f"/audit/receipts/{consent.receipts.get().pk}").content.decode()

    for text in (page, detail):
        assert "aino" not in text.lower()
    assert consent.principal in detail


def test_receipt_page_shows_the_signature_verified_and_its_key(as_auditor, consent):
    receipt = consent.receipts.get()

    response = as_auditor.get(f"/audit/receipts/{receipt.pk}")

    page = response.content.decode()
    assert response.context["verification"].verified
    assert "Signature verified" in page
    assert response.context["verification"].key.kid in page


def _tamper(model, pk, **changes) -> None:
    """Change stored evidence as someone with the database's owner role could."""
    with evidence_unguarded():
        model.objects.filter(pk=pk).update(**changes)


def test_receipt_page_shows_a_changed_receipt_as_not_verified(as_auditor, consent):
    receipt = consent.receipts.get()
    header, _payload, signature = receipt.entry.data.split(".")
    other = Receipt.objects.exclude(pk=receipt.pk).first().entry.data.split(".")[1]
    _tamper(LogEntry, receipt.entry.pk, data=f"{header}.{other}.{signature}")

    response = as_auditor.get(f"/audit/receipts/{receipt.pk}")

    assert not response.context["verification"].verified
    assert "The signature does not verify" in response.content.decode()
    assert response.context["inclusion"].verified is None


def test_receipt_page_links_the_previous_and_next_of_its_chain(as_auditor, consent):
    consent_services.consent_withdraw(consent=consent)
    granted, withdrawn = consent.receipts.order_by(*Receipt.IN_ORDER)

    first = as_auditor.get(f"/audit/receipts/{granted.pk}")
    second = as_auditor.get(f"/audit/receipts/{withdrawn.pk}")

    assert (first.context["previous"], first.context["next"]) == (None, withdrawn)
    assert (second.context["previous"], second.context["next"]) == (granted, None)
    assert second.context["chain_intact"]


def test_receipt_logged_after_the_latest_checkpoint_is_not_yet_under_one(as_auditor, consent):
    response = as_auditor.get(f"/audit/receipts/{consent.receipts.get().pk}")

    assert response.context["inclusion"].verified is None
    assert "Not yet under a checkpoint" in response.content.decode()


def test_receipt_inclusion_checks_against_the_latest_checkpoint(as_auditor, consent):
    checkpoints.checkpoint_sign()

    response = as_auditor.get(f"/audit/receipts/{consent.receipts.get().pk}")

    assert response.context["inclusion"].verified is True
    assert "The inclusion proof checks against the latest checkpoint" in response.content.decode()


def test_a_queued_receipt_is_listed_first_and_its_page_says_it_waits(as_auditor, consent):
    consent_services.consent_pause(consent=consent)
    queued = consent.receipts.get(event="consent.paused")

    listing = as_auditor.get("/audit/receipts")
    page = as_auditor.get(f"/audit/receipts/{queued.pk}")

    assert listing.context["rows"][0][0] == queued
    assert page.status_code == 200
    text = " ".join(page.content.decode().split())
    assert "Queued: the log's sequencer integrates it into the tree within 10 seconds" in text
    assert page.context["previous"] == consent.receipts.get(event="consent.granted")


def test_receipt_under_a_changed_checkpoint_fails_inclusion(as_auditor, consent):
    checkpoint = checkpoints.checkpoint_sign()
    _tamper(Checkpoint, checkpoint.pk, root="00" * 32)

    response = as_auditor.get(f"/audit/receipts/{consent.receipts.get().pk}")

    assert response.context["inclusion"].verified is False


def test_receipt_under_a_checkpoint_whose_root_is_not_even_hex_fails_inclusion(as_auditor, consent):
    checkpoint = checkpoints.checkpoint_sign()
    _tamper(Checkpoint, checkpoint.pk, root="not hex at all")

    response = as_auditor.get(f"/audit/receipts/{consent.receipts.get().pk}")

    assert response.status_code == 200
    assert response.context["inclusion"].verified is False
    assert "its stored size or root differs" in response.context["inclusion"].error


def test_unknown_receipt_is_404_for_an_auditor(as_auditor, db):
    response = as_auditor.get("/audit/receipts/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404


def test_consent_history_lists_its_receipts_and_transfers(as_auditor, consent):
    relay_services.transfer_request(consent=consent, organisation=consent.sink.organisation)
    consent_services.consent_withdraw(consent=consent)

    response = as_auditor.get(f"/audit/consents/{consent.pk}")

    assert response.status_code == 200
    assert len(response.context["receipts"]) == 2
    assert len(response.context["transfers"]) == 1


@pytest.mark.parametrize(
    "path", ["/audit/receipts", "/audit/receipts.csv", "/audit/services", "/audit/services.csv"]
)
@pytest.mark.parametrize(
    "query", [{"from_date": "0001-01-01"}, {"to_date": "9999-12-31"}, {"from_date": "1999-12-31"}]
)
def test_a_day_at_the_calendars_edge_is_a_400_not_a_500(as_auditor, path, query):
    response = as_auditor.get(path, query)

    assert response.status_code == 400
