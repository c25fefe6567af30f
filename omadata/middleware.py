from django.conf import settings
from django.http import HttpRequest, HttpResponse

from omadata.api import error_response


class RequestSizeLimitMiddleware:
    """Refuse a request body over the limit before anything reads it.

    Django enforces the same limit lazily when a form is parsed; the API needs
    its JSON error (413, `request_too_large`) instead of a 400 page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.OMADATA_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "invalid_content_length", "Content-Length is not a number.")
        if length > limit:
            return error_response(
                413, "request_too_large", f"The request body is over the limit of {limit} bytes."
            )
        return self.get_response(request)
