"""The relay, in the test process, against real source and sink servers on 127.0.0.1."""

import base64
import gzip
import hashlib
import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from consent import services as consent_services
from consent.models import Receipt
from consent.receipts import receipt_verify
from registry.models import Service
from relay import services
from relay.models import Transfer, TransferAttempt
from tests.relay.helpers import relay_until_final, request_transfer
from tests.servers import Answer, redirect
from webhooks.models import Notification


def payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def notifications_of(event: str) -> list[dict]:
    return [payload(n.body) for n in Notification.objects.filter(event=event)]


def test_transfer_is_delivered_with_digest_and_idempotency_key(peers, consent):
    source, sink = peers
    body = b'{"steps": [10234, 8812], "marker": "a1b2c3-only-in-the-body"}'
    source.answers = [Answer(body=body, headers={"Content-Type": "application/json"})]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts, transfer.error_code) == ("delivered", 1, "")
    [fetch], [delivery] = source.requests, sink.requests
    assert (fetch.method, fetch.verified) == ("GET", True)
    assert (delivery.method, delivery.verified) == ("POST", True)
    assert delivery.body == body
    assert delivery.headers["idempotency-key"] == f"{transfer.id}.1"
    assert delivery.headers["content-type"] == "application/json"
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert delivery.headers["content-digest"] == f"sha-256=:{digest}:"
    assert transfer.byte_count == len(body)
    assert transfer.sha256 == hashlib.sha256(body).hexdigest()


def test_delivery_issues_a_receipt_chained_to_the_consent(peers, consent):
    source, _sink = peers
    source.answers = [Answer(body=b"12345")]
    previous = Receipt.objects.filter(consent=consent).order_by(*Receipt.LATEST_FIRST).first()

    transfer = relay_until_final(request_transfer(consent))

    receipt = Receipt.objects.get(consent=consent, event="transfer.delivered")
    claims = receipt_verify(receipt.jws)["omadata"]
    assert claims["event"] == "transfer.delivered"
    assert claims["transfer_id"] == str(transfer.id)
    assert claims["consent_id"] == str(consent.id)
    assert (claims["byte_count"], claims["sha256"]) == (5, hashlib.sha256(b"12345").hexdigest())
    assert claims["previous_receipt_sha256"] == previous.sha256


def test_delivery_notifies_source_and_sink(peers, consent, wearable, wellbeing):
    peers[0].answers = [Answer(body=b"12345")]

    relay_until_final(request_transfer(consent))

    rows = Notification.objects.filter(event="transfer.delivered")
    assert {row.service_id for row in rows} == {wearable.id, wellbeing.id}


def test_no_copy_of_the_body_is_stored(peers, consent):
    marker = "secret-steps-only-in-the-body-9f8e7d"
    peers[0].answers = [Answer(body=marker.encode())]

    relay_until_final(request_transfer(consent))

    dump = json.dumps(
        [payload(r.jws) for r in Receipt.objects.all()]
        + [payload(n.body) for n in Notification.objects.all()]
    )
    output = _dumpdata()
    assert Transfer.objects.get().status == "delivered"
    assert marker not in dump
    assert marker not in output


def _dumpdata() -> str:
    from io import StringIO

    out = StringIO()
    call_command("dumpdata", "relay", "consent", "registry", stdout=out)
    return out.getvalue()


def test_tokens_carry_the_consents_data_types_and_pairwise_subjects(peers, consent, wearable):
    source, sink = peers

    transfer = relay_until_final(request_transfer(consent))

    fetch_claims, delivery_claims = source.requests[0].claims, sink.requests[0].claims
    assert fetch_claims["data_types"] == ["wellbeing.steps"]
    assert fetch_claims["aud"] == str(wearable.id)
    assert fetch_claims["transfer_id"] == delivery_claims["transfer_id"] == str(transfer.id)
    assert fetch_claims["consent_id"] == str(consent.id)
    assert fetch_claims["sub"] != delivery_claims["sub"]
    assert fetch_claims["exp"] - fetch_claims["iat"] == 120
    assert fetch_claims["jti"] != delivery_claims["jti"]


