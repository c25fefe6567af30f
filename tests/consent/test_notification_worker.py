"""Webhook delivery by a real Celery worker process, over a private redis-server."""

import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from consent.models import Notification, NotificationAttempt
from consent.tasks import notification_sweep
from omadata.celery import app
from tests.servers import ROOT, Answer, RedisServer, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def worker_database_url() -> str:
    """Where a worker process finds the test database this process uses."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"  # a file: tests/conftest.py keeps it out of memory
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@pytest.fixture
def redis():
    server = RedisServer().start()
    yield server
    server.stop()


def _forget_broker_connections() -> None:
    # Celery keeps its connection and producer pools for the broker it first used.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(redis, monkeypatch):
    """Point this process's Celery app, which enqueues on commit and sweeps, at `redis`."""
    # Celery lets the environment's CELERY_BROKER_URL win over its configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    app.conf.update(broker_url=redis.url, broker_transport_options={})
    _forget_broker_connections()
    yield redis
    app.conf.update(saved)
    _forget_broker_connections()


@pytest.fixture
def worker(broker, tmp_path):
    """A Celery worker process on the private Redis and the test database, with short waits."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker.url,
        "DATABASE_URL": worker_database_url(),
        "OMADATA_VAR_DIR": str(tmp_path / "var"),
        "OMADATA_ALLOW_LOOPBACK_URLS": "true",
        "OMADATA_OUTBOUND_TIMEOUT": "2",
        "OMADATA_NOTIFY_BACKOFF_BASE": "0.05",
        "OMADATA_NOTIFY_BACKOFF_CAP": "1",
        "OMADATA_RELAY_BACKOFF_BASE": "0.05",
        "OMADATA_RELAY_BACKOFF_CAP": "1",
        "CELERY_VISIBILITY_TIMEOUT": "30",
        "CELERY_BROKER_CONNECTION_TIMEOUT": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "omadata", "worker", "--pool", "solo",
             "--hostname", f"notify-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    process.log_path = log_path
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
