"""The figures per service: consents asked for and answered, transfers and their outcomes."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.exports import csv_cell
from consent import services as consent_services
from registry import services as registry_services
from registry.models import Service
from relay import services as relay_services
from relay.models import Transfer
from tests.factories import (
    NOTICE,
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
)

pytestmark = pytest.mark.django_db

# Ten transfers a day: enough for every test's deliveries under one consent.
OFTEN = {"kind": "recurring", "limit": 10, "period": "day"}


def _transfer(consent, status: str, *, seconds: int = 0) -> Transfer:
    """A transfer the sink asked for, ended `seconds` after it was asked for with `status`:
    set directly, as the relay's workers would have left it."""
    transfer, _new = relay_services.transfer_request(
        consent=consent, organisation=consent.sink.organisation
    )
    Transfer.objects.filter(pk=transfer.pk).update(
        status=status, finished_at=transfer.created_at + timedelta(seconds=seconds)
    )
    return transfer


@pytest.fixture
def answered(wellbeing, wearable, aino, eero):
    """The wellbeing sink's four requests: Aino grants one, which later expires; Eero grants
    one and withdraws it; Aino refuses one; one waits for an answer."""
    link_resident(aino, wearable)
    link_resident(eero, wearable, reference="watch-owner-2")
    kept = grant_consent(request_consent(sink=wellbeing, source=wearable, frequency=OFTEN), aino)
    withdrawn = grant_consent(request_consent(sink=wellbeing, source=wearable), eero)
    consent_services.consent_withdraw(consent=withdrawn)
    consent_services.consent_refuse(
        request=request_consent(sink=wellbeing, source=wearable), resident=aino,
        language="fi", notice_text=NOTICE,
    )  # fmt: skip
    request_consent(sink=wellbeing, source=wearable)
    return kept


@pytest.fixture
def relayed(answered):
    """Four deliveries of Aino's consent (10, 20, 30 and 60 seconds), one failure and one
    cancellation; then her consent expires."""
    for seconds in (10, 60, 20, 30):
        _transfer(answered, Transfer.Status.DELIVERED, seconds=seconds)
    _transfer(answered, Transfer.Status.FAILED, seconds=5)
    _transfer(answered, Transfer.Status.CANCELLED)
    consent_services.consent_expire_due(now=timezone.now() + timedelta(days=91))
    return answered


def _row(response, slug: str):
    (row,) = [row for row in response.context["rows"] if row.service.slug == slug]
    return row


def test_consent_figures_count_requests_and_answer_receipts(as_auditor, relayed):
    row = _row(as_auditor.get("/audit/services"), "wellbeing")

    assert (row.requested, row.granted, row.refused, row.withdrawn, row.expired) == (4, 2, 1, 1, 1)


def test_source_has_no_consent_figures_of_its_own(as_auditor, relayed):
    row = _row(as_auditor.get("/audit/services"), "wearable")

    assert (row.requested, row.granted, row.refused, row.withdrawn, row.expired) == (0, 0, 0, 0, 0)


def test_transfers_count_for_the_sink_and_for_the_source_by_outcome(as_auditor, relayed):
    response = as_auditor.get("/audit/services")
    sink, source = _row(response, "wellbeing"), _row(response, "wearable")

    for figures in (sink.as_sink, source.as_source):
        assert (figures.delivered, figures.failed, figures.cancelled) == (4, 1, 1)
    assert not sink.as_source.any
    assert not source.as_sink.any


def test_median_time_to_delivery_is_over_the_delivered_transfers(as_auditor, relayed):
    response = as_auditor.get("/audit/services")

    assert _row(response, "wellbeing").as_sink.median == timedelta(seconds=25)
    assert _row(response, "wearable").as_source.median == timedelta(seconds=25)
    assert "25.0 s" in response.content.decode()


def test_median_of_an_odd_number_of_deliveries_is_the_middle_one(as_auditor, answered):
    for seconds in (90, 10, 20):
        _transfer(answered, Transfer.Status.DELIVERED, seconds=seconds)

    row = _row(as_auditor.get("/audit/services"), "wellbeing")

    assert row.as_sink.median == timedelta(seconds=20)


def test_service_with_nothing_delivered_has_no_median(as_auditor, answered):
    _transfer(answered, Transfer.Status.FAILED, seconds=5)

    row = _row(as_auditor.get("/audit/services"), "wellbeing")

    assert row.as_sink.median is None
    assert "none delivered" in as_auditor.get("/audit/services").content.decode()


def test_figures_are_limited_to_the_time_range(as_auditor, wellbeing, wearable, aino):
    link_resident(aino, wearable)
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        old = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
        _transfer(old, Transfer.Status.DELIVERED, seconds=10)
    consent_services.consent_withdraw(consent=old)
    today = timezone.localdate().isoformat()

    row = _row(as_auditor.get("/audit/services", {"from_date": today}), "wellbeing")
    before = _row(as_auditor.get("/audit/services", {"to_date": today}), "wellbeing")

    assert (row.requested, row.granted, row.withdrawn, row.as_sink.delivered) == (0, 0, 1, 0)
    assert (before.requested, before.granted, before.withdrawn, before.as_sink.delivered) == (
        1, 1, 1, 1,
    )  # fmt: skip


