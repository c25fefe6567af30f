"""gunicorn's error and access logs in the form of every other log line (omadata/log.py).

The Procfile names this class with `--logger-class`, and drops `%(t)s` from the
access log format: the line already starts with the time.
"""

from typing import Any

from gunicorn import glogging

from omadata.log import UTCFormatter


class GunicornLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(UTCFormatter())
