"""The rate limits count in one store for every web process: two servers, one count.

Each test starts two gunicorn servers of its own, as production runs the web
process, on the test database and with the cache the settings choose: the
files under var/ when there is no Redis, or a private redis-server.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT, free_port, wait_for
from tests.workers import worker_database_url

LIMIT = 4


@contextmanager
def web_server(var_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """A gunicorn server (one worker process) of the operator on a free port: its URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "OMADATA_VAR_DIR": str(var_dir),
        "OMADATA_RATE_ANONYMOUS": f"{LIMIT}/h",
        **env,
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "omadata.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4", "--no-control-socket"],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        # The first request loads the whole project: give it time on a busy machine.
        return requests.get(f"{url}/.well-known/mydata-operator", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def count_together(tmp_path: Path, **env: str) -> list[int]:
    """Two servers sharing var/: two anonymous calls to each, then one more to each."""
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(web_server(tmp_path / "var", tmp_path / f"{n}.log", **env))
            for n in ("first", "second")
        )
        order = [first, first, second, second, first, second]
        return [requests.get(f"{url}/api/v1/data-types", timeout=10).status_code for url in order]


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_count_each_client_together_in_the_embedded_cache(tmp_path):
    answers = count_together(tmp_path)

    # Alone, each server would have let all three of its calls through.
    assert answers == [200, 200, 200, 200, 429, 429]
    assert any((tmp_path / "var" / "cache").iterdir())


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_count_each_client_together_in_redis(tmp_path, redis):
    answers = count_together(tmp_path, OMADATA_CACHE_URL=redis.url)

    assert answers == [200, 200, 200, 200, 429, 429]
    assert not (tmp_path / "var" / "cache").exists()
