"""Every request has an id: in its answer's X-Request-ID, its error body or page, its log lines."""

import logging
import re

import pytest
from django.http import HttpRequest
from django.urls import path

from common.correlation import request_id_bound
from omadata.celery import app

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


def _fail(request: HttpRequest):
    raise RuntimeError("a bug")


urlpatterns = [path("api/fail", _fail), path("page/fail", _fail)]
handler500 = "omadata.views.server_error"  # as in omadata/urls.py


@app.task(name="tests.log_a_line")
def log_a_line() -> None:
    logging.getLogger("relay.tasks").info("a task's line")


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


def test_every_answer_carries_a_generated_request_id(client):
    first, second = client.get("/health"), client.get("/health")

    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.urls(__name__)
def test_server_error_answers_json_with_its_id_and_logs_the_same_id(client, log_output):
    client.raise_request_exception = False

    response = client.get("/api/fail")

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    body = response.json()
    assert (body["code"], body["request_id"]) == ("server_error", request_id)
    [line] = lines_with(log_output.getvalue(), "Internal Server Error: /api/fail")
    assert f" ERROR django.request {request_id} Internal Server Error" in line


@pytest.mark.urls(__name__)
def test_server_error_page_shows_its_id(client):
    client.raise_request_exception = False

    response = client.get("/page/fail")

    assert response.status_code == 500
    assert response["X-Request-ID"] in response.content.decode()


def test_api_error_body_carries_the_id(client):
    response = client.get("/api/v1/consents")

    assert response.status_code == 401
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_too_large_request_answers_with_the_id(client, settings):
    response = client.post(
        "/api/v1/consents", data=b"x" * 2048, content_type="application/json",
        CONTENT_LENGTH=str(settings.OMADATA_MAX_REQUEST_BYTES + 1),
    )  # fmt: skip

    assert response.status_code == 413
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_not_found_page_shows_the_id(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response["X-Request-ID"] in response.content.decode()


def test_not_found_json_carries_the_id(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_refused_page_shows_the_id_and_its_warning_line_has_it(client, aino, log_output):
    client.force_login(aino)

    response = client.get("/provider/")

    assert response.status_code == 403
    request_id = response["X-Request-ID"]
    assert request_id in response.content.decode()
    [line] = lines_with(log_output.getvalue(), "Forbidden (Permission denied): /provider/")
    assert f" WARNING django.request {request_id} " in line


def test_lines_outside_a_request_have_a_dash(client, log_output):
    client.get("/health")

    logging.getLogger("relay.services").info("after the request")

    [line] = lines_with(log_output.getvalue(), "after the request")
    assert " INFO relay.services - after the request" in line


def test_a_proxys_request_id_is_ignored_unless_trusted(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="proxy-id-1234")

    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_trusted_proxys_request_id_is_used(client, settings):
    settings.OMADATA_REQUEST_ID_HEADER = "X-Request-ID"

    response = client.get("/health", HTTP_X_REQUEST_ID="proxy-id-1234")

    assert response["X-Request-ID"] == "proxy-id-1234"


@pytest.mark.parametrize(
    "sent",
    ["", "a" * 129, "two words", "line\nbreak", 'quote"d', "<script>", "ä-not-ascii"],
    ids=["empty", "too-long", "space", "newline", "quote", "markup", "non-ascii"],
)
def test_a_trusted_proxys_malformed_id_is_replaced(client, settings, sent):
    settings.OMADATA_REQUEST_ID_HEADER = "X-Request-ID"

    response = client.get("/health", HTTP_X_REQUEST_ID=sent)

    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_task_run_while_handling_a_request_logs_the_requests_id(deliver_in_process, log_output):
    with request_id_bound("req-0123456789"):
        log_a_line.delay()

    [line] = lines_with(log_output.getvalue(), "a task's line")
    assert " INFO relay.tasks req-0123456789 a task's line" in line


def test_a_task_enqueued_by_no_request_logs_its_own_id(deliver_in_process, log_output):
    result = log_a_line.delay()

    [line] = lines_with(log_output.getvalue(), "a task's line")
    assert f" INFO relay.tasks {result.id} a task's line" in line
