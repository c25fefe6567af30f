"""Real Celery worker processes for tests: a private redis-server, the test database, short waits.

The root conftest registers this module's fixtures: this run's own broker, and
`redis` and `broker` for tests with real workers. Tests start workers with
`start_worker`, and stop (or kill) them themselves: only processes they started.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@pytest.fixture(scope="session", autouse=True)
def run_broker(run_var_dir):
    """This run's own broker: kombu's filesystem transport under the run's var/ directory.

    Transactional tests enqueue after commit. Without this their messages would
    wait in the checkout's var/broker for the next `make run`, or in the Redis
    that CELERY_BROKER_URL names. A test that needs Redis uses the `broker`
    fixture below: a private redis-server, for that test only.
    """
    with pytest.MonkeyPatch.context() as patch:
        # Celery lets the environment's broker win over its configuration; the
        # settings of the processes that tests start fall back to REDIS_URL.
        patch.delenv("CELERY_BROKER_URL", raising=False)
        patch.delenv("REDIS_URL", raising=False)
        with celery_broker(
            "filesystem://localhost/", filesystem_broker_options(run_var_dir / "broker")
        ):
            yield


@pytest.fixture
def redis():
    """A private redis-server on a free port, which the test may stop and start again."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis, monkeypatch):
    """Point this process's Celery app, which enqueues on commit and sweeps, at `redis`."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with celery_broker(redis.url, {}):
        yield redis


def filesystem_broker_options(folder: Path) -> dict:
    """kombu's filesystem transport kept under `folder`, laid out as the settings lay out var/."""
    folders = {name: folder / name for name in ("queue", "control", "processed")}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "control_folder": str(folders["control"]),
        "processed_folder": str(folders["processed"]),
        "store_processed": False,
    }


@contextmanager
def celery_broker(url: str, transport_options: dict) -> Iterator[None]:
    """Point this process's Celery app at another broker, and back at the end.

    The environment's CELERY_BROKER_URL would win over the app's configuration:
    the caller sees that it is unset.
    """
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    app.conf.update(broker_url=url, broker_transport_options=transport_options)
    _forget_broker_connections()
    try:
        yield
    finally:
        app.conf.update(saved)
        _forget_broker_connections()


def _forget_broker_connections() -> None:
    # Celery keeps its connection and producer pools for the broker it first used,
    # and has no public way to drop them: this is what it does itself after a fork.
    app._pool = None
    app.amqp._producer_pool = None


def start_worker(
    *, broker_url: str, folder: Path, name: str, include: str = "", **env: str
) -> subprocess.Popen:
    """A Celery worker process (solo pool) on `broker_url` and the test database.

    Its log is at `process.log_path`; `include` names a module of tasks it loads
    besides the apps'; `env` adds or overrides environment variables.
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
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             *(["--include", include] if include else [])],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    process.log_path = log_path  # type: ignore[attr-defined]
    return process
