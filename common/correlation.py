"""The id of the HTTP request or Celery task being handled: one id to find it everywhere.

An answer carries it in `X-Request-ID` (and an error body in `request_id`), an
error page shows it, and every log line written while handling it names it
(omadata/log.py). A task runs under the id of the request that enqueued it,
or under its own task id when no request did (omadata/celery.py).

A context variable, so that each thread (gunicorn's gthread workers) and each
task sees its own.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

RESPONSE_HEADER = "X-Request-ID"

_current: ContextVar[str | None] = ContextVar("omadata_request_id", default=None)

# What an id from a trusted proxy may be: short, printable ASCII without spaces, quotes
# or markup, so that it stays one token in a log line and harmless in a page or header.
# nginx's $request_id (32 hex digits) and UUIDs fit.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def request_id_current() -> str | None:
    """The id of the request or task this code runs for; None outside any."""
    return _current.get()


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_acceptable(value: str) -> bool:
    """Whether an id that a proxy sent may be used as it is."""
    return _ACCEPTABLE.fullmatch(value) is not None


def request_id_set(value: str | None) -> Token[str | None]:
    """Make `value` the current id until reset with the token returned (or set again)."""
    return _current.set(value)


def request_id_reset(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    """The current id is `value` inside the block, and what it was before after it."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


def request_id_forget(**signal: object) -> None:
    """Connected to request_finished: a request's id stays current until its answer is closed.

    Django logs a 4xx, and gunicorn writes its access line, after the middleware
    has returned. After this, the thread's lines belong to no request until the
    next one sets its own.
    """
    _current.set(None)
