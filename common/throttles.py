"""Rate limits: how many requests one client may make in a window of time.

The counts live in Django's default cache, which the settings make one store
for every process of the operator (Redis, or files under var/ on one machine),
so a limit holds however many web processes and threads share the work. Each
class says whom it counts and which setting gives its rate (a `common.env.Rate`,
or None for no limit). Every refusal is `429 rate_limited` with Retry-After.
"""

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from common.env import Rate
from common.http import client_address

if TYPE_CHECKING:
    # DRF imports the throttle classes while its views module loads: only types from there.
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class WindowThrottle(BaseThrottle):
    """At most `rate.requests` requests in any `rate.seconds` (a sliding window).

    The times of the requests let through are kept under one cache key per
    client, newest first, at most as many as the limit allows. Reading and
    writing them is not one atomic step: requests that arrive together may
    each be let through on the same count, so a client sending in parallel
    can get a few more through than the limit, never many.
    """

    scope: ClassVar[str]
    setting: ClassVar[str]

    def __init__(self) -> None:
        self.rate: Rate | None = getattr(settings, self.setting)
        self.retry_after: float | None = None

    def ident(self, request: HttpRequest) -> str | None:
        """Whom this request counts against; None if this limit does not apply to it."""
        raise NotImplementedError

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        return self.allows(request)

    def wait(self) -> float | None:
        return self.retry_after

    def allows(self, request: HttpRequest) -> bool:
        ident = self.ident(request) if self.rate is not None else None
        if ident is None or self.rate is None:
            return True
        try:
            return self._count(f"ratelimit:{self.scope}:{ident}", self.rate)
        except Exception:
            # A limit must not take the operator down with its cache: while the
            # cache cannot be reached, requests go through uncounted, and say so.
            logger.warning("rate limit %s not checked: the cache failed", self.scope, exc_info=True)
            return True

    def _count(self, key: str, rate: Rate) -> bool:
        now = time.time()
        history = [at for at in cache.get(key, []) if at > now - rate.seconds]
        if len(history) >= rate.requests:
            # A place frees when the oldest request that fills the limit leaves the window.
            self.retry_after = history[rate.requests - 1] + rate.seconds - now
            return False
        cache.set(key, [now, *history][: rate.requests], rate.seconds)
        return True


class AddressThrottle(WindowThrottle):
    """Counts by the client's network address (see `common.http.client_address`)."""

    def ident(self, request: HttpRequest) -> str | None:
        return client_address(request)


def api_client(request: HttpRequest) -> int | None:
    """The id of the OAuth2 application whose access token authenticated `request`, if any."""
    return getattr(getattr(request, "auth", None), "application_id", None)


class ApiClientThrottle(WindowThrottle):
    """API calls per OAuth2 application: every process and token of one service count together."""

    scope = "api_client"
    setting = "OMADATA_RATE_API_CLIENT"

    def ident(self, request: HttpRequest) -> str | None:
        application = api_client(request)
        return None if application is None else str(application)


class AnonymousThrottle(AddressThrottle):
    """API calls without a service's access token, per address: the public endpoints."""

    scope = "anonymous"
    setting = "OMADATA_RATE_ANONYMOUS"

    def ident(self, request: HttpRequest) -> str | None:
        return super().ident(request) if api_client(request) is None else None


def token_client_id(request: HttpRequest) -> str | None:
    """The client_id a request to the OAuth2 endpoints names: in Basic auth, or in the form.

    Not checked: a wrong secret or an unknown id counts against the id it names.
    """
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, _secret = decoded.partition(":")
        # RFC 6749 2.3.1: the id is form-encoded before it is put in Basic auth.
        return unquote_plus(client_id) if colon else None
    return request.POST.get("client_id") or None


class TokenClientThrottle(WindowThrottle):
    """Requests to the OAuth2 endpoints per client_id, from wherever they come."""

    scope = "token_client"
    setting = "OMADATA_RATE_TOKEN_CLIENT"

    def ident(self, request: HttpRequest) -> str | None:
        client_id = token_client_id(request)
        # Hashed: the id is the client's to choose, in length and characters.
        return None if client_id is None else hashlib.sha256(client_id.encode()).hexdigest()


class TokenAddressThrottle(AddressThrottle):
    """Requests to the OAuth2 endpoints per address, whatever client_id they name."""

    scope = "token_address"
    setting = "OMADATA_RATE_TOKEN_ADDRESS"


View = Callable[..., HttpResponse]


def rate_limited(*throttles: type[WindowThrottle]) -> Callable[[View], View]:
    """Put a plain Django view (not a DRF one) behind these limits: 429 when any refuses."""

    def decorate(view: View) -> View:
        @wraps(view)  # keeps what decorators set on the view, such as csrf_exempt
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = [t for t in (throttle() for throttle in throttles) if not t.allows(request)]
            if refused:
                # Imported here: DRF loads this module while its views load; common.api needs them.
                from common.api import rate_limited_response

                return rate_limited_response(max(t.retry_after or 1 for t in refused))
            return view(request, *args, **kwargs)

        return limited

    return decorate
