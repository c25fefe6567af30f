"""A consent over two sources: one run, a part from each, each delivered once, named by its source.

The watch and a city service are real servers on 127.0.0.1, as is the sink; each
checks the operator's tokens with its JWKS.
"""

import jwt
import pytest

from common import outbox
from consent import services as consent_services
from consent.models import Receipt, ServiceLink
from consent.receipts import receipt_verify
from registry import services as registry_services
from relay import services
from relay.models import Transfer, TransferAttempt
from tests.factories import (
    api_as,
    grant_consent,
    link_resident,
    register_service,
    request_spec,
    sink_spec,
)
from tests.relay.helpers import relay_until_final, request_transfer
from tests.servers import Answer, TransferPeer
from webhooks.models import Notification

URL = "/api/v1/transfers"


@pytest.fixture
def city_source():
    server = TransferPeer().start()
    yield server
    server.stop()


@pytest.fixture
def city(loopback_allowed, sink_provider, data_types, staff, city_source, receiver):
    """Espoo's records, of the same city as the sink: a source of contact details."""
    spec = {
        "slug": "espoo-records",
        "name": {"fi": "Espoon tiedot", "sv": "Esbos uppgifter", "en": "Espoo records"},
        "description": {"fi": "Tiedot.", "sv": "Uppgifter.", "en": "Records."},
        "privacy_policy_url": "https://sink.example.fi/privacy",
        "source": {
            "fetch_url": city_source.url,
            "link_url": city_source.url + "/link",
            "data_types": ["city.contact_details"],
        },
        "webhook_url": receiver.url,
    }
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def sink_api(sink_provider):
    return api_as(sink_provider, "transfers:write")


@pytest.fixture
def wellbeing(loopback_allowed, sink_provider, data_types, staff, sink, receiver):
    """The sink, taking steps and contact details."""
    spec = sink_spec(webhook_url=receiver.url)
    spec["sink"] = {
        "delivery_url": sink.url,
        "data_types": ["wellbeing.steps", "city.contact_details"],
    }
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def consent(wellbeing, wearable, city, aino):
    """Aino's one consent over the watch's steps and the city's contact details."""
    spec = request_spec(wearable)
    del spec["source"], spec["data_types"]
    spec["sources"] = [
        {"source": wearable.id, "data_types": ["wellbeing.steps"]},
        {"source": city.id, "data_types": ["city.contact_details"]},
    ]
    request = consent_services.consent_request_create(sink=wellbeing, spec=spec)
    link_resident(aino, wearable)
    link_resident(aino, city, reference="espoo-resident-1")
    return grant_consent(request, aino)


@pytest.fixture
def peers(client, consent, source, city_source, sink, wearable, city, wellbeing):
    jwks = client.get("/.well-known/jwks.json").json()
    for server, service in ((source, wearable), (city_source, city), (sink, wellbeing)):
        subject = ServiceLink.objects.get(
            resident=consent.resident, service=service, status=ServiceLink.Status.ACTIVE
        ).subject
        server.trust_bearer(jwks=jwks, audience=str(service.id), subject=subject)
    source.answers = [
        Answer(body=b'{"steps": 10234}', headers={"Content-Type": "application/json"})
    ]
    city_source.answers = [Answer(body=b'{"email": "aino@example.fi"}')]
    return source, city_source, sink


def test_one_run_delivers_a_part_from_each_source_once_named_by_its_source(
    peers, consent, wearable, city
):
    watch, records, sink = peers

    transfer = relay_until_final(request_transfer(consent))

    assert transfer.status == "delivered"
    assert [r.verified for r in (*watch.requests, *records.requests)] == [True, True]
    assert sink.applied == [f"{transfer.id}.1", f"{transfer.id}.2"]
    first, second = (request.claims for request in sink.requests)
    assert (first["source"]["id"], second["source"]["id"]) == (str(wearable.id), str(city.id))
    assert first["transfer_id"] == second["transfer_id"] == str(transfer.id)
    assert [(c["part"], c["parts"], c["data_types"]) for c in (first, second)] == [
        (1, 2, ["wellbeing.steps"]),
        (2, 2, ["city.contact_details"]),
    ]
    assert [r.body for r in sink.requests] == [b'{"steps": 10234}', b'{"email": "aino@example.fi"}']
    # Each source is asked only for its own data types.
    assert watch.requests[0].claims["data_types"] == ["wellbeing.steps"]
    assert records.requests[0].claims["data_types"] == ["city.contact_details"]
    assert transfer.byte_count == len(b'{"steps": 10234}') + len(b'{"email": "aino@example.fi"}')


