from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import (
    SCHEMA_KWARGS,
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ApiView, error_response
from ledger.access import is_auditor
from omadata.health import broker_status, database_status, signing_status
from registry.selectors import service_list_public


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_status(), "broker": broker_status()}
    if checks["database"]["status"] == "up":  # the key's check reads the database
        checks["signing"] = signing_status()
    ok = all(check["status"] == "up" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "down", "checks": checks}, status=200 if ok else 503
    )


@require_safe
def discovery(request: HttpRequest) -> JsonResponse:
    """The operator's discovery document: where a service finds everything else."""
    base = settings.BASE_URL
    return JsonResponse(
        {
            "issuer": base,
            "jwks_uri": base + reverse("jwks"),
            "receipt_signing_alg_values_supported": ["ES256"],
            "api_base": base + "/api/v1/",
            "token_endpoint": base + reverse("oauth2_provider:token"),
            "revocation_endpoint": base + reverse("oauth2_provider:revoke-token"),
            "introspection_endpoint": base + reverse("oauth2_provider:introspect"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": sorted(settings.OMADATA_SCOPES),
            "openapi": base + reverse("schema"),
            "api_docs": base + reverse("api-docs"),
            "service_registry": base + reverse("service-list"),
            "consent_requests": base + reverse("consent-request-list"),
            "log_checkpoints": base + reverse("audit-checkpoints"),
            "log_checkpoint_latest": base + reverse("audit-checkpoint"),
            "log_keys": base + reverse("audit-keys"),
            # Seconds: the longest a receipt waits before it is in the log's tree.
            "log_max_merge_delay": settings.OMADATA_LOG_MERGE_DELAY,
            "ui_locales_supported": [code for code, _name in settings.LANGUAGES],
        }
    )


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's)."""
    return HttpResponsePermanentRedirect(static("omadata/favicon.svg"))


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "omadata/home.html", {"services": service_list_public()})


class LoginView(auth_views.LoginView):
    """Django's login, which sends an auditor to the audit pages unless `next` says otherwise."""

    def get_default_redirect_url(self) -> str:
        if is_auditor(self.request.user):
            return reverse("audit:home")
        return super().get_default_redirect_url()


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/.well-known/", "/o/"))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refuses before any view (a Host not allowed, a malformed body)."""
    if _wants_json(request):
        return error_response(400, "bad_request", _("The request could not be understood."))
    return render(request, "400.html", status=400)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return error_response(404, "not_found", _("Nothing is here."))
    return render(request, "404.html", status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without this browser's CSRF token (CSRF_FAILURE_VIEW): 403, saying why.

    Django's own page is in English, for developers, and names no request id.
    Django's `reason` is for the log, which has it already.
    """
    if _wants_json(request):
        message = _("The request was refused: it carried no valid CSRF token.")
        return error_response(403, "csrf_failed", message)
    return render(request, "403_csrf.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return error_response(500, "server_error", _("Something went wrong on our side."))
    return render(request, "500.html", status=500)


class _JsonErrors(ApiView):
    """Errors as the API's JSON, whatever the view renders when it succeeds (HTML, YAML)."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(_JsonErrors, SpectacularAPIView):
    """The OpenAPI document, of the one version of the API, in a language of the site.

    drf-spectacular would write any `?version=` into the document's version and
    its file name (a line feed there was a 500), and activate any `?lang=`,
    such as a language of Django's own catalogues that the site does not offer.
    """

    @extend_schema(**SCHEMA_KWARGS)  # as drf-spectacular's own get: out of the document
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        query = SchemaQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        return super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]  # untyped

    def _get_version_parameter(self, request: Request) -> None:
        # The API has one version, the document's own (SPECTACULAR_SETTINGS["VERSION"]).
        return None


class SchemaQueryInput(serializers.Serializer):
    version = serializers.CharField(required=False)
    lang = serializers.CharField(required=False)

    def validate_version(self, value: str) -> str:
        return _one_of(value, [str(settings.SPECTACULAR_SETTINGS["VERSION"])])

    def validate_lang(self, value: str) -> str:
        return _one_of(value, [code for code, _name in settings.LANGUAGES])


def _one_of(value: str, choices: list[str]) -> str:
    if value not in choices:
        message = _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}
        raise serializers.ValidationError(message, code="invalid_choice")
    return value


class ApiDocsView(_JsonErrors, SpectacularSwaggerSplitView):
    """Swagger UI without inline code, so the site's CSP needs no `unsafe-inline`.

    The page loads its start-up script from this same URL (`?script`), and its
    styles from static files.
    """

    template_name = "omadata/api_docs.html"
    # A page, not an API: DRF's OPTIONS answer is data, which its HTML renderer cannot render.
    http_method_names = ["get", "head"]
