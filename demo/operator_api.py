"""The demo services' side of the operator protocol, spoken over HTTP only.

Client-credentials tokens (cached until shortly before they expire), the
public registry, and verification of what the operator signs, with keys taken
only from its /.well-known/jwks.json.
"""

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk, jws

from demo.config import Config
from demo.web import json_loads

ALG = "ES256"
# The `typ` of each kind of JWS the operator sends the demo services.
LINK_TYP = "link+jwt"
TRANSFER_TYP = "transfer+jwt"
NOTIFICATION_TYP = "notification+jwt"
TIMEOUT = 10
# A token this close to expiry is renewed rather than sent.
TOKEN_MARGIN = 30


class ApiError(Exception):
    """The operator answered with an error, or could not be reached."""

    def __init__(self, status: int | None, body: object) -> None:
        super().__init__(f"operator answered {status}: {body}")
        self.status, self.body = status, body


class TokenInvalid(Exception):
    """A token the operator supposedly signed does not verify; the message says why."""


@dataclass
class _CachedToken:
    value: str
    expires: float


def http_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: object = None,
    form: dict[str, str] | None = None,
) -> Any:
    """Call the operator; return the parsed JSON answer of a 2xx, or raise ApiError."""
    headers = dict(headers or {})
    body: bytes | None = None
    if data is not None:
        body, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
    elif form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    # The URL is always the configured operator's (http or https), never one a request supplied.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json_loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise ApiError(error.code, error.read()[:500].decode(errors="replace")) from None
    except (OSError, ValueError) as error:
        raise ApiError(None, str(error)) from None


class OperatorApi:
    # An unknown kid refetches the key set (the operator has rotated its key), but
    # not more often than this: a stream of forged kids must not become a stream
    # of requests to the operator.
    jwks_refetch_interval = 5.0

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self._service_ids: dict[str, str] = {}
        self._entries: dict[str, dict] = {}  # the registry's public entries, by service id
        self._keys: dict[str, jwk.JWK] = {}
        self._keys_fetched = 0.0

    def url(self, path: str) -> str:
        return self.config.operator_url + path

    # -- who we are

    def service_id(self, slug: str) -> str:
        """Our service's id, looked up once in the public registry by slug."""
        if slug not in self._service_ids:
            self._read_registry()
        if slug not in self._service_ids:
            raise ApiError(404, f"no approved service {slug!r} in the registry")
        return self._service_ids[slug]

    def service_entry(self, service_id: str) -> dict | None:
        """The public registry's entry of an approved service; None if none, or unreachable.

        For what a page names, not what it trusts: a page still shows without it.
        """
        if service_id not in self._entries:
            try:
                self._read_registry()
            except (ApiError, KeyError, TypeError):
                return None
        return self._entries.get(service_id)

    def _read_registry(self) -> None:
        offset = 0
        while True:
            # A page at a time, as the registry hands them out (at most 100 a page).
            page = http_json("GET", self.url(f"/api/v1/services?limit=100&offset={offset}"))
            for service in page["results"]:
                self._service_ids[service["slug"]] = service["id"]
                self._entries[service["id"]] = service
            offset += len(page["results"])
            if not page["results"] or offset >= page["count"]:
                break

    def token(self, slug: str, scope: str) -> str:
        """An access token for demo service `slug`, from cache while it is fresh."""
        with self._lock:
            cached = self._tokens.get((slug, scope))
            if cached and cached.expires > time.monotonic():
                return cached.value
        try:
            client_id, secret = self.config.credentials(slug)
        except (OSError, KeyError, ValueError) as problem:
            raise ApiError(None, f"no credentials for {slug} ({problem}): run demo_seed") from None
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        answer = http_json(
            "POST", self.url("/o/token/"), headers={"Authorization": f"Basic {basic}"},
            form={"grant_type": "client_credentials", "scope": scope},
        )  # fmt: skip
        expires = time.monotonic() + int(answer.get("expires_in", 60)) - TOKEN_MARGIN
        with self._lock:
            self._tokens[(slug, scope)] = _CachedToken(answer["access_token"], expires)
        return answer["access_token"]

    def call(self, method: str, path: str, *, slug: str, scope: str, data: object = None) -> Any:
        """An API call as demo service `slug`, with a token holding `scope`."""
        bearer = {"Authorization": f"Bearer {self.token(slug, scope)}"}
        return http_json(method, self.url(path), headers=bearer, data=data)

    # -- what the operator signs

    def verify(self, token: str, *, typ: str, audience: str, is_token: bool = True) -> dict:
        """Verify a compact JWS from the operator and return its claims, or raise TokenInvalid.

        The algorithm is pinned to ES256 and the key is found by `kid` in the
        operator's JWKS only; `jku`, `x5u` and embedded keys are never followed.
        A token (`is_token`: link and transfer tokens, not notifications) must
        also name the operator as `iss` and carry an `exp` in the future.
        """
        parsed = jws.JWS()
        try:
            parsed.deserialize(token)
            header = parsed.jose_header
        except (jws.InvalidJWSObject, jws.InvalidJWSOperation, ValueError, TypeError):
            raise TokenInvalid("not a compact JWS") from None
        if header.get("alg") != ALG or header.get("typ") != typ:
            raise TokenInvalid(f"expected alg {ALG} and typ {typ}")
        if "crit" in header:
            raise TokenInvalid("no critical header extension is understood")
        try:
            parsed.verify(self._key(header.get("kid")), alg=ALG)
            claims = json_loads(parsed.payload)
        except (jws.InvalidJWSSignature, jws.InvalidJWSOperation, ValueError):
            raise TokenInvalid("the signature does not verify") from None
        _check_claims(claims, audience=audience, issuer=self.config.operator_url, is_token=is_token)
        return claims

    def _key(self, kid: object) -> jwk.JWK:
        if not isinstance(kid, str):
            raise TokenInvalid("no kid")
        with self._lock:
            stale = time.monotonic() - self._keys_fetched > self.jwks_refetch_interval
            if kid not in self._keys and stale:
                self._keys_fetched = time.monotonic()
                try:
                    jwks = http_json("GET", self.url("/.well-known/jwks.json"))
                    self._keys = {k["kid"]: jwk.JWK(**k) for k in jwks["keys"]}
                except (ApiError, KeyError, TypeError, ValueError):
                    pass  # keep the keys we had; the token fails below if its key is not among them
        if kid not in self._keys:
            raise TokenInvalid("the kid is not one of the operator's keys")
        return self._keys[kid]


def _check_claims(claims: object, *, audience: str, issuer: str, is_token: bool) -> None:
    if not isinstance(claims, dict):
        raise TokenInvalid("the payload is not a JSON object")
    if claims.get("aud") != audience:
        raise TokenInvalid("the token is for another service")
    if is_token and claims.get("iss") != issuer:
        raise TokenInvalid("the token is from another issuer")
    if is_token and not (isinstance(claims.get("exp"), int) and claims["exp"] > time.time()):
        raise TokenInvalid("the token has expired")