def test_source_503_twice_then_200_is_delivered_on_the_third_try(peers, consent, fast_backoff):
    source, sink = peers
    source.answers = [Answer(status=503), Answer(status=503), Answer(body=b"late")]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts) == ("delivered", 3)
    outcomes = TransferAttempt.objects.filter(transfer=transfer).order_by("pk")
    assert [(a.outcome, a.http_status) for a in outcomes] == [
        ("retry", 503), ("retry", 503), ("delivered", 200)
    ]  # fmt: skip
    assert [r.body for r in sink.requests] == [b"late"]


def test_retries_end_in_failed_with_the_last_code(peers, consent, fast_backoff, settings):
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 2
    peers[0].answers = [Answer(status=503), Answer(status=429)]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts, transfer.error_code) == (
        "failed", 2, "source_rate_limited"
    )  # fmt: skip


def test_source_400_fails_at_once_and_its_text_goes_nowhere(peers, consent, fast_backoff):
    source, sink = peers
    source.answers = [Answer(status=400, body=b"Traceback: db password hunter2")]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts) == ("failed", 1)
    assert transfer.error_code == "source_rejected"
    assert sink.requests == []
    [failed] = notifications_of("transfer.failed")
    assert failed["data"]["error_code"] == "source_rejected"
    assert "hunter2" not in json.dumps(failed) + _dumpdata()


def test_sink_500_is_tried_again_with_the_same_idempotency_key(peers, consent, fast_backoff):
    _source, sink = peers
    sink.answers = [Answer(status=500), Answer(status=201)]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts) == ("delivered", 2)
    assert [r.headers["idempotency-key"] for r in sink.requests] == [f"{transfer.id}.1"] * 2
    assert sink.applied == [f"{transfer.id}.1"]


def test_redirecting_source_is_refused_with_no_connection_to_the_target(
    peers, consent, accept_counter
):
    source, sink = peers
    source.answers = [redirect(f"http://127.0.0.1:{accept_counter.port}/")]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.error_code) == ("failed", "source_redirect_refused")
    assert transfer.attempts == 1
    time.sleep(0.2)  # a connection, had one been made, would have been counted by now
    assert accept_counter.accepted == 0
    assert sink.requests == []


def test_dripping_source_is_cut_at_the_deadline(peers, consent, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 0.5
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 1
    source, sink = peers
    source.answers = [Answer(body=b"x" * 100, drip=0.1)]

    started = time.monotonic()
    transfer = relay_until_final(request_transfer(consent))

    assert time.monotonic() - started < 2.5
    assert (transfer.status, transfer.error_code) == ("failed", "source_timeout")
    assert transfer.attempt_rows.get().duration_ms < 2000
    assert sink.requests == []


def test_flooding_source_is_cut_at_the_cap(peers, consent, settings):
    settings.OMADATA_TRANSFER_MAX_BYTES = 100_000
    source, sink = peers
    source.answers = [Answer(flood=200 * 1024 * 1024)]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.error_code) == ("failed", "source_response_too_large")
    assert transfer.attempts == 1
    source.requests[0].done.wait(5)
    # Read to the cap and no further: what the peer got out is the cap and socket buffers,
    # far below OMADATA_OUTBOUND_MAX_BYTES (10 MiB), the general cap this one overrides.
    assert source.requests[0].sent < 4 * 1024 * 1024
    assert sink.requests == []


def test_withdrawal_during_backoff_cancels_and_stops_all_requests(peers, consent, settings):
    settings.OMADATA_RELAY_BACKOFF_BASE = 50.0  # the retry waits far longer than this test
    source, sink = peers
    source.answers = [Answer(status=503)]
    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)
    transfer.refresh_from_db()
    assert (transfer.status, len(source.requests)) == ("queued", 1)

    consent_services.consent_withdraw(consent=consent)
    assert services.transfer_sweep() == [transfer.id]  # the stopped consent makes it due now
    services.transfer_relay(transfer_id=transfer.id)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_withdrawn")
    assert (len(source.requests), len(sink.requests)) == (1, 0)
    [cancelled] = notifications_of("transfer.cancelled")
    assert cancelled["aud"] == str(consent.sink_id)
    assert cancelled["data"]["transfer_id"] == str(transfer.id)


