"""Real Celery worker processes for tests: a private redis-server, the test database, short waits.

The root conftest registers this module's `redis` and `broker` fixtures. Tests
start workers with `start_worker`, and stop (or kill) them themselves: only
processes they started.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from omadata.celery import app
from tests.servers import ROOT, RedisServer


def worker_database_url() -> str:
    """Where a worker process finds the test database this process uses."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"  # a file: tests/conftest.py keeps it out of memory
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@pytest.fixture
def redis():
    """A private redis-server on a free port, which the test may stop and start again."""
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


def start_worker(*, broker_url: str, folder: Path, name: str, **env: str) -> subprocess.Popen:
    """A Celery worker process (solo pool) on `broker_url` and the test database.

    Its log is at `process.log_path`; `env` adds or overrides environment variables.
    """
    log_path = folder / f"{name}.log"
    environment = {
        **os.environ,
        "CELERY_BROKER_URL": broker_url,
        "DATABASE_URL": worker_database_url(),
        "OMADATA_VAR_DIR": str(folder / "var"),
        "OMADATA_ALLOW_LOOPBACK_URLS": "true",
        "OMADATA_OUTBOUND_TIMEOUT": "2",
        "OMADATA_NOTIFY_BACKOFF_BASE": "0.05",
        "OMADATA_NOTIFY_BACKOFF_CAP": "1",
        "OMADATA_RELAY_BACKOFF_BASE": "0.05",
        "OMADATA_RELAY_BACKOFF_CAP": "1",
        "CELERY_VISIBILITY_TIMEOUT": "30",
        "CELERY_BROKER_CONNECTION_TIMEOUT": "1",
        **env,
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "omadata", "worker", "--pool", "solo",
             "--hostname", f"{name}-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    process.log_path = log_path  # type: ignore[attr-defined]
    return process
