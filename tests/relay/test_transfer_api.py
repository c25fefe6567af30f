"""The transfer API as a sink's client uses it: POST /api/v1/transfers and GET its status."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from consent import services as consent_services
from registry import services as registry_services
from relay import services
from relay.models import Transfer
from tests.factories import api_as, grant_consent, request_consent
from tests.servers import Answer

URL = "/api/v1/transfers"


@pytest.fixture
def sink_api(sink_provider):
    return api_as(sink_provider, "transfers:write")


def test_sink_asks_for_a_transfer_and_gets_202(sink_api, consent):
    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["consent"]) == ("queued", str(consent.id))
    assert Transfer.objects.get(pk=body["id"]).consent_id == consent.id


def test_another_sink_gets_403_and_the_source_sees_nothing(other_sink_provider, peers, consent):
    source, _sink = peers
    api = api_as(other_sink_provider, "transfers:write")

    response = api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "not_your_consent")
    assert Transfer.objects.count() == 0
    assert source.requests == []


def test_unknown_consent_gets_the_same_403(sink_api, consent):
    response = sink_api.post(URL, {"consent": str(uuid.uuid4())}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "not_your_consent")


def test_source_provider_cannot_ask_for_a_transfer(source_provider, consent):
    api = api_as(source_provider, "transfers:write")

    response = api.post(URL, {"consent": str(consent.id)}, format="json")

    assert response.status_code == 403


def test_token_without_transfers_write_is_refused(sink_provider, consent):
    api = api_as(sink_provider, "transfers:read")

    response = api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


def test_unknown_field_is_a_400(sink_api, consent):
    response = sink_api.post(URL, {"consent": str(consent.id), "colour": "blue"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "unknown_field"


def test_withdrawn_consent_is_a_409(sink_api, consent):
    consent_services.consent_withdraw(consent=consent)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "consent_not_active")


def test_frequency_limit_is_a_409(sink_api, consent):
    # The consent allows one transfer a day.
    assert sink_api.post(URL, {"consent": str(consent.id)}, format="json").status_code == 202

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "frequency_limit")


def test_second_transfer_while_one_is_unfinished_is_409_naming_it(sink_api, consent):
    # Two a day: only the rule of one unfinished transfer per consent stands in the way.
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    first = sink_api.post(URL, {"consent": str(consent.id)}, format="json").json()

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["transfer"]) == (
        "transfer_in_progress", first["id"]
    )  # fmt: skip
    assert Transfer.objects.count() == 1


@pytest.mark.parametrize("status", ["fetching", "delivering"])
def test_transfer_under_way_holds_back_the_next(sink_api, consent, status):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    sink_api.post(URL, {"consent": str(consent.id)}, format="json")
    Transfer.objects.update(status=status)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "transfer_in_progress")


@pytest.mark.parametrize("status", ["delivered", "failed", "cancelled"])
def test_next_transfer_is_taken_once_the_last_has_finished(sink_api, consent, status):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    sink_api.post(URL, {"consent": str(consent.id)}, format="json")
    Transfer.objects.update(status=status)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert response.status_code == 202, response.content


def test_repeat_of_an_unfinished_transfers_key_returns_it(sink_api, consent):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    first = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )

    again = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )

    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


def test_sink_at_its_cap_of_unfinished_transfers_gets_409(
    sink_api, consent, wellbeing, wearable, aino, settings
):
    settings.OMADATA_SINK_MAX_UNFINISHED_TRANSFERS = 1
    request = request_consent(sink=wellbeing, source=wearable, purpose_category="service_provision")
    other = grant_consent(request, aino)
    assert sink_api.post(URL, {"consent": str(other.id)}, format="json").status_code == 202

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "sink_transfer_limit")
    assert set(response.json()) == {"code", "message", "fields", "request_id"}
    assert Transfer.objects.count() == 1


def test_database_refuses_a_second_unfinished_transfer_under_a_consent(consent):
    # The rule holds in the database too, whatever path a row is written by.
    fields = {
        "consent": consent, "requested_by": consent.sink.organisation,
        "next_attempt_at": consent.created_at,
    }  # fmt: skip
    Transfer.objects.create(**fields, status="delivering")
    Transfer.objects.create(**fields, status="delivered")

    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(**fields, status="queued")


def test_one_off_consent_allows_one_delivery_ever(sink_api, consent):
    type(consent).objects.filter(pk=consent.pk).update(
        frequency="one_off", frequency_limit=None, frequency_period=""
    )
    Transfer.objects.create(
        consent=consent, requested_by=consent.sink.organisation, status="delivered",
        next_attempt_at=consent.created_at,
    )  # fmt: skip
    Transfer.objects.filter(consent=consent).update(created_at=consent.created_at)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "frequency_limit")


def test_same_idempotency_key_and_body_return_the_same_transfer(sink_api, consent):
    first = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    again = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Transfer.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_a_422(
    sink_api, consent, wellbeing, wearable, aino
):
    sink_api.post(URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    request = request_consent(sink=wellbeing, source=wearable, purpose_category="service_provision")
    other = grant_consent(request, aino)

    response = sink_api.post(
        URL, {"consent": str(other.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")


def test_sink_reads_the_transfer_with_its_attempts(sink_provider, peers, consent):
    source, _sink = peers
    source.answers = [Answer(body=b"12345")]
    created = api_as(sink_provider, "transfers:write").post(
        URL, {"consent": str(consent.id)}, format="json"
    )
    services.transfer_relay(transfer_id=created.json()["id"])

    response = api_as(sink_provider, "transfers:read").get(f"{URL}/{created.json()['id']}")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["byte_count"], body["error_code"]) == ("delivered", 5, "")
    [attempt] = body["attempts"]
    assert (attempt["outcome"], attempt["http_status"]) == ("delivered", 200)
    assert attempt["duration_ms"] >= 0


def test_another_organisation_cannot_read_the_transfer(
    sink_api, other_sink_provider, source_provider, consent
):
    created = sink_api.post(URL, {"consent": str(consent.id)}, format="json").json()

    for provider in (other_sink_provider, source_provider):
        response = api_as(provider, "transfers:read").get(f"{URL}/{created['id']}")
        assert response.status_code == 404


def test_suspended_source_is_a_409(sink_api, consent, wearable, staff):
    registry_services.service_suspend(service=wearable, actor=staff)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "service_unavailable")


def test_overlong_idempotency_key_is_a_400(sink_api, consent):
    response = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "Idempotency-Key"
    assert Transfer.objects.count() == 0


@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "line\nbreak", "\x7f", "åäö-123"])
def test_idempotency_key_of_other_than_printable_ascii_is_a_400(sink_api, consent, key):
    response = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        ("Idempotency-Key", "invalid")
    ]
    assert Transfer.objects.count() == 0


def test_idempotency_key_of_printable_ascii_is_taken(sink_api, consent):
    key = "steps 2026-12-01 #1 (retry) ~!"

    response = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 202
    assert Transfer.objects.get().idempotency_key == key


def test_asking_outside_the_consents_data_types_is_400_and_the_source_sees_nothing(
    sink_api, peers, consent
):
    source, _sink = peers

    response = sink_api.post(
        URL, {"consent": str(consent.id), "data_types": ["wellbeing.heart_rate"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == [
        {
            "field": "data_types",
            "code": "outside_consent",
            "message": "No source of the consent gives: wellbeing.heart_rate.",
        }
    ]
    assert Transfer.objects.count() == 0
    assert source.requests == []


def test_asking_for_a_part_of_the_consents_data_types_is_accepted(sink_api, consent):
    response = sink_api.post(
        URL, {"consent": str(consent.id), "data_types": ["wellbeing.steps"]}, format="json"
    )

    assert response.status_code == 202, response.content
    assert Transfer.objects.get().data_types == ["wellbeing.steps"]


def test_the_same_key_with_other_data_types_is_another_request(sink_api, consent):
    first = sink_api.post(
        URL, {"consent": str(consent.id)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    second = sink_api.post(
        URL, {"consent": str(consent.id), "data_types": ["wellbeing.steps", "wellbeing.steps"]},
        format="json", HTTP_IDEMPOTENCY_KEY="k-1",
    )  # fmt: skip

    assert first.status_code == 202
    assert second.status_code == 200  # the consent covers only steps: the same request
