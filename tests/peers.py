"""Services as residents' browsers meet them: a source's link page, a sink's return page.

Real HTTP servers on 127.0.0.1 that speak to the operator only over HTTP, as an
outside service would: they verify the operator's tokens with its published
JWKS (with PyJWT, independent of the operator's own JOSE code) and confirm
links through the API with their own OAuth2 client credentials.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import requests


class BrowserFacingService:
    """`/link` confirms an account link and sends the browser back; `/back` records returns."""

    def __init__(self, *, operator_url: str) -> None:
        self.operator_url = operator_url
        self.service_id: str | None = None
        self.client: tuple[str, str] | None = None
        self.links: list[dict] = []  # claims of each confirmed link token
        self.returns: list[dict] = []  # query of each return to /back
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.service = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> "BrowserFacingService":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def act_as(self, *, service_id: str, client_id: str, client_secret: str) -> None:
        self.service_id, self.client = service_id, (client_id, client_secret)

    def _token(self) -> str:
        response = requests.post(
            f"{self.operator_url}/o/token/",
            data={"grant_type": "client_credentials", "scope": "links:write"},
            auth=self.client, timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        return response.json()["access_token"]

    def confirm_link(self, link_token: str) -> str:
        """Verify the token as a service must, confirm it, and return where to send the browser."""
        jwks = requests.get(f"{self.operator_url}/.well-known/jwks.json", timeout=10).json()
        header = jwt.get_unverified_header(link_token)
        if header.get("typ") != "link+jwt":
            raise ValueError("not a link token")
        key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
        claims = jwt.decode(link_token, key=key, algorithms=["ES256"], audience=self.service_id)
        response = requests.post(
            f"{self.operator_url}/api/v1/links",
            json={"service": self.service_id, "token": link_token, "reference": "local-user-1"},
            headers={"Authorization": f"Bearer {self._token()}"}, timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        self.links.append(claims)
        return claims["return_to"]


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        service: BrowserFacingService = self.server.service  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/link":
            try:
                self._send(302, location=service.confirm_link(query["link_token"]))
            except Exception as error:  # a test reads `errors`; the browser sees a 400
                service.errors.append(repr(error))
                self._send(400)
        elif url.path == "/back":
            service.returns.append(query)
            self._send(
                200, body=b"<!doctype html><title>Back at the service</title><h1>Thanks</h1>"
            )
        else:
            self._send(404)

    def _send(self, status: int, *, location: str | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
