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

Connections are kept alive and reused, under the same rules. An idle connection
is kept under the key (scheme, host name, port, checked address) it was opened
for, and a request takes one only after its own URL check has passed and named
that address among the ones it resolved: a name that now resolves elsewhere, or
a URL the guard now refuses, never gets an old connection. An https connection
had its certificate checked for that host name when it was opened. The pool is
bounded (per key and in all), drops connections idle too long or closed by the
peer, and keeps only a connection whose final (not 1xx) answer was read to its end
without any error; anything else is closed. A reused connection that the peer turns out to
have closed meanwhile (no byte of an answer came back) is replaced by a new one,
once, within the same deadline: sinks apply a delivery once per Idempotency-Key
and notifications carry their id, so a repeat is harmless.

A failure raises `OutboundError` with a stable code. Its message is ours, never
the peer's text, so it may be stored, shown, or passed on to another service.
"""

import contextlib
import functools
import heapq
import itertools
import os
import socket
import ssl
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
# Idle keep-alive connections kept per (scheme, host, port, address), and in all.
_IDLE_PER_PEER = 4
_IDLE_TOTAL = 64
# An idle connection older than this is closed rather than reused (servers drop
# idle connections after seconds to minutes; a write into one they dropped is lost).
_IDLE_SECONDS = 30.0
# What a reused connection raises when the peer closed it while it was idle.
_STALE = (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)

_Key = tuple[str, str, int, str]  # scheme, host name, port, checked address


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
    send = functools.partial(
        _exchange, method=method, parts=parts, headers=headers or {}, body=body, deadline=deadline
    )
    with _watchdog.watch(deadline) as watch:
        connection, key, reused = _connection(
            parts=parts, addresses=addresses, deadline=deadline, watch=watch
        )
        response: urllib3.BaseHTTPResponse | None = None
        keep = False
        try:
            try:
                response = send(connection)
            except _STALE:
                if not reused:
                    raise
                # Closed by the peer while idle, before any answer: once more, on a new one.
                connection.close()
                connection, key = _connect(
                    parts=parts, addresses=addresses, deadline=deadline, watch=watch
                )
                response = send(connection)
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
            # The answer read to its end, and the peer not closing: the connection is
            # ready for the next request. Not after an informational (1xx) answer, which
            # http.client returns as if final: the final answer to this request may still
            # come on the connection, and would be read as the next request's.
            keep = response.closed and connection.sock is not None and response.status >= 200
        except (OSError, HTTPException, urllib3.exceptions.HTTPError) as error:
            raise _failure(error, deadline=deadline) from None
        finally:
            # Not cut by the watchdog meanwhile: a cut connection is never reused.
            keep = watch.end() and keep
            if keep:
                _pool.put(key, connection)
            else:
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


def _exchange(
    connection: HTTPConnection,
    *,
    method: str,
    parts: SplitResult,
    headers: Mapping[str, str],
    body: bytes,
    deadline: float,
) -> urllib3.BaseHTTPResponse:
    """Send the request on `connection` and read the answer's status line and headers."""
    connection.timeout = _remaining(deadline)
    if connection.sock is not None:  # a reused connection: its socket keeps the old timeout
        connection.sock.settimeout(connection.timeout)
    _send(connection, method=method, parts=parts, headers=headers, body=body)
    connection.timeout = _remaining(deadline)  # getresponse() gives it to the socket
    return connection.getresponse()


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


