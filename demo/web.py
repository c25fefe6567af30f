"""The little web layer the demo services need: a request, a response, a guarded form."""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

# Bigger bodies are refused before they are read: a demo keeps no more than this.
MAX_BODY = 1024 * 1024
# JSON nested deeper than this is refused before it is parsed (see json_loads).
MAX_JSON_DEPTH = 32
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @classmethod
    def from_environ(cls, environ: dict) -> "Request":
        raw_length = environ.get("CONTENT_LENGTH") or "0"
        length = int(raw_length) if raw_length.isdigit() else 0  # malformed: read no body
        if length > MAX_BODY:
            raise BodyTooLarge
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        return cls(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", "/"),
            query=_first_values(environ.get("QUERY_STRING", "")),
            headers=headers,
            body=environ["wsgi.input"].read(length) if length else b"",
        )

    @property
    def form(self) -> dict[str, str]:
        return _first_values(self.body.decode(errors="replace"))

    def cookie(self, name: str) -> str:
        try:
            cookies = SimpleCookie(self.headers.get("cookie", ""))
        except CookieError:
            return ""
        return cookies[name].value if name in cookies else ""

    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_loads(data: str | bytes) -> Any:
    """Parse JSON that the operator or a browser sent, refusing deep nesting with ValueError.

    Python's json module recurses once per level: 2,000 brackets would raise
    RecursionError, not ValueError, where callers expect only the latter. The
    operator's own loader (common/jsonlimits.py) has the same rule; the demo
    services import no operator code, so they keep this copy of it.
    """
    text = data.decode() if isinstance(data, bytes) else data
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        depth = 0
        for match in _STRING_OR_BRACKET.finditer(text):
            char = text[match.start()]
            depth += 1 if char in "[{" else -1 if char in "]}" else 0
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text)


def json_response(value: object, status: int = 200, **headers: str) -> Response:
    return Response(status, json.dumps(value).encode(), "application/json", headers)


def error(status: int, code: str, message: str, **headers: str) -> Response:
    """An API error in the operator's shape: a stable code and a message."""
    return json_response({"code": code, "message": message}, status, **headers)


def unauthorized(problem: Exception) -> Response:
    """A refused bearer token (RFC 6750): the reason in the body, never the data."""
    return error(
        401, "invalid_token", str(problem), **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def redirect(location: str) -> Response:
    return Response(302, b"", headers={"Location": location})


# -- forms that only the service's own page can send -----------------------------
#
# A page on another site can make a browser post to a form (and its cookies go
# along if that browser is signed in here). So each browser holds a random secret
# in an HttpOnly cookie, which pages elsewhere cannot read and SameSite=Lax keeps
# off their cross-site posts, and each form carries an HMAC of it under the
# server's key; a post counts only if the two agree. (A service with sign-in
# sessions keeps the secret in the session instead, out of reach of any cookie
# that a neighbouring subdomain might set.) The wellbeing service also knows by
# this secret which browser started a consent request, and whose account it is.

FORM_TOKEN_FIELD = "csrf_token"  # noqa: S105  # a field name, not a secret
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def form_token(key: bytes, secret: str) -> str:
    """The token that forms in the browser holding `secret` carry."""
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def browser_secret(request: Request, *, cookie: str) -> str:
    """The secret this browser holds in `cookie`, or "" if it holds none."""
    secret = request.cookie(cookie)
    return secret if _SECRET.fullmatch(secret) else ""


def browser_secret_given(
    request: Request, *, cookie: str, path: str, secure: bool
) -> tuple[str, dict[str, str]]:
    """This browser's secret, and the header that gives it one if it has none yet."""
    secret = browser_secret(request, cookie=cookie)
    if secret:
        return secret, {}
    secret = secrets.token_urlsafe(32)
    flags = "; Secure" if secure else ""
    header = f"{cookie}={secret}; Path={path}; HttpOnly; SameSite=Lax{flags}"
    return secret, {"Set-Cookie": header}


def form_guard(
    request: Request, *, key: bytes, cookie: str, path: str, secure: bool
) -> tuple[str, dict[str, str]]:
    """The token for a form on this page, and the header giving the browser its secret."""
    secret, headers = browser_secret_given(request, cookie=cookie, path=path, secure=secure)
    return form_token(key, secret), headers


def form_from_here(request: Request, *, key: bytes, cookie: str) -> bool:
    """True if the posted form came from our own page in this browser."""
    secret = browser_secret(request, cookie=cookie)
    sent = request.form.get(FORM_TOKEN_FIELD, "")
    return bool(secret) and hmac.compare_digest(sent.encode(), form_token(key, secret).encode())
