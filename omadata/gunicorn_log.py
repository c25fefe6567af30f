"""gunicorn's error and access logs in the form of every other log line (omadata/log.py).

The Procfile names this class with `--logger-class`, and drops `%(t)s` from the
access log format: the line already starts with the time. The formatter escapes
control characters, so a client's Basic-auth user name (`%(u)s`, decoded from
base64, so it may hold a newline) cannot forge a line; the format quotes it, as
it quotes the request line and the user agent, and gunicorn escapes a quote
inside as `\\"`, so that it cannot forge the fields after it either.
"""

from typing import Any

from gunicorn import glogging

from common.correlation import RESPONSE_HEADER, request_id_bound
from omadata.log import RequestIdFilter, UTCFormatter


class GunicornLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(UTCFormatter())
                handler.addFilter(RequestIdFilter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """The access line under the id that the operator gave the answer (X-Request-ID)."""
        with request_id_bound(_header(resp.headers, RESPONSE_HEADER)):
            super().access(resp, req, environ, request_time)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)
