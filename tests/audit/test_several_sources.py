"""The audit pages, files and figures of consents over several sources."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import services as consent_services
from consent.models import Receipt
from ledger.log import log_integrate
from relay.models import Transfer, TransferPart
from tests.factories import grant_consent, link_resident, request_consent_over

pytestmark = pytest.mark.django_db
STEPS, CONTACT = "wellbeing.steps", "city.contact_details"


@pytest.fixture
def joint(joiner, wearable, city, aino):
    """Aino's consent to the joiner's request for her steps from the watch and her contact
    details from the city; its receipts integrated in the log."""
    link_resident(aino, wearable)
    link_resident(aino, city, reference="resident-9")
    parts = [(wearable, [STEPS]), (city, [CONTACT])]
    consent = grant_consent(request_consent_over(sink=joiner, parts=parts), aino)
    log_integrate()
    return consent


def test_the_receipt_page_names_every_source(as_auditor, joint):
    page = as_auditor.get(f"/audit/receipts/{joint.receipts.get().pk}").content.decode()

    assert "Sources" in page
    assert "(wearable)" in page
    assert "(city-records)" in page
    assert page.index("(wearable)") < page.index("(city-records)")


def test_the_receipts_list_names_every_source_of_a_row(as_auditor, joint):
    response = as_auditor.get("/audit/receipts?event=consent.granted")

    [(_receipt, sources, sink)] = response.context["rows"]
    assert [source.slug for source in sources] == ["wearable", "city-records"]
    assert sink.slug == "joiner"


def test_filtering_by_either_source_lists_the_receipt_once(as_auditor, joint):
    for slug in ("wearable", "city-records"):
        response = as_auditor.get(f"/audit/receipts?service={slug}&event=consent.granted")

        assert [row[0].pk for row in response.context["rows"]] == [joint.receipts.get().pk]


def test_the_consent_page_names_every_source_with_its_data_types(as_auditor, joint):
    page = as_auditor.get(f"/audit/consents/{joint.pk}").content.decode()

    assert "(wearable)</span>: wellbeing.steps" in page
    assert "(city-records)</span>: city.contact_details" in page


def test_the_receipts_csv_joins_the_sources_slugs_with_a_space(as_auditor, joint):
    response = as_auditor.get("/audit/receipts.csv?event=consent.granted")
    text = b"".join(response.streaming_content).decode()

    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["source"], row["sink"]) == ("wearable city-records", "joiner")


def test_receipts_page_queries_do_not_grow_with_the_sources(
    as_auditor, joint, joiner, wearable, city, aino
):
    """The sources of every row come in one statement, however many rows and sources."""
    as_auditor.get("/audit/receipts")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as small:
        as_auditor.get("/audit/receipts")
    for _ in range(5):
        parts = [(city, [CONTACT]), (wearable, [STEPS])]
        again = grant_consent(request_consent_over(sink=joiner, parts=parts), aino)
        consent_services.consent_withdraw(consent=again)
    with CaptureQueriesContext(connection) as large:
        response = as_auditor.get("/audit/receipts")

    assert len(response.context["rows"]) == Receipt.objects.count() > 10
    assert len(large) == len(small)


def _delivered(consent, seconds: int) -> Transfer:
    """A transfer delivered `seconds` after it was asked for, as the relay would leave it."""
    now = timezone.now()
    transfer = Transfer.objects.create(
        consent=consent, requested_by=consent.sink.organisation, next_attempt_at=now,
        status=Transfer.Status.DELIVERED,
    )  # fmt: skip
    Transfer.objects.filter(pk=transfer.pk).update(
        finished_at=transfer.created_at + timedelta(seconds=seconds)
    )
    for term in consent.sources.all():
        TransferPart.objects.create(
            transfer=transfer, number=term.position, source_id=term.service_id,
            data_types=term.data_types, status=TransferPart.Status.DELIVERED,
        )  # fmt: skip
    return transfer


def test_a_transfer_counts_once_for_its_sink_and_once_for_each_source(as_auditor, joint):
    _delivered(joint, 10)
    _delivered(joint, 30)

    rows = {row.service.slug: row for row in as_auditor.get("/audit/services").context["rows"]}

    for slug in ("wearable", "city-records"):
        assert rows[slug].as_source.delivered == 2
        assert rows[slug].as_source.median == timedelta(seconds=20)
        assert not rows[slug].as_sink.any
    assert rows["joiner"].as_sink.delivered == 2
    assert rows["joiner"].as_sink.median == timedelta(seconds=20)
    assert not rows["joiner"].as_source.any
