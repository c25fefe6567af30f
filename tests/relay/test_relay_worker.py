"""The relay by real Celery worker processes, over a private redis-server, to real peers."""

import os
import signal

import pytest
from django.db import transaction
from django.utils import timezone

from relay import services
from relay.models import Transfer
from relay.tasks import transfer_sweep
from tests.factories import api_as
from tests.servers import Answer, wait_for
from tests.workers import start_worker

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def spawn(broker, tmp_path, settings):
    """Start relay workers that sign with this test's keys; stop whichever are still running."""
    started = []

    def start(name: str = "relay"):
        process = start_worker(
            broker_url=broker.url, folder=tmp_path, name=f"{name}{len(started)}",
            OMADATA_KEYS_DIR=str(settings.OMADATA_KEYS_DIR),
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def request_transfer(consent) -> Transfer:
    # The relay is enqueued when this block commits.
    with transaction.atomic():
        transfer, _created = services.transfer_request(
            consent=consent, organisation=consent.sink.organisation
        )
    return transfer


def wait_until_final(transfer: Transfer, *workers, timeout: float = 30) -> Transfer:
    def final():
        row = Transfer.objects.get(pk=transfer.pk)
        return row if row.is_final else None

    try:
        return wait_for(final, timeout=timeout)
    except TimeoutError:
        logs = "\n".join(w.log_path.read_text() for w in workers)
        pytest.fail(f"the transfer did not end:\n{logs}")


def test_worker_delivers_a_requested_transfer_once(spawn, peers, consent):
    worker = spawn()
    source, sink = peers
    source.answers = [Answer(body=b'{"steps": 10234}')]

    transfer = wait_until_final(request_transfer(consent), worker)

    assert (transfer.status, transfer.attempts) == ("delivered", 1)
    assert [r.body for r in sink.requests] == [b'{"steps": 10234}']
    assert sink.requests[0].verified
    assert sink.applied == [f"{transfer.id}.1"]


def test_worker_killed_after_the_sink_got_the_body_ends_delivered_once(
    spawn, peers, consent, settings
):
    _source, sink = peers
    sink.answers = [Answer(stall=1.5), Answer()]  # the first answer comes too late for worker 1
    first = spawn()
    transfer = request_transfer(consent)
    wait_for(lambda: sink.requests, timeout=30)

    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert Transfer.objects.get(pk=transfer.pk).status == "delivering"
    second = spawn()
    # The dead worker's lease runs out; then the sweeper hands the transfer on.
    lease_end = Transfer.objects.get(pk=transfer.pk).next_attempt_at
    wait_for(lambda: timezone.now() > lease_end, timeout=30)
    settings.OMADATA_SWEEP_AFTER = 0
    transfer_sweep()

    transfer = wait_until_final(transfer, first, second)
    assert (transfer.status, transfer.attempts) == ("delivered", 2)
    assert [r.headers["idempotency-key"] for r in sink.requests] == [f"{transfer.id}.1"] * 2
    assert sink.applied == [f"{transfer.id}.1"]


def test_transfer_asked_for_while_redis_is_down_is_delivered_after_a_sweep(
    spawn, broker, peers, consent, sink_provider, settings
):
    worker = spawn()
    _source, sink = peers
    api = api_as(sink_provider, "transfers:write")
    broker.stop()

    response = api.post("/api/v1/transfers", {"consent": str(consent.id)}, format="json")

    assert response.status_code == 202
    broker.start()
    settings.OMADATA_SWEEP_AFTER = 0
    transfer_sweep()
    transfer = wait_until_final(Transfer.objects.get(pk=response.json()["id"]), worker)
    assert (transfer.status, transfer.attempts) == ("delivered", 1)
    assert len(sink.requests) == 1


def test_worker_tries_again_after_a_503_and_delivers(spawn, peers, consent):
    worker = spawn()
    source, sink = peers
    source.answers = [Answer(status=503), Answer(body=b"second time")]

    transfer = wait_until_final(request_transfer(consent), worker)

    assert (transfer.status, transfer.attempts) == ("delivered", 2)
    assert [r.body for r in sink.requests] == [b"second time"]
