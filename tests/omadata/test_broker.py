"""The task broker: the embedded default and Redis, with real worker processes."""

import os
import subprocess
import sys

import pytest
from celery import Celery

from tests.servers import ROOT, manage, redis_server, wait_for

SEND = "from omadata.celery import app; app.send_task('omadata.probe', args=['hello'])"
RECEIVE = """
from omadata.celery import app
with app.connection_for_read() as conn:
    message = conn.SimpleQueue('celery').get(timeout=5)
    print(message.headers['task'], message.headers['argsrepr'])
    message.ack()
"""


def _embedded_env(tmp_path) -> dict:
    return {"OMADATA_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": "", "REDIS_URL": ""}


def test_embedded_broker_keeps_a_message_until_a_later_process_reads_it(tmp_path):
    env = _embedded_env(tmp_path)

    sent = manage("shell", "--no-imports", "-c", SEND, env=env)
    assert sent.returncode == 0, sent.stderr
    assert len(list((tmp_path / "broker" / "queue").iterdir())) == 1

    received = manage("shell", "--no-imports", "-c", RECEIVE, env=env)

    assert received.returncode == 0, received.stderr
    assert received.stdout.split() == ["omadata.probe", "['hello']"]
    assert list((tmp_path / "broker" / "queue").iterdir()) == []


def _start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "omadata", "worker", "--concurrency", "1",
         "--pool", "solo", "--hostname", "probe@%h", "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _ping(broker_url: str, transport_options: dict) -> list:
    client = Celery(broker=broker_url)
    client.conf.broker_transport_options = transport_options
    return client.control.ping(timeout=0.5)


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    worker.wait(timeout=20)


@pytest.fixture(autouse=True)
def _no_broker_in_environment(monkeypatch):
    # Celery lets the environment's CELERY_BROKER_URL win over a client's own setting.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def test_worker_answers_over_the_embedded_broker(tmp_path):
    worker = _start_worker(_embedded_env(tmp_path))
    folders = {name: tmp_path / "broker" / name for name in ("queue", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "control_folder": str(folders["control"]),
    }
    try:
        replies = wait_for(lambda: _ping("filesystem://localhost/", options), timeout=30)
    finally:
        _stop(worker)

    assert any(name.startswith("probe@") for reply in replies for name in reply)


@pytest.mark.redis
def test_worker_answers_over_redis():
    with redis_server() as redis:
        worker = _start_worker({"CELERY_BROKER_URL": redis.url})
        try:
            replies = wait_for(lambda: _ping(redis.url, {}), timeout=30)
        finally:
            _stop(worker)

    assert any(name.startswith("probe@") for reply in replies for name in reply)
