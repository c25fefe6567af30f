"""How every process's log lines look, and what an expected client error logs.

Every line starts with a UTC timestamp in ISO 8601 with a `Z`, milliseconds
included: 2026-05-04T09:12:03.456Z. UTC, because the processes disagree about
local time: Django sets its process's TZ to TIME_ZONE (Europe/Helsinki) while
gunicorn's master and the demo services keep the machine's. Settings' LOGGING,
gunicorn (omadata/gunicorn_log.py) and Celery (through LOGGING) all use
UTCFormatter; demo/server.py, which imports nothing of the operator, keeps a copy.

Imports no app: settings' LOGGING names these classes.
"""

import logging
import time
from typing import Any

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class UTCFormatter(logging.Formatter):
    """LINE_FORMAT with a UTC timestamp, whatever TZ or TIME_ZONE say."""

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, fmt: str | None = LINE_FORMAT, **kwargs: Any) -> None:
        super().__init__(fmt, **kwargs)


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
