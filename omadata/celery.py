"""The Celery app, its database connections, and the request id each task's log lines carry.

Celery's Django fixup closes every database connection before and after each
task, whatever DATABASE_CONN_MAX_AGE says: each task paid for a new PostgreSQL
session. Here a worker treats a task as Django treats a request: between tasks a
connection is closed only if it is obsolete (older than DATABASE_CONN_MAX_AGE),
broken, or left outside autocommit, and it is health-checked before its first use
in the next task (CONN_HEALTH_CHECKS). What the fixup does around a fork (a child
drops the connections it inherited) is unchanged.

A task enqueued while a request is handled (after its commit, from an outbox
row) runs under that request's id, sent along in a message header; a task that
no request enqueued (beat's, a sweep's from the command line) runs under its
own task id, and passes that on to the tasks it enqueues in turn.
"""

import os
from contextvars import Token
from typing import Any

from celery import Celery
from celery.fixups import django as django_fixup
from celery.signals import before_task_publish, task_postrun, task_prerun
from django import db

from common.correlation import (
    request_id_acceptable,
    request_id_current,
    request_id_reset,
    request_id_set,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omadata.settings")


class _WorkerFixup(django_fixup.DjangoWorkerFixup):
    """Celery's worker fixup, with Django's own rule for connections between tasks."""

    def on_task_prerun(self, sender: Any, **kwargs: Any) -> None:
        if not getattr(sender.request, "is_eager", False):
            db.close_old_connections()

    def on_task_postrun(self, sender: Any, **kwargs: Any) -> None:
        if not getattr(sender.request, "is_eager", False):
            db.close_old_connections()
            self.close_cache()


class _DjangoFixup(django_fixup.DjangoFixup):
    """Celery's Django fixup, whose worker part is the one above."""

    _worker_fixup: django_fixup.DjangoWorkerFixup | None

    @property
    def worker_fixup(self) -> django_fixup.DjangoWorkerFixup:
        if self._worker_fixup is None:  # made when a worker starts: it reads the app's conf
            self._worker_fixup = _WorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: django_fixup.DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def _django_fixup(app: Celery) -> _DjangoFixup:
    # In place of Celery's built-in fixup (`fixups` replaces the list), not beside it.
    return _DjangoFixup(app).install()


app = Celery("omadata", fixups=[_django_fixup])
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
