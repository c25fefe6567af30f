"""Services as residents' browsers meet them: a source's link page, a sink's return page.

Real HTTP servers on 127.0.0.1 that speak to the operator only over HTTP, as an
outside service would: they verify the operator's tokens with its published
JWKS (with PyJWT, independent of the operator's own JOSE code) and confirm
links through the API with their own OAuth2 client credentials. Their link form
is protected against cross-site requests as a real service's must be.
"""

import hashlib
import hmac
import secrets
import threading
from html import escape
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

# The source's per-browser secret: a cookie that another site's page cannot read or set.
CSRF_COOKIE = "source_csrf"
LINK_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Link your account</title></head><body><main><h1>Link your account</h1>
<p>You are signed in at the test source as {user}.</p>
<form method="post" action="/link"><input type="hidden" name="link_token" value="{token}">
<input type="hidden" name="csrf_token" value="{csrf}"><button type="submit">Link</button></form>
</main></body></html>"""


class BrowserFacingService:
    """A source's link page and a sink's return page, as a real service keeps them.

    `GET /link` verifies the link token and shows a form to confirm it, with a
    token tied to a secret cookie of the browser's own; `POST /link` checks that
    token, confirms the link at the operator and sends the browser to the
    answer's `return_url`. `/back` records returns to a sink.
    """

    def __init__(self, *, operator_url: str) -> None:
        self.operator_url = operator_url
        self.service_id: str | None = None
        self.client: tuple[str, str] | None = None
        self.user = "local-user-1"  # who is signed in at this service, in every browser
        self.links: list[dict] = []  # claims of each confirmed link token
        self.returns: list[dict] = []  # query of each return to /back
        self.errors: list[str] = []
        self.csrf_key = secrets.token_bytes(32)
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

    def verify_link_token(self, link_token: str) -> dict:
        """The token's claims, verified as a service must, or an exception."""
        jwks = requests.get(f"{self.operator_url}/.well-known/jwks.json", timeout=10).json()
        header = jwt.get_unverified_header(link_token)
        if header.get("typ") != "link+jwt":
            raise ValueError("not a link token")
        key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
        return jwt.decode(link_token, key=key, algorithms=["ES256"], audience=self.service_id)

    def confirm_link(self, link_token: str) -> str:
        """Confirm the token at the operator; return where to send the browser: the answer's."""
        claims = self.verify_link_token(link_token)
        response = requests.post(
            f"{self.operator_url}/api/v1/links",
            json={"service": self.service_id, "token": link_token, "reference": self.user},
            headers={"Authorization": f"Bearer {self._token()}"}, timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        self.links.append(claims)
        return response.json()["return_url"]

    def form_token(self, secret: str) -> str:
        return hmac.new(self.csrf_key, secret.encode(), hashlib.sha256).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args) -> None:
        pass

    @property
    def service(self) -> BrowserFacingService:
        return self.server.service  # type: ignore[attr-defined]

    def _cookie(self) -> str:
        cookies = SimpleCookie(self.headers.get("Cookie", ""))
        return cookies[CSRF_COOKIE].value if CSRF_COOKIE in cookies else ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/link":
            self._link_page(query.get("link_token", ""))
        elif url.path == "/back":
            self.service.returns.append(query)
            self._send(
                200, body=b"<!doctype html><title>Back at the service</title><h1>Thanks</h1>"
            )
        else:
            self._send(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path != "/link":
            self._send(404)
            return
        secret, sent = self._cookie(), form.get("csrf_token", "")
        if not secret or not hmac.compare_digest(sent, self.service.form_token(secret)):
            self.service.errors.append("csrf")
            self._send(403)
            return
        try:
            self._send(303, location=self.service.confirm_link(form.get("link_token", "")))
        except Exception as error:  # a test reads `errors`; the browser sees a 400
            self.service.errors.append(repr(error))
            self._send(400)

    def _link_page(self, link_token: str) -> None:
        try:
            self.service.verify_link_token(link_token)
        except Exception as error:
            self.service.errors.append(repr(error))
            self._send(400)
            return
        secret = self._cookie() or secrets.token_urlsafe(32)
        page = LINK_PAGE.format(
            user=self.service.user, token=escape(link_token),
            csrf=self.service.form_token(secret),
        )  # fmt: skip
        cookie = f"{CSRF_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax"
        self._send(200, body=page.encode(), cookie=cookie)

    def _send(
        self, status: int, *, location: str | None = None, body: bytes = b"", cookie: str = ""
    ) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
