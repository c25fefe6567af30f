"""The one HTTP client the operator talks to services with: webhooks, sources, sinks.

Every request keeps the network rules of `common.netguard`, checked at call time:

- The URL is checked and its host resolved once. The connection goes to an
  address that passed the check, never to the answer of a second lookup, which
  could name the operator's own network (DNS rebinding). The Host header, and
  for https the SNI name and the certificate check, still use the hostname.
- Redirects are not followed: a 3xx fails with `redirect_refused`.
- One deadline (`OMADATA_OUTBOUND_TIMEOUT`) covers the whole request: connect,
  send, and the response to its last byte, however slowly it trickles in.
- The response body is read up to `OMADATA_OUTBOUND_MAX_BYTES` and no further.

A failure raises `OutboundError` with a stable code. Its message is ours, never
the peer's text, so it may be stored, shown, or passed on to another service.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import SplitResult, urlsplit

import urllib3.exceptions
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection

from common import netguard

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    body: bytes
    elapsed: float  # seconds, from the call to the last byte


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class OutboundError(Exception):
    """Why a request failed. `status` is the peer's HTTP status when it sent one.

    Codes: `forbidden_address`, `forbidden_port`, `unresolvable_host`,
    `https_required`, `invalid_url`, `credentials_in_url` (the URL check); `timeout`,
    `connection_failed`, `redirect_refused`, `response_too_large`; `invalid_request` (a
    request line, header or host name that cannot be encoded, never sent).
    """

    code: str
    message: str
    status: int | None = None

    def __str__(self) -> str:
        return self.message


def request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    max_bytes: int | None = None,
) -> OutboundResponse:
    """Send one request to a service's URL and read the whole response.

    Any status other than a 3xx is returned: judging it is the caller's job.
    Raise OutboundError for an unsafe URL, a redirect, a response over the size
    cap (`max_bytes`, by default OMADATA_OUTBOUND_MAX_BYTES), the deadline
    passing, or a connection that fails.
    """
    started = time.monotonic()
    deadline = started + settings.OMADATA_OUTBOUND_TIMEOUT
    try:
        addresses = netguard.check_service_url(
            url,
            allow_loopback=settings.OMADATA_ALLOW_LOOPBACK_URLS,
            allowed_ports=settings.OMADATA_ALLOWED_PORTS,
        )
    except netguard.UnsafeURL as error:
        raise OutboundError(error.code, error.message) from None
    parts = urlsplit(url)
    with _Watchdog(deadline) as watchdog:
        connection = _connect(
            parts=parts, addresses=addresses, deadline=deadline, watchdog=watchdog
        )
        response: urllib3.BaseHTTPResponse | None = None
        try:
            _send(connection, method=method, parts=parts, headers=headers or {}, body=body)
            connection.timeout = _remaining(deadline)  # getresponse() gives it to the socket
            response = connection.getresponse()
            if 300 <= response.status < 400:
                raise OutboundError(
                    "redirect_refused",
                    f"The service answered with a redirect ({response.status}); "
                    "the operator does not follow redirects.",
                    response.status,
                )
            content = _read_body(
                response=response,
                deadline=deadline,
                limit=max_bytes or settings.OMADATA_OUTBOUND_MAX_BYTES,
            )
        except (OSError, HTTPException, urllib3.exceptions.HTTPError) as error:
            raise _failure(error, deadline=deadline) from None
        finally:
            # The response holds the socket once the connection has handed it over:
            # closing both is what lets go of a peer that is still sending.
            if response is not None:
                response.close()
            connection.close()
    return OutboundResponse(
        status=response.status,
        headers={name.lower(): response.headers[name] for name in response.headers},
        body=content,
        elapsed=time.monotonic() - started,
    )


def _send(
    connection: HTTPConnection,
    *,
    method: str,
    parts: SplitResult,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Send the request line, headers and body; OutboundError if they cannot be encoded.

    http.client encodes the request line as ASCII and header values as Latin-1,
    and refuses a line break in either with a ValueError: a URL stored before
    URLs were normalised, or a header made from such a value, must fail this
    one request, not the task that sends it.
    """
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            method, target, body=body or None, preload_content=False,
            headers={"User-Agent": "Omadata", **headers, "Host": parts.netloc},
        )  # fmt: skip
    except OSError:
        raise  # a network failure, judged by the caller (an SSLError may be a ValueError too)
    except ValueError:  # UnicodeEncodeError is one
        raise _unsendable() from None


