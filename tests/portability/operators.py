"""A second operator, beside the test's own: its own process, database, keys and URL.

The test's live server is one operator (its database is the test database); this
one is a gunicorn process of the same code with its own settings: an SQLite file
and a keys directory under the test's tmp directory, and its own base URL. It is
seeded, before it starts, by `manage.py shell` with the same factories the tests use.
"""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.servers import ROOT, free_port, wait_for

# Run in the second operator's environment: Aino's account there, and the same sink and
# source as the first operator's (same slugs, same organisations). Registration checks
# service URLs: names resolve to a public address, as the tests' FAKE_DNS has them.
SEED = """
import ipaddress
from common import netguard
netguard.resolve_host = lambda host, port: [ipaddress.ip_address("93.184.215.14")]
from tests import factories
staff = factories.make_user("staff", is_staff=True, is_superuser=True)
factories.make_user("aino")
factories.make_data_types()
espoo = factories.make_provider(
    name="Espoon kaupunki", business_id="0101263-6", username="espoo")
askel = factories.make_provider(
    name="Askel Wearables Oy", business_id="2345678-0", username="askel")
factories.register_service(askel, factories.source_spec(), approve_by=staff)
factories.register_service(espoo, factories.sink_spec(), approve_by=staff)
"""


@dataclass
class Operator:
    url: str
    database: Path

    def login(self, username: str, password: str) -> requests.Session:
        """A browser session signed in at this operator."""
        browser = requests.Session()
        browser.headers["Accept-Language"] = "en"  # the tests read the pages in English
        page = browser.get(f"{self.url}/accounts/login/", timeout=10)
        answer = browser.post(
            f"{self.url}/accounts/login/",
            data={"username": username, "password": password,
                  "csrfmiddlewaretoken": csrf(page.text)},
            headers={"Referer": f"{self.url}/accounts/login/"}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text[:500]
        assert "sessionid" in browser.cookies, answer.text[:500]
        return browser


def csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


@contextmanager
def second_operator(folder: Path, *, trusting_port: int) -> Iterator[Operator]:
    """The second operator, which may fetch from 127.0.0.1:`trusting_port` (the first)."""
    port = free_port()
    database = folder / "second.sqlite3"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "OMADATA_VAR_DIR": str(folder / "var"),
        "OMADATA_KEYS_DIR": str(folder / "keys"),
        "OMADATA_BASE_URL": f"http://127.0.0.1:{port}",
        "OMADATA_ALLOW_LOOPBACK_URLS": "true",
        "OMADATA_ALLOWED_PORTS": str(trusting_port),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "OMADATA_SIGNING_KEY", "OMADATA_CACHE_URL"):
        environment.pop(name, None)
    for command in (["migrate", "--no-input"], ["shell", "-c", SEED]):
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command], env=environment, cwd=ROOT,
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    log = (folder / "second.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "omadata.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--no-control-socket"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=60)
        yield Operator(url=url, database=database)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/.well-known/jwks.json", timeout=10).status_code == 200
    except requests.RequestException:
        return False