def _slugs(response) -> list[str]:
    return [row.service.slug for row in response.context["rows"]]


def test_pending_service_without_figures_is_left_out(
    as_auditor, sink_provider, wearable, data_types
):
    register_service(sink_provider, sink_spec(slug="waiting"))

    assert _slugs(as_auditor.get("/audit/services")) == ["wearable"]


def test_service_back_in_review_keeps_its_figures(as_auditor, answered, wellbeing):
    # A material change to an approved service sends it back to review: what it did stays.
    Service.objects.filter(pk=wellbeing.pk).update(status=Service.Status.PENDING)

    response = as_auditor.get("/audit/services")

    assert _slugs(response) == ["wearable", "wellbeing"]
    assert _row(response, "wellbeing").requested == 4


def test_suspended_service_is_listed_and_marked(as_auditor, wellbeing, wearable, staff):
    registry_services.service_suspend(service=wellbeing, actor=staff)

    response = as_auditor.get("/audit/services")

    assert _slugs(response) == ["wearable", "wellbeing"]
    assert 'class="status-suspended"' in response.content.decode()


def _sink_with_figures(sink_provider, staff, wearable, resident, slug: str) -> None:
    sink = register_service(sink_provider, sink_spec(slug=slug), approve_by=staff)
    consent = grant_consent(request_consent(sink=sink, source=wearable), resident)
    _transfer(consent, Transfer.Status.DELIVERED, seconds=3)


def test_figures_page_queries_do_not_grow_with_the_services(
    as_auditor, sink_provider, staff, wearable, aino
):
    link_resident(aino, wearable)
    _sink_with_figures(sink_provider, staff, wearable, aino, "sink-1")
    as_auditor.get("/audit/services")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as two:
        as_auditor.get("/audit/services")
    for number in range(2, 6):
        _sink_with_figures(sink_provider, staff, wearable, aino, f"sink-{number}")
    with CaptureQueriesContext(connection) as six:
        response = as_auditor.get("/audit/services")

    assert len(response.context["rows"]) == 6
    assert len(six) == len(two)


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_figures_download_as_csv_with_a_row_per_service(as_auditor, relayed):
    response = as_auditor.get("/audit/services.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = {row["service"]: row for row in _csv(response)}
    assert set(rows) == {"wearable", "wellbeing"}
    sink = rows["wellbeing"]
    assert (sink["name"], sink["status"]) == ("Wellbeing", "approved")
    assert [sink[f"consents_{name}"] for name in ("requested", "granted", "refused")] == [
        "4", "2", "1",
    ]  # fmt: skip
    assert [sink[f"as_sink_{name}"] for name in ("delivered", "failed", "median_seconds")] == [
        "4", "1", "25.0",
    ]  # fmt: skip
    assert rows["wearable"]["as_sink_median_seconds"] == ""
    assert rows["wearable"]["as_source_median_seconds"] == "25.0"


def test_figures_csv_keeps_the_time_range(as_auditor, relayed):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()

    response = as_auditor.get("/audit/services.csv", {"from_date": tomorrow})

    assert {row["as_sink_delivered"] for row in _csv(response)} == {"0"}
    page = as_auditor.get("/audit/services", {"from_date": tomorrow}).content.decode()
    assert f'href="/audit/services.csv?from_date={tomorrow}"' in page


def test_figures_csv_cannot_start_a_formula(as_auditor, sink_provider, staff, data_types):
    name = {"fi": "=HYPERLINK(1)", "sv": "+1", "en": "@SUM(A1)"}
    register_service(sink_provider, sink_spec(slug="formula", name=name), approve_by=staff)

    (row,) = _csv(as_auditor.get("/audit/services.csv"))

    assert row["name"] == "'@SUM(A1)"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_csv_text_that_would_start_a_formula_gets_an_apostrophe(text):
    assert csv_cell(text) == "'" + text


def test_csv_plain_text_is_kept():
    assert csv_cell("Wellbeing") == "Wellbeing"


@pytest.mark.parametrize("path", ["/audit/services", "/audit/services.csv"])
def test_unknown_figures_parameter_is_refused(as_auditor, path):
    response = as_auditor.get(path, {"service": "wellbeing"})

    assert response.status_code == 400
    assert "Unknown parameters: service." in response.content.decode()


def test_inverted_time_range_is_refused(as_auditor):
    response = as_auditor.get(
        "/audit/services", {"from_date": "2025-02-01", "to_date": "2025-01-01"}
    )

    assert response.status_code == 400
    assert "The from date is after the to date." in response.content.decode()


@pytest.mark.parametrize("path", ["/audit/services", "/audit/services.csv"])
def test_resident_is_refused_the_figures(client, aino, path):
    client.force_login(aino)

    assert client.get(path).status_code == 403


def test_audit_front_page_links_the_figures(as_auditor):
    assert 'href="/audit/services"' in as_auditor.get("/audit/").content.decode()