def _unsendable() -> OutboundError:
    return OutboundError(
        "invalid_request", "The request to the service could not be encoded for sending."
    )


class _Watchdog:
    """Cuts the connection in hand when the deadline comes.

    Socket timeouts bound each read and the body loop checks the deadline, but a
    peer can drip a TLS handshake, a header or a chunk-size line one byte at a
    time, and the libraries keep reading it. Shutting the socket down makes the
    blocked read return; the caller then finds the deadline passed.
    """

    def __init__(self, deadline: float) -> None:
        self._connection: HTTPConnection | None = None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        self._timer.daemon = True

    def __enter__(self) -> "_Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, connection: HTTPConnection) -> None:
        self._connection = connection

    def _cut(self) -> None:
        sock = self._connection.sock if self._connection is not None else None
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already closed: the request ended just in time
            sock.shutdown(socket.SHUT_RDWR)


def _connect(
    *,
    parts: SplitResult,
    addresses: list[netguard.IPAddress],
    deadline: float,
    watchdog: _Watchdog,
) -> HTTPConnection:
    """A connection to the first of the checked `addresses` that accepts one."""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    failure: OutboundError | None = None
    for address in addresses:
        if https:
            # Connect to the address, but send SNI and check the certificate for the name.
            connection: HTTPConnection = HTTPSConnection(
                str(address), port, timeout=_remaining(deadline), server_hostname=parts.hostname
            )
        else:
            connection = HTTPConnection(str(address), port, timeout=_remaining(deadline))
        watchdog.watch(connection)
        try:
            connection.connect()
        except (OSError, urllib3.exceptions.HTTPError) as error:
            # A certificate for another name lands here: ssl's CertificateError is an
            # OSError (and a ValueError, which is why this clause comes first).
            connection.close()
            failure = _failure(error, deadline=deadline)
            if failure.code == "timeout":
                break
            continue
        except UnicodeError:  # a host name that cannot be encoded for SNI
            connection.close()
            raise _unsendable() from None
        return connection
    assert failure is not None  # the URL check never returns an empty list
    raise failure


def _read_body(*, response: urllib3.BaseHTTPResponse, deadline: float, limit: int) -> bytes:
    """The body, read chunk by chunk against the deadline and the size cap `limit`."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response.status, limit)
    chunks: list[bytes] = []
    received = 0
    while True:
        # read1 returns what one read of the socket gave: a slow peer cannot hold
        # the loop inside a read that waits to fill a large buffer.
        chunk = response.read1(min(_CHUNK, limit + 1 - received), decode_content=False)
        # Checked after the read: an end of the body seen after the deadline may be
        # the watchdog's cut, not the peer's, and the body then is not whole.
        _remaining(deadline)
        if not chunk:
            return b"".join(chunks)
        received += len(chunk)
        if received > limit:
            raise _too_large(response.status, limit)
        chunks.append(chunk)


def _too_large(status: int, limit: int) -> OutboundError:
    return OutboundError(
        "response_too_large", f"The service's answer is larger than {limit} bytes.", status
    )


def _remaining(deadline: float) -> float:
    """Seconds left before the deadline; OutboundError("timeout") when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _timeout()
    return left


def _timeout() -> OutboundError:
    return OutboundError(
        "timeout",
        f"The service did not answer within {settings.OMADATA_OUTBOUND_TIMEOUT:g} seconds.",
    )


def _failure(error: Exception, *, deadline: float) -> OutboundError:
    """Our own error for a failure of the network or of the peer's HTTP."""
    refused = isinstance(error, urllib3.exceptions.NewConnectionError)
    timed_out = isinstance(error, TimeoutError | urllib3.exceptions.TimeoutError)
    if time.monotonic() >= deadline or (timed_out and not refused):
        return _timeout()
    return OutboundError("connection_failed", "The connection to the service failed.")
