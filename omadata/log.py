"""How every process's log lines look, and what an expected client error logs.

One record is one line: `<time> <level> <logger> <request id> <message>`, as in
2026-05-04T09:12:03.456Z INFO relay.services 3f2a…9c transfer … delivered 200.

- The time is UTC in ISO 8601 with a `Z`, milliseconds included. UTC, because
  the processes disagree about local time: Django sets its process's TZ to
  TIME_ZONE (Europe/Helsinki) while gunicorn's master and the demo services keep
  the machine's.
- The request id is that of the HTTP request or Celery task the line was written
  for (common/correlation.py), the one its answer carries in X-Request-ID; a dash
  outside any. RequestIdFilter puts it on each record.
- Control characters are escaped (`\\x0a` for a newline, `\\u2028` for Unicode's
  line separator), wherever they come from: a client's user name, a peer's
  answer, an exception's message. So a value that a client or a peer chose cannot
  end a line and forge the next, nor send escape sequences to a terminal. A
  traceback keeps its lines, each indented, so that none can pass for a record.

Settings' LOGGING, gunicorn (omadata/gunicorn_log.py) and Celery (through LOGGING)
all use UTCFormatter and RequestIdFilter; demo/server.py, which imports nothing of
the operator, keeps a copy of the formatter. Imports no app: LOGGING names these classes.
"""

import logging
import time
from typing import Any

from common.correlation import request_id_current

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
NO_REQUEST = "-"
TRACEBACK_INDENT = "    "


# Each character that must not reach a log as it is, and what it becomes: the C0 and
# C1 controls and DEL; Unicode's line and paragraph separators; and the bidirectional
# controls, which reorder what a reader sees.
_CONTROLS = [
    *range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029,
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
]  # fmt: skip
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROLS}


def escape_controls(text: str) -> str:
    """`text` with every control character written as a backslash escape."""
    return text.translate(_ESCAPES)


class UTCFormatter(logging.Formatter):
    """LINE_FORMAT with a UTC timestamp, whatever TZ or TIME_ZONE say; controls escaped."""

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, fmt: str | None = LINE_FORMAT, **kwargs: Any) -> None:
        # A handler without RequestIdFilter still formats its records.
        kwargs.setdefault("defaults", {"request_id": NO_REQUEST})
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        # logging.Formatter.format, but the first line escaped and what follows indented.
        # It would also take a traceback that another handler's formatter left in
        # record.exc_text, unindented: this one formats its own, and leaves none.
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        if record.exc_info:
            text += "\n" + _indented(self.formatException(record.exc_info))
        elif record.exc_text:
            text += "\n" + _indented(record.exc_text)
        if record.stack_info:
            text += "\n" + _indented(self.formatStack(record.stack_info))
        return text


def _indented(text: str) -> str:
    return "\n".join(TRACEBACK_INDENT + escape_controls(line) for line in text.split("\n"))


class RequestIdFilter(logging.Filter):
    """Put the current request's or task's id on each record, as `request_id`.

    On handlers, not loggers: a handler's filter sees the records of every logger
    below it. A record that already has an id (gunicorn's access line) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_current() or NO_REQUEST
        return True


class ClientErrorWithoutTraceback(logging.Filter):
    """Drop the traceback from a record about a 4xx response.

    Django logs an expected refusal (PermissionDenied: 403) with the exception
    attached; its status and path say all there is to say. A 5xx keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
