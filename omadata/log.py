"""How every process's log lines look.

Every line starts with a UTC timestamp in ISO 8601 with a `Z`, milliseconds
included: 2026-05-04T09:12:03.456Z. UTC, because the processes disagree about
local time: Django sets its process's TZ to TIME_ZONE (Europe/Helsinki) while
gunicorn's master and the demo services keep the machine's. Settings' LOGGING,
gunicorn (omadata/gunicorn_log.py) and Celery (through LOGGING) all use
UTCFormatter; demo/server.py, which imports nothing of the operator, keeps a copy.

Imports no app: settings' LOGGING names this class.
"""

import logging
import time

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class UTCFormatter(logging.Formatter):
    """LINE_FORMAT with a UTC timestamp, whatever TZ or TIME_ZONE say."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, fmt: str | None = LINE_FORMAT, **kwargs) -> None:
        super().__init__(fmt, **kwargs)
