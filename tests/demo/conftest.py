"""The demo services on a free port, against a live operator seeded by demo_seed."""

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from demo.config import Config
from demo.server import serve
from demo.store import Store
from omadata.celery import app
from registry.models import Service
from tests.servers import free_port


@dataclass
class DemoWorld:
    url: str  # the demo server
    operator: str  # the live operator
    seeded: dict  # var/demo.json
    store: Store  # the demo's own state, read as its pages would
    wearable: Service
    wellbeing: Service


@pytest.fixture
def deliver_in_process():
    # Notifications are delivered where they are enqueued (after commit), not
    # through the checkout's filesystem broker, which a later `make run` would drain.
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def demo_world(live_server, settings, tmp_path, monkeypatch, deliver_in_process):
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True
    settings.BASE_URL = live_server.url
    settings.VAR_DIR = tmp_path / "var"
    port = free_port()
    demo_url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("OMADATA_DEMO_BASE_URL", demo_url)
    call_command("demo_seed", stdout=io.StringIO())
    config = Config(operator_url=live_server.url, demo_url=demo_url, var_dir=settings.VAR_DIR)
    server = serve(config, port=port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield DemoWorld(
        url=demo_url, operator=live_server.url,
        seeded=json.loads(Path(settings.VAR_DIR, "demo.json").read_text()),
        store=Store(config.state_path),
        wearable=Service.objects.get(slug="wearable"),
        wellbeing=Service.objects.get(slug="wellbeing"),
    )  # fmt: skip
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=10, allow_redirects=False, **kwargs)


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url, timeout=10, allow_redirects=False, **kwargs)
