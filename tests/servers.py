"""Real servers that tests start on loopback, and stop, without touching shared ones."""

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float = 10.0, interval: float = 0.05):
    """Poll until `predicate()` is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {predicate}")
        time.sleep(interval)


class RedisServer:
    """A private redis-server on a free port: tests may stop it; 6379 is never touched."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers)
        return self

    def _answers(self) -> bool:
        import redis

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {self.process.returncode}")
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def redis_server():
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def manage(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `manage.py` in a fresh interpreter with the given environment additions."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=full_env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


# -- webhook receivers -----------------------------------------------------------


@dataclass
class Answer:
    """What a receiver does with one request. The default is a plain 200."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # wait this long before answering at all
    drip: float = 0.0  # wait this long before each byte of the body
    drip_head: bool = False  # drip the status line and headers as well
    flood: int = 0  # send this many bytes instead of the body, with no Content-Length
    hang_up: bool = False  # close the connection after answering, without saying so


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status=status, body=b"", headers={"Location": location})


@dataclass
class Received:
    """One request a receiver got, and what became of its answer."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    verified: bool = False  # the body is a JWS that verifies with the trusted JWKS
    claims: dict | None = None
    sent: int = 0  # body bytes the receiver managed to send back
    done: threading.Event = field(default_factory=threading.Event)


class WebhookReceiver:
    """A service's webhook endpoint on 127.0.0.1, run in threads of the test process.

    It records every request and answers from `answers` in order (a plain 200
    when they run out). Given the operator's JWKS with `trust`, it verifies each
    body as a service would, with PyJWT: a library independent of the operator's.
    It closes each connection after one answer, or with `keep_alive` keeps it open
    for the next request (HTTP/1.1); `connections` counts the connections it took.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self.connections = 0
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        self.sni_names: list[str | None] = []
        self._jwks: dict | None = None
        self._audience: str | None = None
        self._lock = threading.Lock()
        handler = _KeepAliveHandler if keep_alive else _ReceiverHandler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.receiver = self  # type: ignore[attr-defined]
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.sni_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def trust(self, *, jwks: dict, audience: str) -> None:
        """Verify bodies with these keys, as the service whose id is `audience`."""
        self._jwks, self._audience = jwks, audience

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if self.answers else Answer()

    def _verify(self, received: Received) -> None:
        if self._jwks is None:
            return
        try:
            token = received.body.decode()
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "notification+jwt":
                return
            key = jwt.PyJWKSet.from_dict(self._jwks)[header["kid"]]
            received.claims = jwt.decode(
                token, key=key, algorithms=["ES256"], audience=self._audience
            )
        except (jwt.PyJWTError, KeyError, UnicodeDecodeError):
            return
        received.verified = True


class TransferPeer(WebhookReceiver):
    """A source's fetch endpoint or a sink's delivery endpoint on 127.0.0.1.

    It verifies each request's bearer token as a service must, with PyJWT and the
    operator's JWKS: the typ, the signature, `aud` its own service id and `sub`
    the resident's pairwise id at this service. `Received.claims` holds the
    verified claims; `applied` the Idempotency-Keys a sink has applied, once each.
    """

    def __init__(self, *, keep_alive: bool = False) -> None:
        super().__init__(keep_alive=keep_alive)
        self.url = f"http://127.0.0.1:{self.port}/data"
        self.subject: str | None = None
        self.applied: list[str] = []

    def trust_bearer(self, *, jwks: dict, audience: str, subject: str) -> None:
        self.trust(jwks=jwks, audience=audience)
        self.subject = subject

    def _verify(self, received: Received) -> None:
        if self._jwks is None:
            return
        scheme, _space, token = received.headers.get("authorization", "").partition(" ")
        try:
            header = jwt.get_unverified_header(token)
            if scheme != "Bearer" or header.get("typ") != "transfer+jwt":
                return
            key = jwt.PyJWKSet.from_dict(self._jwks)[header["kid"]]
            claims = jwt.decode(token, key=key, algorithms=["ES256"], audience=self._audience)
        except (jwt.PyJWTError, KeyError):
            return
        if claims.get("sub") != self.subject:
            return
        received.claims, received.verified = claims, True
        key = received.headers.get("idempotency-key")
        if received.method == "POST" and key and key not in self.applied:
            self.applied.append(key)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def setup(self) -> None:
        super().setup()
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        with receiver._lock:
            receiver.connections += 1

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args) -> None:
        pass  # the tests read `requests`, not a log

    def _handle(self) -> None:
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length),
        )
        receiver._verify(received)
        receiver.requests.append(received)
        answer = receiver._next_answer()
        # Closed after one answer unless the receiver keeps connections and the answer does.
        self.close_connection = answer.hang_up or not receiver.keep_alive
        try:
            self._answer(answer, received, keep_alive=receiver.keep_alive)
        except OSError:
            self.close_connection = True  # the client went away, as clients cut off at a limit do
        finally:
            received.done.set()

    def _answer(self, answer: Answer, received: Received, *, keep_alive: bool) -> None:
        time.sleep(answer.stall)
        lines = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in answer.headers.items()]
        if not answer.flood:
            lines.append(f"Content-Length: {len(answer.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        lines += ["", ""]
        self._write("\r\n".join(lines).encode(), drip=answer.drip if answer.drip_head else 0)
        if answer.flood:
            chunk = b"x" * 65536
            while received.sent < answer.flood:
                self.wfile.write(chunk)
                received.sent += len(chunk)
        else:
            self._write(answer.body, drip=answer.drip, received=received)

    def _write(self, data: bytes, *, drip: float, received: Received | None = None) -> None:
        pieces = [data[i : i + 1] for i in range(len(data))] if drip else [data]
        for piece in pieces:
            time.sleep(drip)
            self.wfile.write(piece)
            if received is not None:
                received.sent += len(piece)


class _KeepAliveHandler(_ReceiverHandler):
    protocol_version = "HTTP/1.1"  # a connection stays open after an answer


class AcceptCounter:
    """A listening socket on 127.0.0.1 that counts the connections made to it."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "AcceptCounter":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while self._running:
            try:
                conn, _address = self._sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()


def tls_certificate(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A certificate authority and a server certificate for `hostname` that it signed.

    Return the paths of the CA's certificate, the server's certificate and its key (PEM).
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Omadata test CA")])
    now = datetime.now(UTC)

    def builder(subject: x509.Name, key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )

    ca_cert = (
        builder(ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]), server_key)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
