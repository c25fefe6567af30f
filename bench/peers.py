"""A loopback source and sink for the relay benchmark, in a process of their own.

`python -m bench.peers` prints its port and serves until its standard input
closes. GET /source/<size> answers a fixed body of that many bytes (sizes in
SIZES); POST /sink reads the body and answers 200. Both want a bearer token and
check nothing else: the benchmark measures the relay, not the peers. HTTP/1.1
with keep-alive, so that the floor's persistent connections stay open.

Out of the benchmark's own process, the peers' threads do not share its GIL
with the loop that measures the floor, nor with the relay's request loop.
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIZES = (1024, 1024 * 1024)
_BODIES = {f"/source/{size}": b"x" * size for size in SIZES}
_CHUNK = 256 * 1024


class _Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and
    # the client's delayed ACK would add 40 ms to each answer.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = _BODIES.get(self.path)
        if not self._bearer() or body is None:
            return self._answer(404 if body is None else 401)
        self._answer(200, body)

    def do_POST(self) -> None:
        left = int(self.headers.get("Content-Length") or 0)
        while left:  # read and drop: a sink that keeps nothing
            left -= len(self.rfile.read(min(_CHUNK, left)))
        if self.path != "/sink":
            return self._answer(404)
        self._answer(200 if self._bearer() else 401, b"ok")

    def _bearer(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the benchmark closes it, or dies: either way, stop
    server.shutdown()


if __name__ == "__main__":
    main()
