"""Rate limits: how many requests one client may make in a window of time.

The counts live in Django's default cache, which the settings make one store
for every process of the operator (Redis, or files under var/ on one machine),
so a limit holds however many web processes and threads share the work. Each
class says whom it counts and which setting gives its rate (a `common.env.Rate`,
or None for no limit). Every refusal is `429 rate_limited` with Retry-After.

Windows are fixed: a client's first request opens a window of `rate.seconds`,
in which `rate.requests` go through; the count is one cache key that expires
with its window. A request is counted with the cache's `add` and `incr`, which
Redis does atomically, so clients sending in parallel get no more through than
the limit. (The file cache, with no Redis,
reads and writes a count in two steps: a parallel burst there may get a few
more through.) A request goes through only if every limit it meets has room,
and is then counted in all of them; one that any limit refuses is counted in
none, so a refusal by one limit does not use up another's budget.
"""

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, QueryDict
from rest_framework.throttling import BaseThrottle

from common.env import Rate
from common.http import client_address

if TYPE_CHECKING:
    # DRF imports the throttle classes while its views module loads: only types from there.
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bucket:
    """One client's count under one limit."""

    scope: str
    ident: str
    rate: Rate

    @property
    def key(self) -> str:
        return f"ratelimit:{self.scope}:{self.ident}"


@dataclass(frozen=True)
class Taken:
    """Buckets a request was counted in, to give back if it should not count after all.

    For each: its key, and its count with this request.
    """

    keys: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()


def buckets_take(buckets: Sequence[Bucket]) -> Taken | float:
    """Count one request in every bucket, or in none.

    Returns what was counted, or, when a bucket is full, the seconds until its
    window ends. While the cache cannot be reached, requests go through
    uncounted: a limit must not take the operator down with its cache.
    """
    keys: list[str] = []
    counts: list[int] = []
    scope = ""
    try:
        for bucket in buckets:
            scope = bucket.scope
            keys.append(bucket.key)
            count = _increment(bucket)
            if count > bucket.rate.requests:
                buckets_give_back(Taken(tuple(keys)))
                return bucket_wait(bucket)
            counts.append(count)
    except Exception:
        logger.warning("rate limit %s not checked: the cache failed", scope, exc_info=True)
        return Taken()
    return Taken(tuple(keys), tuple(counts))


def _increment(bucket: Bucket) -> int:
    for _attempt in range(2):
        if cache.add(bucket.key, 0, bucket.rate.seconds):
            # This request opens the window: it ends when the count expires.
            ends = time.time() + bucket.rate.seconds
            cache.set(f"{bucket.key}:ends", ends, bucket.rate.seconds)
        try:
            return cache.incr(bucket.key)
        except ValueError:
            continue  # the window ended between the two calls: open the next
    raise RuntimeError(f"cache key {bucket.key} vanishes as soon as it is added")


def bucket_wait(bucket: Bucket) -> float:
    """Seconds until the bucket's present window ends."""
    ends = cache.get(f"{bucket.key}:ends")
    return bucket.rate.seconds if ends is None else max(0.0, ends - time.time())


def buckets_give_back(taken: Taken) -> None:
    """Uncount a request counted by `buckets_take`."""
    for key in taken.keys:
        try:
            cache.decr(key)
        except ValueError:
            pass  # the window has ended meanwhile, and its count with it
        except Exception:
            logger.warning("rate limit count %s not given back: the cache failed", key)


class WindowThrottle(BaseThrottle):
    """At most `rate.requests` requests in each window of `rate.seconds`, per client."""

    scope: ClassVar[str]
    setting: ClassVar[str]
    # Whether a request that the view answered with success is given back:
    # then the limit counts failures only (wrong secrets), not a client's own use.
    failures_only: ClassVar[bool] = False

    def __init__(self) -> None:
        self.rate: Rate | None = getattr(settings, self.setting)
        self.retry_after: float | None = None

    def idents(self, request: HttpRequest) -> list[str]:
        """Whom this request counts against; none if this limit does not apply to it."""
        raise NotImplementedError

    def buckets(self, request: HttpRequest) -> list[Bucket]:
        if self.rate is None:
            return []
        return [Bucket(self.scope, ident, self.rate) for ident in self.idents(request)]

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        """DRF's way, one limit at a time; `common.api.ApiView` checks all limits together."""
        taken = buckets_take(self.buckets(request))
        self.retry_after = taken if isinstance(taken, float) else None
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class AddressThrottle(WindowThrottle):
    """Counts by the client's network address (see `common.http.client_address`)."""

    def idents(self, request: HttpRequest) -> list[str]:
        address = client_address(request)
        return [] if address is None else [address]


def api_client(request: HttpRequest) -> int | None:
    """The id of the OAuth2 application whose access token authenticated `request`, if any."""
    return getattr(getattr(request, "auth", None), "application_id", None)


