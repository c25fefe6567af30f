"""The outbound HTTP client against real servers on 127.0.0.1."""

import socket
import ssl
import threading
import time

import pytest

from common import netguard, outbound
from tests.servers import Answer, WebhookReceiver, redirect, tls_certificate


def post(url: str) -> outbound.OutboundResponse:
    return outbound.request(method="POST", url=url, body=b"{}")


def failure_of(url: str) -> outbound.OutboundError:
    with pytest.raises(outbound.OutboundError) as caught:
        post(url)
    return caught.value


@pytest.mark.usefixtures("loopback_allowed")
def test_answer_comes_back_with_status_headers_and_body(receiver):
    receiver.answers = [Answer(status=202, body=b"thanks", headers={"X-Seen": "yes"})]

    response = post(receiver.url + "?page=1")

    assert (response.status, response.body, response.headers["x-seen"]) == (202, b"thanks", "yes")
    assert receiver.requests[0].path == "/hooks?page=1"
    assert receiver.requests[0].body == b"{}"


@pytest.mark.usefixtures("loopback_allowed")
def test_redirect_is_refused_and_never_followed(receiver, accept_counter):
    receiver.answers = [redirect(f"http://127.0.0.1:{accept_counter.port}/elsewhere")]

    error = failure_of(receiver.url)

    assert (error.code, error.status) == ("redirect_refused", 302)
    assert accept_counter.accepted == 0