def test_each_delivered_part_has_its_own_receipt_naming_its_source(peers, consent, city):
    transfer = relay_until_final(request_transfer(consent))

    receipts = Receipt.objects.filter(consent=consent, event="transfer.delivered")
    claims = sorted((receipt_verify(r.jws)["omadata"] for r in receipts), key=lambda c: c["part"])
    assert [(c["part"], c["parts"], c["transfer_id"]) for c in claims] == [
        (1, 2, str(transfer.id)),
        (2, 2, str(transfer.id)),
    ]
    assert claims[1]["part_source"]["id"] == str(city.id)
    parts = transfer.parts.order_by("number")
    assert [part.receipt_id for part in parts] == [
        r.pk for r in receipts.order_by(*Receipt.IN_ORDER)
    ]


def test_a_source_503_then_200_is_fetched_again_and_no_part_is_delivered_twice(
    peers, consent, fast_backoff
):
    watch, records, sink = peers
    records.answers = [Answer(status=503), Answer(body=b'{"email": "aino@example.fi"}')]

    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)
    transfer.refresh_from_db()
    waiting = [(p.number, p.status, p.error_code) for p in transfer.parts.order_by("number")]
    transfer = relay_until_final(transfer)

    assert waiting == [(1, "delivered", ""), (2, "queued", "source_server_error")]
    assert transfer.status == "delivered"
    assert (len(watch.requests), len(records.requests)) == (1, 2)
    assert sink.applied == [f"{transfer.id}.1", f"{transfer.id}.2"]
    assert len(sink.requests) == 2
    outcomes = TransferAttempt.objects.filter(transfer=transfer).order_by("started_at")
    assert [(a.part.number, a.outcome) for a in outcomes] == [
        (1, "delivered"), (2, "retry"), (2, "delivered"),
    ]  # fmt: skip


def test_a_source_that_fails_for_good_fails_its_part_and_the_other_is_delivered(
    peers, consent, sink_api, fast_backoff
):
    _watch, records, sink = peers
    records.answers = [Answer(status=404)]

    transfer = relay_until_final(request_transfer(consent))
    answer = sink_api.get(f"{URL}/{transfer.id}").json()

    assert (transfer.status, transfer.error_code) == ("failed", "source_rejected")
    assert sink.applied == [f"{transfer.id}.1"]
    assert [(p["number"], p["status"], p["error_code"]) for p in answer["parts"]] == [
        (1, "delivered", ""),
        (2, "failed", "source_rejected"),
    ]
    [failed] = [n for n in Notification.objects.filter(event="transfer.failed")]
    body = jwt.decode(failed.body, options={"verify_signature": False})
    assert [p["status"] for p in body["data"]["parts"]] == ["delivered", "failed"]


def test_a_source_503_every_time_fails_its_part_once_the_tries_are_used_up(
    peers, consent, fast_backoff, settings
):
    watch, records, sink = peers
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 3
    records.answers = [Answer(status=503)] * 3

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.error_code) == ("failed", "source_server_error")
    assert (len(watch.requests), len(records.requests)) == (1, 3)
    assert sink.applied == [f"{transfer.id}.1"]


def test_withdrawing_stops_both_sources(peers, consent):
    watch, records, sink = peers
    transfer = request_transfer(consent)

    consent_services.consent_withdraw(consent=consent)
    transfer = relay_until_final(transfer)

    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_withdrawn")
    assert [p.status for p in transfer.parts.all()] == ["cancelled", "cancelled"]
    assert (watch.requests, records.requests, sink.requests) == ([], [], [])


def test_withdrawing_while_a_part_waits_cancels_it_and_keeps_the_delivered_one(
    peers, consent, fast_backoff
):
    _watch, records, sink = peers
    records.answers = [Answer(status=503)]
    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)

    consent_services.consent_withdraw(consent=consent)
    transfer = relay_until_final(transfer)

    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_withdrawn")
    assert [p.status for p in transfer.parts.order_by("number")] == ["delivered", "cancelled"]
    assert sink.applied == [f"{transfer.id}.1"]