class _Watch:
    """One request's entry with the watchdog: the connection to cut when its deadline comes."""

    def __init__(self, watchdog: "_Watchdog", deadline: float) -> None:
        self.deadline = deadline
        self._watchdog = watchdog
        self._connection: HTTPConnection | None = None
        self._active = True
        self._cut = False

    def __enter__(self) -> "_Watch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end()

    def watch(self, connection: HTTPConnection) -> None:
        with self._watchdog.lock:
            self._connection = connection

    def end(self) -> bool:
        """Stop watching; whether the connection was left whole (not cut at the deadline)."""
        with self._watchdog.lock:
            self._active, self._connection = False, None
            return not self._cut

    def cut(self) -> None:
        """Called by the watchdog, holding its lock, once the deadline has come."""
        sock = self._connection.sock if self._active and self._connection is not None else None
        if sock is None:
            return
        self._cut = True
        with contextlib.suppress(OSError):  # already closed: the request ended just in time
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """Cuts the connection in hand when its request's deadline comes: one thread for all.

    Socket timeouts bound each read and the body loop checks the deadline, but a
    peer can drip a TLS handshake, a header or a chunk-size line one byte at a
    time, and the libraries keep reading it. Shutting the socket down makes the
    blocked read return; the caller then finds the deadline passed.
    """

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self._due: list[tuple[float, int, _Watch]] = []  # a heap, by deadline
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float) -> _Watch:
        entry = _Watch(self, deadline)
        with self.lock:
            heapq.heappush(self._due, (deadline, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="outbound-watchdog", daemon=True
                )
                self._thread.start()
            if self._due[0][2] is entry:
                # Woken only when it must wake sooner: with one timeout for all requests,
                # a new deadline is almost never the first, and a wake-up costs a thread switch.
                self.lock.notify()
        return entry

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2].cut()
                # An entry that ended early stays until its deadline, holding no connection.
                self.lock.wait(self._due[0][0] - now if self._due else None)


class _Pool:
    """Idle keep-alive connections, by (scheme, host name, port, checked address)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[tuple[float, HTTPConnection]]] = {}

    def take(self, key: _Key) -> HTTPConnection | None:
        """An idle connection for `key` that the peer has not closed, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                since, connection = idle.pop()  # the most recently used
                if not idle:
                    del self._idle[key]
            if time.monotonic() - since < _IDLE_SECONDS and connection.is_connected:
                return connection
            connection.close()  # too old, or closed (or written to) by the peer meanwhile

    def put(self, key: _Key, connection: HTTPConnection) -> None:
        dropped = []
        with self._lock:
            idle = self._idle.setdefault(key, [])
            idle.append((time.monotonic(), connection))
            if len(idle) > _IDLE_PER_PEER:
                dropped.append(idle.pop(0)[1])
            while sum(map(len, self._idle.values())) > _IDLE_TOTAL:
                oldest = min(self._idle, key=lambda k: self._idle[k][0][0])
                dropped.append(self._idle[oldest].pop(0)[1])
                if not self._idle[oldest]:
                    del self._idle[oldest]
        for connection in dropped:
            connection.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for _since, connection in connections:
                connection.close()


_watchdog = _Watchdog()
_pool = _Pool()


def pool_clear() -> None:
    """Close every idle connection (tests; a process that wants to let go of its peers)."""
    _pool.clear()


def _after_fork() -> None:
    # A forked child (a prefork worker) has no watchdog thread, maybe a lock held by a
    # thread that did not come along, and sockets it shares with its parent: it starts
    # afresh, and leaves the inherited sockets to the parent.
    global _watchdog, _pool
    _watchdog, _pool = _Watchdog(), _Pool()


os.register_at_fork(after_in_child=_after_fork)


def _connection(
    *, parts: SplitResult, addresses: list[netguard.IPAddress], deadline: float, watch: _Watch
) -> tuple[HTTPConnection, _Key, bool]:
    """An idle connection to one of the checked `addresses`, or a new one; and whether reused."""
    for address in addresses:
        key = _key(parts, address)
        connection = _pool.take(key)
        if connection is not None:
            watch.watch(connection)
            return connection, key, True
    connection, key = _connect(parts=parts, addresses=addresses, deadline=deadline, watch=watch)
    return connection, key, False


def _key(parts: SplitResult, address: netguard.IPAddress) -> _Key:
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    return (parts.scheme, parts.hostname or "", port, str(address))


def _connect(
    *,
    parts: SplitResult,
    addresses: list[netguard.IPAddress],
    deadline: float,
    watch: _Watch,
) -> tuple[HTTPConnection, _Key]:
    """A new connection to the first of the checked `addresses` that accepts one."""
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
        watch.watch(connection)
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
        return connection, _key(parts, address)
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
