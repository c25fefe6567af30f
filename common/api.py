"""What every API endpoint shares: the error format, strict input, scopes.

Every error is JSON of one shape, `{"code", "message", "fields", "request_id"}`,
where `code` is stable for clients to branch on, `fields` names what was wrong
with which input field, and `request_id` is the request's id (its X-Request-ID),
which every log line written while handling it carries.
"""

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers
from rest_framework.fields import get_error_detail
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from common.correlation import request_id_current
from common.errors import Conflict, Forbidden, ServiceError, Unavailable, Unprocessable
from common.text import validate_line, validate_paragraphs
from common.throttles import Bucket, WindowThrottle, buckets_take

# DRF's own codes for these exceptions are renamed to the ones we document.
_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_token",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "rate_limited",
}


def error_body(
    code: str, message: str | Promise, fields: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "code": code,
        "message": str(message),
        "fields": fields or [],
        "request_id": request_id_current(),
    }


def error_response(status: int, code: str, message: str | Promise) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def rate_limited_message(seconds: int) -> str:
    return ngettext(
        "Too many requests: try again in %(seconds)d second.",
        "Too many requests: try again in %(seconds)d seconds.",
        seconds,
    ) % {"seconds": seconds}


def rate_limited_response(wait: float) -> JsonResponse:
    """429 `rate_limited`, with Retry-After in whole seconds (rounded up, at least 1)."""
    seconds = max(1, math.ceil(wait))
    response = error_response(429, "rate_limited", rate_limited_message(seconds))
    response["Retry-After"] = str(seconds)
    return response


def _field_errors(detail: object, path: str = "") -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into a list of {field, code, message}."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list's item, as DRF reports them: by index
                name = f"{path}[{key}]"
            elif key == "non_field_errors":
                name = path
            else:
                name = f"{path}.{key}" if path else str(key)
            found += _field_errors(value, name)
        return found
    if isinstance(detail, list):
        found = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            found += _field_errors(value, f"{path}[{index}]" if nested else path)
        return found
    return [
        {"field": path or None, "code": getattr(detail, "code", "invalid"), "message": str(detail)}
    ]


_STATUS = {Conflict: 409, Forbidden: 403, Unprocessable: 422, Unavailable: 503}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ServiceError):
        body = {**exc.detail, **error_body(exc.code, exc.message)}
        return Response(body, status=_STATUS[type(exc)])
    if isinstance(exc, DjangoValidationError):
        # The services validate too (URLs, data types, keys): the same 400, codes kept.
        exc = exceptions.ValidationError(get_error_detail(exc))
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None  # not an API exception: a real bug, reported as a 500
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            "validation_failed", _("Some fields are invalid."), _field_errors(exc.detail)
        )
        return response
    code = getattr(exc, "error_code", None) or _CODES.get(type(exc)) or exc.default_code
    if isinstance(exc, exceptions.Throttled):
        # DRF has rounded the wait up; the header and the message say the same.
        seconds = max(1, getattr(exc, "wait", None) or 1)  # the stubs do not know `wait`
        response["Retry-After"] = str(seconds)
        exc.detail = exceptions.ErrorDetail(rate_limited_message(seconds))
    if isinstance(exc, exceptions.NotAuthenticated) and _bearer_sent(context):
        code = "invalid_token"
        # str(): a lazy message is not a str, and would be swapped for the default below.
        exc.detail = exceptions.ErrorDetail(
            str(_("The access token is invalid, expired or revoked."))
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    response.data = error_body(code, detail)
    return response


def _bearer_sent(context: dict[str, Any]) -> bool:
    request = context.get("request")
    header = request.META.get("HTTP_AUTHORIZATION", "") if request else ""
    return header.lower().startswith("bearer ")


class ApiView(APIView):
    """Every API endpoint's view: its rate limits are checked before its permissions.

    DRF checks permissions first, so a call that fails them (no token, an
    invalid or expired one, a missing scope) was refused without being counted,
    and a flood of them met no limit. The limits are checked together: a call
    goes through only if all have room, and counts in none if one refuses.
    """

    def check_permissions(self, request: Request) -> None:
        self._check_limits(request)
        super().check_permissions(request)

    def check_throttles(self, request: Request) -> None:
        """Nothing more to check: `check_permissions` checked the limits already."""

    def _check_limits(self, request: Request) -> None:
        buckets: list[Bucket] = []
        for throttle in self.get_throttles():
            if not isinstance(throttle, WindowThrottle):
                raise TypeError(f"{type(throttle).__name__} does not count in buckets")
            buckets.extend(throttle.buckets(request))
        taken = buckets_take(buckets)
        if isinstance(taken, float):
            self.throttled(request, taken)


class InsufficientScope(exceptions.PermissionDenied):
    error_code = "insufficient_scope"


class RequiresScope(BasePermission):
    """Require an OAuth2 token carrying the view's scope for this method.

    The view names `required_scopes`, a dict from HTTP method to a scope, or
    to a tuple of scopes of which any one will do.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        # Permissions run before DRF looks for the method's handler: a method the
        # view names no scope for is one it does not serve.
        method = "GET" if request.method == "HEAD" else request.method
        scope = view.required_scopes.get(method)
        if scope is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        token = request.auth
        if token is None or not hasattr(token, "allow_scopes"):
            raise exceptions.NotAuthenticated()
        scopes = (scope,) if isinstance(scope, str) else scope
        if not any(token.allow_scopes([s]) for s in scopes):
            raise InsufficientScope(
                _("This token lacks the scope %(scope)s.") % {"scope": " or ".join(scopes)}
            )
        return True


class ScopedOAuth2Scheme(DjangoOAuthToolkitScheme):
    """The OpenAPI security of a view, read from its `required_scopes` (see RequiresScope).

    One source for both: the scopes a view enforces are the scopes its
    operation documents. The scheme itself (client credentials, the token
    URL, every scope) comes from the OAUTH2_* entries of SPECTACULAR_SETTINGS.
    """

    priority = 1  # over drf-spectacular's own, which knows DOT's permissions, not ours

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[str]]]:
        method = auto_schema.method
        scope = getattr(auto_schema.view, "required_scopes", {}).get(method)
        if scope is None:
            return []  # a public operation: its AllowAny documents it as such
        scopes = (scope,) if isinstance(scope, str) else scope
        return [{"oauth2": [name]} for name in scopes]


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not know, instead of ignoring them.

    A client that misspells `delivery_url` should hear so, not find the value gone.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(str(_("Unknown field.")), code="unknown_field")
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class ReadableText(serializers.CharField):
    """A text that people read (a name, a purpose): only characters that show as they are.

    One line, or with `paragraphs=True` line feeds too (common/text.py says why);
    anything else unprintable is refused with the code `unprintable_character`.
    """

    def __init__(self, *, paragraphs: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_paragraphs if paragraphs else validate_line)


class FieldErrorOutput(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()

    class Meta:
        ref_name = "FieldError"


class ErrorOutput(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField()
    message = serializers.CharField()
    # DRF's metaclass takes declared fields off the class: this does not replace
    # Serializer.fields, though the stubs cannot tell.
    fields = FieldErrorOutput(many=True)  # type: ignore[assignment]
    request_id = serializers.CharField(
        help_text="This request's id, as in the X-Request-ID header: quote it to the operator."
    )

    class Meta:
        ref_name = "Error"
