"""The demo services, as outside services: `python -m demo.server`.

One WSGI app serves, on 127.0.0.1, the sources: the Askel smartwatch
(/wearable/), Espoo's sports services (/sports/) and Helsinki's resident
records (/helsinki/); and the sinks: the Espoo wellbeing service (/wellbeing/)
and Espoo's newcomer service (/newcomer/). They speak to the operator only over
HTTP, with the credentials demo_seed wrote to var/demo.json, and verify what it
signs with its published JWKS.
"""

import contextlib
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from demo import helsinki, newcomer, pages, sinks, sources, sports, wearable, wellbeing
from demo.config import Config, port_from_env
from demo.operator_api import ApiError, OperatorApi
from demo.store import Store
from demo.web import BodyTooLarge, Request, Response, error, redirect

logger = logging.getLogger("demo")
access_logger = logging.getLogger("demo.access")
# A page or an endpoint: called with the demo, the request and the page's language.
Handler = Callable[["Demo", Request, str], Response]
ROUTES: dict[tuple[str, str], Handler] = {
    **sources.routes(wearable.SOURCE),
    **sources.routes(sports.SOURCE),
    **sources.routes(helsinki.SOURCE),
    ("GET", "/wellbeing/"): wellbeing.home,
    **sinks.routes(wellbeing.SINK),
    ("GET", "/newcomer/"): newcomer.home,
    **sinks.routes(newcomer.SINK),
}
_PATHS = {path for _method, path in ROUTES}
# A service's address without its trailing slash goes to its page.
_HOMES = {
    path.rstrip("/"): path
    for method, path in ROUTES
    if method == "GET" and path.count("/") == 2 and path.endswith("/")
}


@dataclass
class Demo:
    """What every handler needs: configuration, the operator's API, and the state."""

    config: Config
    api: OperatorApi
    store: Store
    # Signs the form tokens of this process's pages: a restart voids open forms, no more.
    form_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def make_app(config: Config) -> WSGIApplication:
    demo = Demo(config=config, api=OperatorApi(config), store=Store(config.state_path))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        response = _respond(demo, environ)
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers.items(),
        ]
        start_response(f"{response.status} {_REASONS.get(response.status, '')}".strip(), headers)
        return [response.body]

    return app


def _respond(demo: Demo, environ: WSGIEnvironment) -> Response:
    try:
        request = Request.from_environ(environ)
    except BodyTooLarge:
        return error(413, "request_too_large", "The body is too large for the demo.")
    if request.path == "/":
        return redirect("/wellbeing/")  # someone new to the demo starts at the sink
    if request.path in _HOMES:
        return redirect(_HOMES[request.path])
    handler = ROUTES.get((request.method, request.path))
    if handler is None:
        status = 405 if request.path in _PATHS else 404
        return error(
            status, "not_found" if status == 404 else "method_not_allowed", "No such page."
        )
    lang = pages.language(request.query, request.headers.get("accept-language", ""))
    try:
        return handler(demo, request, lang)
    except ApiError as problem:
        # Mostly: the operator is still starting, or demo_seed has not run.
        logger.warning("operator unavailable: %s", problem)
        return error(503, "operator_unavailable", "The operator cannot be reached yet.")


_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
            502: "Bad Gateway", 503: "Service Unavailable"}  # fmt: skip


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request: the operator may call back mid-request."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoggingHandler(WSGIRequestHandler):
    """Each request as a log line, instead of wsgiref's own line in local time."""

    def log_message(self, format: str, *args: Any) -> None:
        access_logger.info("%s " + format, self.address_string(), *args)


class LogFormatter(logging.Formatter):
    """The operator's log line (omadata/log.py): a UTC ISO 8601 timestamp with a Z, a dash
    where the operator names a request id, control characters escaped (a client chooses
    the request line of the access log), and a traceback's lines indented.

    A copy, because the demo services import nothing of the operator.
    """

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"
    # omadata/log.py's _CONTROLS: C0, DEL and C1, line separators, bidirectional controls.
    controls = [
        *range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029,
        0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
    ]  # fmt: skip
    escapes = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in controls}

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s - %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record).translate(self.escapes)
        if record.exc_info:
            for line in self.formatException(record.exc_info).split("\n"):
                text += "\n    " + line.translate(self.escapes)
        return text


def serve(config: Config, *, port: int, quiet: bool = False) -> ThreadingWSGIServer:
    """A server bound to 127.0.0.1:`port` (0 picks one); call serve_forever() on it."""
    handler = QuietHandler if quiet else LoggingHandler
    return make_server("127.0.0.1", port, make_app(config), ThreadingWSGIServer, handler)


def main() -> None:
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(LogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[console])
    config = Config.from_env()
    server = serve(config, port=port_from_env())
    homes = " ".join(f"{config.demo_url}{path}" for path in _HOMES.values())
    logger.info("demo services at %s", homes)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is a normal end
        server.serve_forever()


if __name__ == "__main__":
    main()