def test_paused_consent_cancels_before_fetching(peers, consent):
    source, sink = peers
    transfer = request_transfer(consent)
    consent_services.consent_pause(consent=consent)

    transfer = relay_until_final(transfer)

    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_paused")
    assert (source.requests, sink.requests) == ([], [])


def test_consent_past_its_validity_cancels_before_fetching(peers, consent):
    source, _sink = peers
    transfer = request_transfer(consent)
    type(consent).objects.filter(pk=consent.pk).update(valid_until=timezone.now())

    transfer = relay_until_final(transfer)

    assert (transfer.status, transfer.error_code) == ("cancelled", "consent_expired")
    assert source.requests == []


def test_a_second_run_of_the_task_does_nothing(peers, consent):
    source, sink = peers
    transfer = request_transfer(consent)
    services.transfer_relay(transfer_id=transfer.id)

    assert services.transfer_relay(transfer_id=transfer.id) is None

    assert (len(source.requests), len(sink.requests)) == (1, 1)


def test_sweeper_hands_on_a_transfer_whose_worker_died(peers, consent, settings):
    settings.OMADATA_SWEEP_AFTER = 0
    _source, sink = peers
    transfer = request_transfer(consent)
    # A worker claimed it and died in `delivering`; its lease has run out.
    Transfer.objects.filter(pk=transfer.pk).update(
        status="delivering", attempts=1, next_attempt_at=timezone.now()
    )

    assert services.transfer_sweep() == [transfer.id]
    transfer = relay_until_final(transfer)

    assert (transfer.status, transfer.attempts) == ("delivered", 2)
    assert len(sink.requests) == 1


def test_sweeper_leaves_a_transfer_in_its_lease_alone(peers, consent, settings):
    settings.OMADATA_SWEEP_AFTER = 0
    transfer = request_transfer(consent)
    services.transfer_claim(transfer_id=transfer.id)

    assert services.transfer_sweep() == []


@pytest.mark.parametrize("limit_kind", ["one_off", "recurring"])
def test_failed_transfer_does_not_use_up_the_frequency_limit(
    peers, consent, limit_kind, fast_backoff
):
    if limit_kind == "one_off":
        type(consent).objects.filter(pk=consent.pk).update(
            frequency="one_off", frequency_limit=None, frequency_period=""
        )
    peers[0].answers = [Answer(status=400)]
    relay_until_final(request_transfer(consent))

    second = request_transfer(consent)

    assert second.status == "queued"


def test_sink_rejecting_the_delivery_fails_at_once_and_is_told(peers, consent, fast_backoff):
    _source, sink = peers
    sink.answers = [Answer(status=422, body=b"schema mismatch at line 3")]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts, transfer.error_code) == (
        "failed", 1, "sink_rejected"
    )  # fmt: skip
    assert (transfer.byte_count, transfer.sha256) == (None, "")
    [failed] = notifications_of("transfer.failed")
    assert failed["aud"] == str(consent.sink_id)
    assert not Receipt.objects.filter(event="transfer.delivered").exists()


def claim_and_die(transfer: Transfer, *, settings) -> None:
    """A worker takes the transfer's next try once a sweep hands it on, and dies mid-try."""
    due = Transfer.objects.get(pk=transfer.pk).next_attempt_at
    moment = max(due, timezone.now()) + timedelta(seconds=settings.OMADATA_SWEEP_AFTER + 1)
    with time_machine.travel(moment, tick=True):
        services.transfer_sweep()
        services.transfer_claim(transfer_id=transfer.id)


def test_sweeps_never_hand_a_transfer_on_past_its_last_try(peers, consent, settings):
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 3
    source, sink = peers
    transfer = request_transfer(consent)

    for _ in range(8):
        claim_and_die(transfer, settings=settings)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.attempts, transfer.error_code) == (
        "failed", 3, "attempts_exhausted"
    )  # fmt: skip
    assert [(a.outcome, a.http_status, a.error) for a in transfer.attempt_rows.all()] == [
        ("failed", None, "attempts_exhausted")
    ]
    [failed] = notifications_of("transfer.failed")
    assert failed["data"]["error_code"] == "attempts_exhausted"
    assert (source.requests, sink.requests) == ([], [])


