"""Log lines: one form in every process, and an expected refusal without a traceback."""

import base64
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.urls import path

from omadata.procfile import procfile_read
from tests.servers import ROOT, free_port, wait_for
from tests.workers import start_worker

# omadata/log.py: a UTC timestamp in ISO 8601 with a Z, the level, the logger, the id of the
# request or task (a dash when none), the message.
LOG_LINE = re.compile(
    r"(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<level>[A-Z]+) (?P<logger>\S+)"
    r" (?P<request_id>\S+) (?P<message>.*)"
)
# A client's name for itself, made to forge a log line: every control character that a
# terminal or a log reader acts on, and Unicode's own line and paragraph separators. No
# colon: a Basic-auth user name ends at the first.
FORGED_LINE = "FORGED ERROR the operator was hacked"
HOSTILE = f"evil\r\n{FORGED_LINE}\x1b[2J\x00\x7f\x85\u2028\u2029\u202e\t."
# The request whose access line the gunicorn tests read.
PROBE = "/health?probe=1"
HOSTILE_ESCAPED = f"evil\\x0d\\x0a{FORGED_LINE}\\x1b[2J\\x00\\x7f\\x85\\u2028\\u2029\\u202e\\x09."


def test_django_log_line_starts_with_the_utc_time_and_a_z(log_output):
    logging.getLogger("consent.notifications").warning("delivery failed")

    line = log_output.getvalue().rstrip("\n")
    match = LOG_LINE.fullmatch(line)
    assert match, line
    assert line.endswith(" WARNING consent.notifications - delivery failed")
    # Django has set this process's TZ to TIME_ZONE: local time would be hours off.
    logged_at = datetime.fromisoformat(match["stamp"])
    assert abs(logged_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_gunicorn_logs_errors_and_requests_in_the_same_form(tmp_path):
    lines, answer = _serve_from_procfile(tmp_path, {})

    assert lines
    for line in lines:
        assert LOG_LINE.fullmatch(line), "\n".join(lines)
    request_id = answer.headers["X-Request-ID"]
    [access] = [line for line in lines if PROBE in line]
    assert f' INFO gunicorn.access {request_id} 127.0.0.1 "-" "GET {PROBE} HTTP/1.1" 200 ' in access


def test_gunicorn_access_log_escapes_control_characters_from_the_client(tmp_path):
    credentials = base64.b64encode(f"{HOSTILE}:secret".encode()).decode()
    # gunicorn refuses control characters in header values and the request line itself;
    # a Basic-auth user name is base64 on the wire, and decoded for the log.
    headers = {"Authorization": f"Basic {credentials}"}

    lines, _answer = _serve_from_procfile(tmp_path, headers)

    for line in lines:
        assert LOG_LINE.fullmatch(line), "\n".join(lines)
        assert not line.startswith(FORGED_LINE)
    [access] = [line for line in lines if PROBE in line]
    assert f' gunicorn.access {_answer.headers["X-Request-ID"]} 127.0.0.1 "{HOSTILE_ESCAPED}" ' in (
        access
    )


def test_gunicorn_access_log_quotes_the_user_name_so_that_it_cannot_forge_fields(tmp_path):
    forged = 'me" "GET /admin/ HTTP/1.1" 200 0 "'
    credentials = base64.b64encode(f"{forged}:secret".encode()).decode()

    lines, answer = _serve_from_procfile(tmp_path, {"Authorization": f"Basic {credentials}"})

    [access] = [line for line in lines if PROBE in line]
    escaped = forged.replace('"', '\\"')  # gunicorn's own escape, in every field
    assert (
        f' gunicorn.access {answer.headers["X-Request-ID"]} 127.0.0.1 "{escaped}" '
        f'"GET {PROBE} HTTP/1.1" 200 '
    ) in access


def test_a_message_with_control_characters_is_one_escaped_line(log_output):
    logging.getLogger("relay.services").warning("the source said %s", HOSTILE)

    written = log_output.getvalue()
    assert written.count("\n") == 1
    assert written.rstrip("\n").endswith(
        f" WARNING relay.services - the source said {HOSTILE_ESCAPED}"
    )


def test_a_traceback_cannot_forge_a_line(log_output):
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        logging.getLogger("relay.services").exception("a bug")

    first, *traceback = log_output.getvalue().rstrip("\n").split("\n")
    assert LOG_LINE.fullmatch(first), first
    assert traceback
    for line in traceback:
        assert line.startswith("    "), line  # no line after the first can pass as a record
    # A traceback keeps its lines, the message's line break among them; all else is escaped.
    escaped = f"    ValueError: {HOSTILE_ESCAPED}".split("\\x0a")
    assert traceback[-2:] == [escaped[0], f"    {escaped[1]}"]


def test_celery_worker_logs_in_the_same_form(tmp_path):
    worker = start_worker(
        broker_url="filesystem://localhost/", folder=tmp_path, name="logs",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )  # fmt: skip
    try:
        wait_for(lambda: " ready." in worker.log_path.read_text(), timeout=30)
    finally:
        worker.kill()  # only its start is needed
        worker.wait(timeout=10)

    [ready] = [line for line in worker.log_path.read_text().splitlines() if " ready." in line]
    assert LOG_LINE.fullmatch(ready), ready


def test_expected_403_is_one_warning_line_without_traceback(
    client, aino, settings, caplog, log_output
):
    settings.DEBUG = True  # as under make run, where Django's own console handler is on
    client.force_login(aino)

    response = client.get("/provider/")

    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    written = log_output.getvalue()
    assert written.count("Forbidden (Permission denied): /provider/") == 1, written
    assert "Traceback" not in written


def _fail(request):
    raise RuntimeError("a bug")


urlpatterns = [path("fail", _fail)]


@pytest.mark.urls(__name__)
def test_server_error_keeps_its_traceback(client, caplog, log_output):
    client.raise_request_exception = False

    response = client.get("/fail")

    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "RuntimeError: a bug" in log_output.getvalue()


def _serve_from_procfile(
    tmp_path: Path, headers: dict[str, str]
) -> tuple[list[str], requests.Response]:
    """Start the Procfile's web process, GET PROBE with `headers`, stop it: its log, the answer."""
    port = free_port()
    log_path = tmp_path / "web.log"
    web = _start_from_procfile(
        "web", log_path, OMADATA_PORT=str(port), OMADATA_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )  # fmt: skip
    try:
        wait_for(lambda: web.poll() is not None or _answers(port), timeout=30)
        answer = requests.get(f"http://127.0.0.1:{port}{PROBE}", headers=headers, timeout=10)
        wait_for(lambda: PROBE in log_path.read_text())
    finally:
        web.terminate()
        web.wait(timeout=15)
    return log_path.read_text().splitlines(), answer


def _start_from_procfile(name: str, log_path: Path, **env: str) -> subprocess.Popen:
    """The Procfile's process `name`, started as make run starts it, its output in `log_path`."""
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    command = procfile_read(ROOT / "Procfile")[name]
    with log_path.open("w") as log:
        return subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=ROOT, env={**environment, **env}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
