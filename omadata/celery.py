"""The Celery app, and the request id that each task's log lines carry (common/correlation.py).

A task enqueued while a request is handled (after its commit, from an outbox
row) runs under that request's id, sent along in a message header; a task that
no request enqueued (beat's, a sweep's from the command line) runs under its
own task id, and passes that on to the tasks it enqueues in turn.
"""

import os
from contextvars import Token
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from common.correlation import (
    request_id_acceptable,
    request_id_current,
    request_id_reset,
    request_id_set,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omadata.settings")

app = Celery("omadata")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "omadata_request_id"

# The id each running task replaced, by task id, to restore when it ends: a task run
# eagerly inside a request must give the request its id back.
_replaced: dict[str, Token[str | None]] = {}


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any], **signal: Any) -> None:
    current = request_id_current()
    if current is not None:
        headers.setdefault(REQUEST_ID_HEADER, current)


@task_prerun.connect
def _take_request_id(task_id: str, task: Any, **signal: Any) -> None:
    sent = getattr(task.request, REQUEST_ID_HEADER, None)
    if not (isinstance(sent, str) and request_id_acceptable(sent)):
        sent = None  # whoever can write to the broker can write this header
    # Run eagerly (tests, task_always_eager), a task publishes no message: it runs
    # inside the code that called it, under that code's id.
    _replaced[task_id] = request_id_set(sent or request_id_current() or task_id)


@task_postrun.connect
def _drop_request_id(task_id: str, **signal: Any) -> None:
    token = _replaced.pop(task_id, None)
    if token is not None:
        request_id_reset(token)