@pytest.mark.usefixtures("loopback_allowed")
def test_dripping_body_is_cut_at_the_total_deadline(receiver, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 1.0
    receiver.answers = [Answer(body=b"x" * 50, drip=0.2)]  # ten seconds, each read fast
    started = time.monotonic()

    error = failure_of(receiver.url)

    assert error.code == "timeout"
    assert 1.0 <= time.monotonic() - started < 1.6


@pytest.mark.usefixtures("loopback_allowed")
def test_dripping_headers_are_cut_at_the_total_deadline(receiver, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 1.0
    receiver.answers = [Answer(headers={"X-Padding": "p" * 40}, drip=0.2, drip_head=True)]
    started = time.monotonic()

    error = failure_of(receiver.url)

    assert error.code == "timeout"
    assert 1.0 <= time.monotonic() - started < 1.6


@pytest.mark.usefixtures("loopback_allowed")
def test_service_that_never_answers_times_out(receiver, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 0.5
    receiver.answers = [Answer(stall=3)]

    assert failure_of(receiver.url).code == "timeout"


@pytest.mark.usefixtures("loopback_allowed")
def test_response_over_the_cap_is_cut_and_the_rest_is_never_read(receiver, settings):
    settings.OMADATA_OUTBOUND_MAX_BYTES = 64 * 1024
    receiver.answers = [Answer(flood=256 * 1024 * 1024)]  # no Content-Length to refuse early

    error = failure_of(receiver.url)

    assert (error.code, error.status) == ("response_too_large", 200)
    answered = receiver.requests[0]
    assert answered.done.wait(timeout=5), "the client still holds the connection open"
    # What the receiver sent before the connection closed: the cap, plus what
    # the two kernels' socket buffers held. Reading it all would be 256 MiB.
    assert answered.sent < 32 * 1024 * 1024


@pytest.mark.usefixtures("loopback_allowed")
def test_declared_length_over_the_cap_is_refused_before_reading(receiver, settings):
    settings.OMADATA_OUTBOUND_MAX_BYTES = 1000
    receiver.answers = [Answer(body=b"x" * 1001)]

    assert failure_of(receiver.url).code == "response_too_large"


def test_loopback_url_is_refused_without_connecting_when_loopback_is_not_allowed(accept_counter):
    error = failure_of(f"http://127.0.0.1:{accept_counter.port}/hooks")

    assert error.code == "forbidden_address"
    assert accept_counter.accepted == 0


def test_name_resolving_to_a_forbidden_address_is_refused_without_connecting(accept_counter):
    # loopback.example.fi resolves to 127.0.0.1 (tests/conftest.py), refused here.
    error = failure_of(f"http://loopback.example.fi:{accept_counter.port}/hooks")

    assert error.code == "forbidden_address"
    assert accept_counter.accepted == 0


def test_private_address_behind_a_public_name_is_refused():
    assert failure_of("https://internal.example.fi/hooks").code == "forbidden_address"


@pytest.mark.parametrize("port", [22, 25, 5432, 6379])
def test_public_host_on_another_port_is_refused_at_call_time(settings, port):
    # However the URL came to be stored, the rule holds when the request is made.
    settings.OMADATA_OUTBOUND_TIMEOUT = 0.5

    assert failure_of(f"https://hooks.example.fi:{port}/hooks").code == "forbidden_port"


def test_http_to_a_public_address_is_refused():
    assert failure_of("http://hooks.example.fi/hooks").code == "https_required"


def test_name_that_does_not_resolve_is_refused():
    assert failure_of("https://nowhere.example.fi/hooks").code == "unresolvable_host"


@pytest.mark.usefixtures("loopback_allowed")
def test_refused_connection_is_a_connection_failure(accept_counter):
    accept_counter.stop()  # nothing listens on the port any more

    assert failure_of(f"http://127.0.0.1:{accept_counter.port}/").code == "connection_failed"


@pytest.mark.usefixtures("loopback_allowed")
def test_connection_goes_to_the_checked_address_and_names_the_host(receiver, fake_dns, monkeypatch):
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.1"])
    lookups = []
    resolve = netguard.resolve_host
    monkeypatch.setattr(
        netguard, "resolve_host", lambda host, port: lookups.append(host) or resolve(host, port)
    )

    # The name exists only in the fake DNS: a second lookup by the HTTP library would fail.
    post(f"http://hooks.test.example:{receiver.port}/hooks")

    assert receiver.requests[0].headers["host"] == f"hooks.test.example:{receiver.port}"
    assert lookups == ["hooks.test.example"]


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch, fake_dns):
    """An https receiver with a certificate for hooks.test.example, which resolves to it."""
    ca, cert, key = tls_certificate(tmp_path, "hooks.test.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the client trusts the test CA only
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.1"])
    monkeypatch.setitem(fake_dns, "other.test.example", ["127.0.0.1"])
    server = WebhookReceiver(tls=context).start()
    yield server
    server.stop()


@pytest.mark.usefixtures("loopback_allowed")
def test_https_to_the_checked_address_sends_sni_and_checks_the_hostname(tls_receiver):
    response = post(f"https://hooks.test.example:{tls_receiver.port}/hooks")

    assert response.status == 200
    assert tls_receiver.sni_names == ["hooks.test.example"]


@pytest.mark.usefixtures("loopback_allowed")
def test_https_refuses_a_certificate_for_another_name(tls_receiver):
    error = failure_of(f"https://other.test.example:{tls_receiver.port}/hooks")

    assert error.code == "connection_failed"
    assert tls_receiver.requests == []


# -- what cannot be encoded ------------------------------------------------------


@pytest.mark.usefixtures("loopback_allowed")
@pytest.mark.parametrize("path", ["/dätä", "/€", "/d\x7fata", "/d\x85ata", "/d\tata"])
def test_stored_url_not_in_ascii_form_is_refused_without_connecting(accept_counter, path):
    # Stored before URLs were normalised: the request fails, the caller's task does not.
    error = failure_of(f"http://127.0.0.1:{accept_counter.port}{path}")

    assert error.code == "invalid_url"
    assert accept_counter.accepted == 0


@pytest.mark.usefixtures("loopback_allowed")
@pytest.mark.parametrize("value", ["€uro", "line\r\nX-Injected: yes"])
def test_header_that_cannot_be_encoded_is_an_outbound_error_and_is_never_sent(receiver, value):
    with pytest.raises(outbound.OutboundError) as caught:
        outbound.request(method="POST", url=receiver.url, headers={"X-Label": value}, body=b"{}")

    assert caught.value.code == "invalid_request"
    assert receiver.requests == []


# -- keep-alive ------------------------------------------------------------------


@pytest.fixture
def keep_alive_receiver():
    """A receiver that keeps each connection open for the next request, as most servers do."""
    outbound.pool_clear()
    server = WebhookReceiver(keep_alive=True).start()
    yield server
    outbound.pool_clear()
    server.stop()


@pytest.mark.usefixtures("loopback_allowed")
def test_two_requests_to_one_peer_share_one_connection(keep_alive_receiver):
    receiver = keep_alive_receiver
    receiver.answers = [Answer(body=b"first"), Answer(body=b"second")]

    bodies = [post(receiver.url).body, post(receiver.url).body]

    assert bodies == [b"first", b"second"]
    assert (len(receiver.requests), receiver.connections) == (2, 1)


@pytest.mark.usefixtures("loopback_allowed")
def test_a_peer_that_closes_after_each_answer_gets_a_connection_per_request(receiver):
    post(receiver.url)
    post(receiver.url)

    assert (len(receiver.requests), receiver.connections) == (2, 2)


def test_a_kept_connection_is_not_used_once_the_guard_refuses_its_url(
    keep_alive_receiver, settings
):
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True
    post(keep_alive_receiver.url)
    settings.OMADATA_ALLOW_LOOPBACK_URLS = False

    error = failure_of(keep_alive_receiver.url)

    assert error.code == "forbidden_address"
    assert len(keep_alive_receiver.requests) == 1


@pytest.mark.usefixtures("loopback_allowed")
def test_a_kept_connection_is_not_used_once_the_name_resolves_elsewhere(
    keep_alive_receiver, fake_dns, monkeypatch
):
    url = f"http://hooks.test.example:{keep_alive_receiver.port}/hooks"
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.1"])
    post(url)
    # Now the name answers with another address, where nothing listens.
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.2"])

    error = failure_of(url)

    assert error.code == "connection_failed"
    assert (len(keep_alive_receiver.requests), keep_alive_receiver.connections) == (1, 1)


@pytest.mark.usefixtures("loopback_allowed")
def test_a_kept_connection_is_not_used_for_another_host_name(
    keep_alive_receiver, fake_dns, monkeypatch
):
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.1"])
    post(keep_alive_receiver.url)

    post(f"http://hooks.test.example:{keep_alive_receiver.port}/hooks")

    assert keep_alive_receiver.connections == 2


@pytest.mark.usefixtures("loopback_allowed")
def test_a_connection_whose_answer_failed_is_not_used_again(keep_alive_receiver, settings):
    settings.OMADATA_OUTBOUND_MAX_BYTES = 1000
    keep_alive_receiver.answers = [Answer(body=b"x" * 1001), Answer(body=b"fine")]
    assert failure_of(keep_alive_receiver.url).code == "response_too_large"

    assert post(keep_alive_receiver.url).body == b"fine"
    assert keep_alive_receiver.connections == 2


@pytest.mark.usefixtures("loopback_allowed")
def test_a_connection_the_peer_closed_while_idle_is_replaced(keep_alive_receiver):
    keep_alive_receiver.answers = [Answer(body=b"first", hang_up=True), Answer(body=b"second")]
    post(keep_alive_receiver.url)

    assert post(keep_alive_receiver.url).body == b"second"
    assert (len(keep_alive_receiver.requests), keep_alive_receiver.connections) == (2, 2)


@pytest.mark.usefixtures("loopback_allowed")
def test_a_kept_connection_is_cut_at_the_deadline_of_its_next_request(
    keep_alive_receiver, settings
):
    settings.OMADATA_OUTBOUND_TIMEOUT = 1.0
    keep_alive_receiver.answers = [Answer(), Answer(body=b"x" * 50, drip=0.2)]
    post(keep_alive_receiver.url)
    started = time.monotonic()

    error = failure_of(keep_alive_receiver.url)

    assert error.code == "timeout"
    assert 1.0 <= time.monotonic() - started < 1.6
    assert keep_alive_receiver.connections == 1


@pytest.mark.usefixtures("loopback_allowed")
def test_a_kept_https_connection_was_checked_for_its_host_name_once(
    tmp_path, monkeypatch, fake_dns
):
    ca, cert, key = tls_certificate(tmp_path, "hooks.test.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.setitem(fake_dns, "hooks.test.example", ["127.0.0.1"])
    outbound.pool_clear()
    server = WebhookReceiver(tls=context, keep_alive=True).start()
    try:
        url = f"https://hooks.test.example:{server.port}/hooks"
        statuses = [post(url).status, post(url).status]
    finally:
        outbound.pool_clear()
        server.stop()

    assert statuses == [200, 200]
    assert (server.sni_names, server.connections) == (["hooks.test.example"], 1)


class EarlyHintsServer:
    """A keep-alive server that sends 103 Early Hints at once and its final answer later.

    The final answer to a request goes out only when the next request on the same
    connection has arrived: the moment a busy server's slow answer would reach a
    client that had taken the 103 for the answer and sent another request already.
    A request on a connection of its own is answered `own answer to <path>`.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "EarlyHintsServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                sock, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(sock,), daemon=True).start()

    def _connection(self, sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        with sock, reader:
            first = self._request(reader)
            if first is None:
                return
            if first == "/hinted":
                sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
                second = self._request(reader)
                self._answer(sock, b"the answer to /hinted")
                if second is not None:
                    self._answer(sock, f"the answer to {second}".encode())
                return
            self._answer(sock, f"own answer to {first}".encode())

    @staticmethod
    def _request(reader) -> str | None:
        line = reader.readline()
        if not line:
            return None
        length = 0
        while (header := reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        reader.read(length)
        return line.split()[1].decode()

    @staticmethod
    def _answer(sock: socket.socket, body: bytes) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        sock.sendall(head + body)


@pytest.mark.usefixtures("loopback_allowed")
def test_an_informational_answer_never_leaves_its_connection_for_the_next_request(settings):
    """A 103 is not the final answer: the connection's next answer belongs to its request."""
    settings.OMADATA_OUTBOUND_TIMEOUT = 5.0
    outbound.pool_clear()
    server = EarlyHintsServer().start()
    try:
        hinted = outbound.request(method="GET", url=server.url + "/hinted")
        other = outbound.request(method="GET", url=server.url + "/other")
    finally:
        outbound.pool_clear()
        server.stop()

    assert hinted.status == 103
    assert other.body == b"own answer to /other"