class ApiClientThrottle(WindowThrottle):
    """API calls per OAuth2 application: every process and token of one service count together."""

    scope = "api_client"
    setting = "OMADATA_RATE_API_CLIENT"

    def idents(self, request: HttpRequest) -> list[str]:
        application = api_client(request)
        return [] if application is None else [str(application)]


class AnonymousThrottle(AddressThrottle):
    """API calls without a service's valid access token, per address.

    The public endpoints, and calls with a missing, invalid or expired token:
    the API views check the limits before the permissions (common.api.ApiView),
    so a flood of bad tokens meets 429 as well.
    """

    scope = "anonymous"
    setting = "OMADATA_RATE_ANONYMOUS"

    def idents(self, request: HttpRequest) -> list[str]:
        return super().idents(request) if api_client(request) is None else []


def token_client_ids(request: HttpRequest) -> list[str]:
    """The client_ids whose secret django-oauth-toolkit checks for this request, in its order.

    Read exactly as its validator reads them (`OAuth2Validator.authenticate_client`):
    first HTTP Basic; whenever that does not authenticate (an unknown client, a
    wrong secret, a header it cannot read), the client_id of the request's
    parameters, the form body's over the query string's. Not checked here:
    a wrong secret or an unknown id counts against the id it names.
    """
    ids = []
    basic = _basic_client_id(request)
    if basic is not None:
        ids.append(basic)
    try:
        form = request.POST
    except BadRequest:  # a body Django cannot read (not UTF-8): the view refuses it
        form = QueryDict()
    named = form.get("client_id") if "client_id" in form else None
    if named is None:
        named = request.GET.get("client_id")
    if named is not None and named not in ids:
        ids.append(named)
    return ids


def _basic_client_id(request: HttpRequest) -> str | None:
    """The client_id of a Basic Authorization header, as `_authenticate_basic_auth` reads it.

    The scheme is `Basic` exactly, after one space; the base64 is decoded
    leniently (characters outside its alphabet are skipped), the result as
    UTF-8, and the id before the first colon is form-decoded (RFC 6749 2.3.1).
    """
    scheme, space, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Basic" or not space or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials).decode("utf-8")
    except ValueError:  # bad padding, text outside ASCII, bytes that are not UTF-8
        return None
    client_id, colon, _secret = decoded.partition(":")
    return unquote_plus(client_id) if colon else None


def _hashed(client_id: str) -> str:
    # Hashed: the id is the client's to choose, in length and characters.
    return hashlib.sha256(client_id.encode()).hexdigest()


class TokenClientThrottle(WindowThrottle):
    """Failed requests to the OAuth2 endpoints per client_id, from wherever they come.

    A high ceiling against guessing from many addresses at once; a client's
    successful requests are given back.
    """

    scope = "token_client"
    setting = "OMADATA_RATE_TOKEN_CLIENT"
    failures_only = True

    def idents(self, request: HttpRequest) -> list[str]:
        return [_hashed(client_id) for client_id in token_client_ids(request)]


class TokenClientAddressThrottle(WindowThrottle):
    """Failed requests to the OAuth2 endpoints per client_id and address.

    Wrong secrets sent from one address stop that address only: the client
    itself, from its own address, still gets its tokens.
    """

    scope = "token_client_address"
    setting = "OMADATA_RATE_TOKEN_CLIENT_ADDRESS"
    failures_only = True

    def idents(self, request: HttpRequest) -> list[str]:
        address = client_address(request) or "-"
        return [f"{_hashed(client_id)}:{address}" for client_id in token_client_ids(request)]


class TokenAddressThrottle(AddressThrottle):
    """Requests to the OAuth2 endpoints per address, whatever client_id they name."""

    scope = "token_address"
    setting = "OMADATA_RATE_TOKEN_ADDRESS"


View = Callable[..., HttpResponse]


def rate_limited(*throttles: type[WindowThrottle]) -> Callable[[View], View]:
    """Put a plain Django view (not a DRF one) behind these limits: 429 when any refuses.

    A limit that counts failures only gets back each request the view answered
    with success (a status below 400).
    """

    def decorate(view: View) -> View:
        @wraps(view)  # keeps what decorators set on the view, such as csrf_exempt
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limits = [throttle() for throttle in throttles]
            counted = [b for t in limits if not t.failures_only for b in t.buckets(request)]
            failures = [b for t in limits if t.failures_only for b in t.buckets(request)]
            taken = buckets_take([*failures, *counted])
            if isinstance(taken, float):
                # Imported here: DRF loads this module while its views load; common.api needs them.
                from common.api import rate_limited_response

                return rate_limited_response(taken)
            response = view(request, *args, **kwargs)
            if response.status_code < 400:
                buckets_give_back(Taken(taken.keys[: len(failures)]))
            return response

        return limited

    return decorate