def test_asking_for_one_sources_data_types_fetches_from_that_source_only(peers, consent, sink_api):
    watch, records, sink = peers

    response = sink_api.post(
        URL, {"consent": str(consent.id), "data_types": ["city.contact_details"]}, format="json"
    )
    transfer = relay_until_final(Transfer.objects.get(pk=response.json()["id"]))

    assert response.status_code == 202
    assert [(p["number"], p["data_types"]) for p in response.json()["parts"]] == [
        (1, ["city.contact_details"])
    ]
    assert (len(watch.requests), len(records.requests)) == (0, 1)
    assert sink.applied == [f"{transfer.id}.1"]
    assert sink.requests[0].claims["parts"] == 1


def test_the_frequency_limit_counts_runs_not_parts(peers, consent, sink_api):
    relay_until_final(request_transfer(consent))

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    # The consent allows one run a day: its two parts were one.
    assert (response.status_code, response.json()["code"]) == (409, "frequency_limit")


def test_a_suspended_source_stops_the_whole_consent(peers, consent, city, staff, sink_api):
    registry_services.service_suspend(service=city, actor=staff)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "service_unavailable")


def test_each_further_part_renews_the_lease_so_the_sweeper_leaves_the_run_alone(peers, consent):
    watch, _records, _sink = peers
    watch.answers = [Answer(body=b"{}", stall=0.3)]

    transfer = relay_until_final(request_transfer(consent))

    first = TransferAttempt.objects.get(transfer=transfer, part__number=1)
    lease = outbox.lease_end(now=first.finished_at, requests=2)
    # Renewed after the first part ended; the claim's lease ended before the stall did.
    assert transfer.next_attempt_at >= lease


def test_a_failed_run_that_delivered_a_part_counts_against_the_frequency_limit(
    peers, consent, sink_api
):
    _watch, records, sink = peers
    records.answers = [Answer(status=404)]
    transfer = relay_until_final(request_transfer(consent))
    assert (transfer.status, sink.applied) == ("failed", [f"{transfer.id}.1"])

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    # The watch's steps reached the sink: a second run would send them again.
    assert (response.status_code, response.json()["code"]) == (409, "frequency_limit")


def test_a_cancelled_run_that_delivered_a_part_counts_against_the_frequency_limit(
    peers, consent, sink_api, fast_backoff
):
    _watch, records, _sink = peers
    records.answers = [Answer(status=503)]
    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)
    consent_services.consent_pause(consent=consent)
    assert relay_until_final(transfer).status == "cancelled"
    consent_services.consent_resume(consent=consent)

    response = sink_api.post(URL, {"consent": str(consent.id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "frequency_limit")


def test_a_sources_notification_of_a_delivered_run_states_only_its_own_part(
    peers, consent, wearable, city
):
    transfer = relay_until_final(request_transfer(consent))

    told = Notification.objects.get(event="transfer.delivered", service=wearable)
    data = jwt.decode(told.body, options={"verify_signature": False})["data"]

    # The city's part's digest would let the watch confirm a guess at the city's data.
    assert transfer.status == "delivered"
    assert [(p["number"], p["source"]) for p in data["parts"]] == [(1, str(wearable.id))]


def test_a_source_reads_no_digest_of_another_sources_part_through_the_consent_api(
    peers, consent, source_provider
):
    relay_until_final(request_transfer(consent))

    answer = api_as(source_provider, "consents:read").get(f"/api/v1/consents/{consent.id}")

    stated = [receipt_verify(r["jws"])["omadata"] for r in answer.json()["receipts"]]
    assert [c["part"] for c in stated if c["event"] == "transfer.delivered"] == [1]


def test_the_sink_reads_the_delivery_receipt_of_every_part(peers, consent, sink_api):
    relay_until_final(request_transfer(consent))

    answer = api_as(consent.sink.organisation.providers.get(), "consents:read").get(
        f"/api/v1/consents/{consent.id}"
    )

    stated = [receipt_verify(r["jws"])["omadata"] for r in answer.json()["receipts"]]
    assert [c["part"] for c in stated if c["event"] == "transfer.delivered"] == [1, 2]
