from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from common.api import error_response

API_PREFIXES = ("/api/", "/o/", "/.well-known/")


class RequestSizeLimitMiddleware:
    """Refuse a request body over the limit before anything reads it.

    Django enforces the same limit lazily when a form is parsed; the API needs
    its JSON error (413, `request_too_large`) instead of a 400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.OMADATA_MAX_REQUEST_BYTES
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
