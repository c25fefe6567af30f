"""Webhook delivery by a real Celery worker process, over a private redis-server."""

import re

import pytest

from common.correlation import request_id_bound
from tests.servers import Answer, wait_for
from tests.workers import start_worker
from webhooks.models import Notification, NotificationAttempt
from webhooks.tasks import notification_sweep

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(broker, tmp_path):
    """A Celery worker process on the private Redis and the test database, with short waits."""
    process = start_worker(broker_url=broker.url, folder=tmp_path, name="notify")
    yield process
    process.terminate()
    process.wait(timeout=20)


def wait_until_finished(notification: Notification, worker) -> Notification:
    """Poll the row until the worker has delivered or failed it; show its log if it never does."""

    def finished():
        row = Notification.objects.get(pk=notification.pk)
        return row if row.status != Notification.Status.PENDING else None

    try:
        return wait_for(finished, timeout=30)
    except TimeoutError:
        pytest.fail(f"the worker did not finish the notification:\n{worker.log_path.read_text()}")


def test_worker_delivers_a_queued_notification(
    worker, webhook_service, queue_notification, receiver
):
    notification = queue_notification(webhook_service)

    notification = wait_until_finished(notification, worker)

    assert (notification.status, notification.attempts) == ("delivered", 1)
    assert receiver.requests[0].verified


def test_worker_tries_again_after_503s_and_delivers(
    worker, webhook_service, queue_notification, receiver
):
    receiver.answers = [Answer(status=503), Answer(status=503), Answer(status=200)]

    notification = wait_until_finished(queue_notification(webhook_service), worker)

    assert (notification.status, notification.attempts) == ("delivered", 3)
    outcomes = NotificationAttempt.objects.filter(notification=notification).order_by("pk")
    assert [row.outcome for row in outcomes] == ["retry", "retry", "delivered"]


def test_notification_committed_while_redis_is_down_is_delivered_after_a_sweep(
    worker, broker, webhook_service, queue_notification, receiver, settings
):
    broker.stop()
    notification = queue_notification(webhook_service)  # commits; the enqueue fails
    assert Notification.objects.get(pk=notification.pk).status == "pending"
    broker.start()
    settings.OMADATA_SWEEP_AFTER = 0

    notification_sweep()

    notification = wait_until_finished(notification, worker)
    assert (notification.status, notification.attempts) == ("delivered", 1)
    assert len(receiver.requests) == 1


def test_worker_logs_a_try_under_the_id_of_the_request_that_queued_it(
    worker, webhook_service, queue_notification, receiver
):
    with request_id_bound("req-0123456789"):
        notification = queue_notification(webhook_service)

    wait_until_finished(notification, worker)

    [line] = [row for row in worker_lines(worker) if f"notification {notification.id}" in row]
    assert " INFO webhooks.services req-0123456789 notification " in line


def test_worker_logs_a_try_queued_outside_a_request_under_its_task_id(
    worker, webhook_service, queue_notification, receiver
):
    notification = wait_until_finished(queue_notification(webhook_service), worker)

    [line] = [row for row in worker_lines(worker) if f"notification {notification.id}" in row]
    task_id = line.split()[3]
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id), line
    assert any(f"notification_deliver[{task_id}] received" in row for row in worker_lines(worker))


def worker_lines(worker) -> list[str]:
    return worker.log_path.read_text().splitlines()