def test_a_transfer_with_no_tries_left_is_not_claimed(peers, consent, settings):
    source, _sink = peers
    transfer = request_transfer(consent)
    # The operator lowered the maximum below the tries this one has had.
    Transfer.objects.filter(pk=transfer.pk).update(attempts=5)
    settings.OMADATA_RELAY_MAX_ATTEMPTS = 5

    assert services.transfer_relay(transfer_id=transfer.id) is None
    assert Transfer.objects.get(pk=transfer.pk).attempts == 5
    assert source.requests == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; profile=" + "x" * 250,  # longer than the operator keeps
        "application/json\r\n X-Injected: 1",  # a folded header line
        "application/json, text/plain",  # two Content-Type fields, joined
        'text/plain; charset="utf-8',  # an unterminated quoted string
        "json",  # no subtype
        "application/jsön",  # not a token
        "application/json; charset",  # a parameter without a value
        "text/plain; charset=\x00",
    ],
)
def test_a_source_content_type_that_is_no_media_type_fails_before_delivery(
    peers, consent, content_type
):
    source, sink = peers
    source.answers = [Answer(body=b"{}", headers={"Content-Type": content_type})]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts, transfer.error_code) == (
        "failed", 1, "source_bad_content_type"
    )  # fmt: skip
    assert sink.requests == []
    assert transfer.content_type == ""


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/vnd.askel.steps+json; version=2",
        'text/plain; charset="utf-8"',
        "text/csv;charset=utf-8;header=present",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    ],
)
def test_a_well_formed_content_type_is_relayed_as_it_came(peers, consent, content_type):
    source, sink = peers
    source.answers = [Answer(body=b"{}", headers={"Content-Type": content_type})]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.content_type) == ("delivered", content_type)
    assert sink.requests[0].headers["content-type"] == content_type


def test_source_is_asked_for_the_body_uncompressed(peers, consent):
    source, _sink = peers
    source.answers = [Answer(body=b"{}")]

    relay_until_final(request_transfer(consent))

    assert source.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "deflate, gzip", "br"])
def test_compressed_source_answer_fails_and_is_never_relayed(peers, consent, encoding):
    source, sink = peers
    # A small gzip that would unpack to a megabyte: the relay must not unpack it, nor pass it on.
    bomb = gzip.compress(b"\0" * 1024 * 1024)
    source.answers = [Answer(body=bomb, headers={"Content-Encoding": encoding})]

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.attempts, transfer.error_code) == (
        "failed", 1, "source_bad_content_encoding"
    )  # fmt: skip
    assert sink.requests == []
    assert transfer.byte_count is None


def test_identity_content_encoding_is_relayed(peers, consent):
    source, sink = peers
    source.answers = [Answer(body=b"{}", headers={"Content-Encoding": "Identity"})]

    transfer = relay_until_final(request_transfer(consent))

    assert transfer.status == "delivered"
    assert sink.requests[0].body == b"{}"


@pytest.mark.parametrize("path", ["/dätä", "/d\x7fata", "/d\tata"])
def test_fetch_url_stored_before_normalisation_fails_the_transfer(peers, consent, path):
    source, sink = peers
    # Written past the service layer, as a URL stored before URLs were normalised was.
    Service.objects.filter(pk=consent.sources.get().service_id).update(
        fetch_url=source.url + path
    )

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.error_code) == ("failed", "source_invalid_url")
    assert (source.requests, sink.requests) == ([], [])


def test_delivery_url_stored_before_normalisation_fails_the_transfer(peers, consent):
    source, sink = peers
    source.answers = [Answer(body=b"{}")]
    type(consent.sink).objects.filter(pk=consent.sink_id).update(delivery_url=sink.url + "/€")

    transfer = relay_until_final(request_transfer(consent))

    assert (transfer.status, transfer.error_code) == ("failed", "sink_invalid_url")
    assert sink.requests == []
