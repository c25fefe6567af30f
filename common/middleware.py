import base64
import binascii
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, get_resolver, resolve
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from common.api import error_response
from common.correlation import (
    RESPONSE_HEADER,
    request_id_acceptable,
    request_id_new,
    request_id_set,
)
from common.errors import Unavailable

API_PREFIXES = ("/api/", "/o/", "/.well-known/")


class RequestIdMiddleware:
    """Give each request its id (common/correlation.py), and its answer an X-Request-ID header.

    First in MIDDLEWARE, so that every answer has one, a redirect to https or a 413
    as much as a page. The id is the operator's own, unless OMADATA_REQUEST_ID_HEADER
    names a header that a trusted proxy sets: then a well-formed id from it is kept,
    so that the proxy's log and the operator's share it. It stays current until the
    answer is closed (CommonConfig.ready): Django logs a 4xx after the middleware
    has returned.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id_from_proxy(request) or request_id_new()
        request_id_set(request_id)
        response = self.get_response(request)
        response[RESPONSE_HEADER] = request_id
        return response


def _request_id_from_proxy(request: HttpRequest) -> str | None:
    header = settings.OMADATA_REQUEST_ID_HEADER
    value = request.headers.get(header) if header else None
    return value if value is not None and request_id_acceptable(value) else None


class PrivateNoStoreMiddleware:
    """No cache keeps an answer given to a signed-in user or to a client with credentials.

    A resident's consents, a provider's new client secret, a sink's transfers: a
    browser's back button or a shared proxy must not show them to the next person
    at the screen. Such an answer gets `Cache-Control: no-store` (Django's never-cache
    set) unless its view chose its own Cache-Control, as the public JWKS does. The
    login page is never cached either (Django's LoginView sees to it).

    Every answer of the OAuth2 endpoints is private too, whoever asks: a token
    answer holds a secret, and an error there must not be served from a cache in
    place of the next client's token. So are the API docs page and its script,
    where a provider pastes a token to try the API.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response and _private(request):
            add_never_cache_headers(response)
        return response


_PRIVATE_PREFIXES = ("/o/", "/api/docs/")


def _private(request: HttpRequest) -> bool:
    if "HTTP_AUTHORIZATION" in request.META or request.path.startswith(_PRIVATE_PREFIXES):
        return True
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


_View = Callable[..., HttpResponse]


def request_size_limit(setting: str) -> Callable[[_View], _View]:
    """Let a view take bodies up to the setting `setting` (bytes) instead of
    OMADATA_MAX_REQUEST_BYTES: an upload page. RequestSizeLimitMiddleware reads it."""

    def mark(view: _View) -> _View:
        view.max_request_bytes_setting = setting  # type: ignore[attr-defined]
        return view

    return mark


def _size_limit(request: HttpRequest) -> int:
    limit: int = settings.OMADATA_MAX_REQUEST_BYTES
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return limit
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return limit
    setting = getattr(view, "max_request_bytes_setting", None)
    return max(limit, getattr(settings, setting)) if setting else limit


class RequestSizeLimitMiddleware:
    """Refuse a request body over the limit before anything reads it.

    Django enforces the same limit lazily when a form is parsed; the API needs
    its JSON error (413, `request_too_large`) instead of a 400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = _size_limit(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(
                400, "invalid_content_length", _("Content-Length is not a number.")
            )
        if length > limit:
            message = _("The request body is over the limit of %(limit)d bytes.") % {"limit": limit}
            return error_response(413, "request_too_large", message)
        return self.get_response(request)


class NulCharacterMiddleware:
    """Refuse a request whose parameters hold a NUL character, before any view reads them.

    PostgreSQL can keep no U+0000 in text; a value that carried one to a query
    (a client_id at the token endpoint, a form field) failed there, as a 500,
    and on PostgreSQL only. Query strings, form bodies (the OAuth2 endpoints'
    and the pages') and Basic credentials are checked here; JSON bodies by the
    API's parser (common/jsonlimits.py). An API path answers
    `400 invalid_character`, a page Django's 400.

    A cookie holding a NUL is dropped instead, as if the browser had not sent
    it: a session id with one failed the session lookup. A cookie comes back
    with every request, and one not under `__Host-` may have been set by a
    neighbouring host: refusing the requests would shut that browser out of
    the site until its cookies were cleared.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _drop_cookies_with_nul(request)
        if _basic_credentials(request) is None:
            message = _("The Basic credentials hold a character outside base64's alphabet.")
            return _refused(request, message)
        try:
            carries_nul = _carries_nul(request)
        except BadRequest:  # a form body that is not UTF-8: Django reads no such form
            message = _("The form body is not UTF-8, which the operator does not take.")
            return _refused(request, message, code="invalid_encoding")
        if carries_nul:
            message = _("The request holds a NUL character, which the operator does not take.")
            return _refused(request, message)
        return self.get_response(request)


def _refused(
    request: HttpRequest, message: str, *, code: str = "invalid_character"
) -> HttpResponse:
    """The API's JSON 400, or the site's 400 page: an answer, logged as one WARNING line.

    Not a SuspiciousOperation raised: Django logs those at ERROR, and anyone
    could fill the error log with them.
    """
    if request.path.startswith(API_PREFIXES):
        return error_response(400, code, message)
    # Django calls a 400 handler with the exception too; the stubs know one argument.
    handler = cast(Callable[..., HttpResponse], get_resolver().resolve_error_handler(400))
    return handler(request, exception=SuspiciousOperation(message))


def _drop_cookies_with_nul(request: HttpRequest) -> None:
    # Django's cookie parser decodes an octal escape in a quoted value ("\\000").
    cookies = request.COOKIES
    for name in [name for name, value in cookies.items() if "\x00" in name + value]:
        del cookies[name]


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _carries_nul(request: HttpRequest) -> bool:
    # The API's views parse their bodies themselves, as JSON only: reading the
    # body here as a form would take it from them.
    form = request.content_type in _FORMS and not request.path.startswith("/api/")
    for params in (request.GET, request.POST) if form else (request.GET,):
        for key, values in params.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return "\x00" in (_basic_credentials(request) or "")


def _basic_credentials(request: HttpRequest) -> str | None:
    """The decoded `client_id:secret` of a Basic Authorization header; "" if none.

    Decoded as leniently as django-oauth-toolkit decodes it (characters outside
    base64's alphabet skipped), so that what it reads is what was checked here.
    None for text it cannot even try to decode (characters beyond ASCII), on
    which it failed with a 500.
    """
    scheme, _space, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    if not encoded.isascii():
        return None
    try:
        return base64.b64decode(encoded).decode("latin-1")
    except binascii.Error:
        return ""  # not Basic credentials at all: DOT refuses them itself


class ApiLanguageMiddleware:
    """API clients that name no language get English, not the site's Finnish default.

    A browser always sends Accept-Language; a service's HTTP client often does
    not, and its developers read English error messages most readily.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIXES) and "HTTP_ACCEPT_LANGUAGE" not in request.META:
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return self.get_response(request)


class UnavailableMiddleware:
    """Answer 503 to a view that raised `Unavailable`, not a 500.

    The API's own exception handler does so for API views; this covers the
    pages (a resident's consent needs a signing key too). An API path gets the
    JSON error with its code, a page the `503.html` page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Unavailable):
            return None
        if request.path.startswith(API_PREFIXES):
            return error_response(503, exception.code, exception.message)
        return render(request, "503.html", {"message": exception.message}, status=503)
