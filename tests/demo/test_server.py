"""`python -m demo.server` as make run starts it: an outside service, not part of the operator."""

import os
import re
import socket
import subprocess
import sys

import pytest
import requests

from tests.servers import ROOT, free_port, wait_for


def test_demo_server_imports_nothing_of_the_operator():
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, demo.server; print(' '.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip

    operator = {"django", "rest_framework", "omadata", "registry", "consent", "relay"}
    assert {name.split(".")[0] for name in imported} & operator == set()


@pytest.fixture
def demo_process(tmp_path):
    port = free_port()
    env = {**os.environ, "OMADATA_DEMO_PORT": str(port), "OMADATA_VAR_DIR": str(tmp_path),
           "OMADATA_BASE_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    with (tmp_path / "demo.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo.server"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    yield f"http://127.0.0.1:{port}", tmp_path
    process.terminate()
    process.wait(timeout=10)


def _answers(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=1)
    except requests.ConnectionError:
        return None


def test_demo_server_starts_on_its_port_and_keeps_state_under_var(demo_process):
    url, var_dir = demo_process

    landing = wait_for(lambda: _answers(f"{url}/wellbeing/"))

    assert landing.status_code == 200
    assert "Espoo wellbeing service" in landing.text
    assert (var_dir / "demo" / "state.sqlite3").exists()
    # With no operator to reach, an action that needs one says so instead of failing.
    browser = requests.Session()
    form = browser.get(f"{url}/wellbeing/", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    joined = browser.post(
        f"{url}/wellbeing/join", data={"csrf_token": token}, timeout=10, allow_redirects=False
    )
    assert joined.status_code in (502, 503)


def test_demo_server_logs_in_the_operators_form(demo_process):
    url, var_dir = demo_process
    log = var_dir / "demo.log"

    wait_for(lambda: _answers(f"{url}/wellbeing/"))
    wait_for(lambda: "GET /wellbeing/" in log.read_text())

    # omadata/log.py: a UTC timestamp in ISO 8601 with a Z, the level, the logger, a dash where
    # the operator names its request id, the message.
    form = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ demo(\.access)? - .*")
    lines = log.read_text().splitlines()
    assert lines
    for line in lines:
        assert form.fullmatch(line), line


def test_demo_server_escapes_control_characters_in_its_access_log(demo_process):
    url, var_dir = demo_process
    log = var_dir / "demo.log"
    wait_for(lambda: _answers(f"{url}/wellbeing/"))
    port = int(url.rsplit(":", 1)[1])

    # A request line that a client chose, with a terminal escape and a NUL in it.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /wellbeing/\x1b[2J\x00 HTTP/1.0\r\nHost: demo\r\n\r\n")
        # Read the whole answer: wsgiref logs no request whose client left early.
        while client.recv(65536):
            pass
    wait_for(lambda: "GET /wellbeing/\\x1b[2J\\x00 " in log.read_text())

    assert "\x1b" not in log.read_text()
