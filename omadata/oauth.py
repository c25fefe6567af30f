"""The OAuth2 endpoints services call, as django-oauth-toolkit serves them, narrowed.

Introspection (RFC 7662) answers a client about its own tokens only. Any other
token is `{"active": false}`, the answer for an unknown one, so that no client
learns whether another client's token is live, what it may do or whose it is.
It takes POST only: a token in a query string ends up in access logs.

Scopes depend on whose client asks: an auditor's client may hold `audit:read`
and nothing else, a provider's client every scope but that one.

Revocation (RFC 7009) needs nothing of ours: django-oauth-toolkit's view takes
POST only and revokes only the calling client's tokens (tests/omadata/
test_oauth_endpoints.py holds it to that).
"""

import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.scopes import SettingsScopes
from oauth2_provider.views import IntrospectTokenView
from oauthlib.common import Request as OAuthLibRequest

from ledger.access import is_auditor


class AudienceScopes(SettingsScopes):
    """The scopes a client may hold, and gets by default, by the role of its owner."""

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if is_auditor(getattr(application, "user", None)):
            return list(settings.OMADATA_AUDITOR_SCOPES)
        return list(settings.OMADATA_PROVIDER_SCOPES)

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return self.get_available_scopes(application, request, *args, **kwargs)


class OwnTokenIntrospectView(IntrospectTokenView):
    """Introspection of the calling client's own tokens, by POST."""

    http_method_names = ["post", "options"]
    # The application that authenticated this request with its client credentials.
    client: Any = None

    def authenticate_client(self, request: HttpRequest) -> bool:
        """DOT's client authentication (Basic, or credentials in the body), noting the client.

        A caller that authenticates otherwise (a bearer token with the
        `introspection` scope, which no Omadata client can hold) has no client
        here, and every token is inactive to it.
        """
        core = self.get_oauthlib_core()
        oauthlib_request = OAuthLibRequest(
            request.get_full_path(), request.method, urlencode(core.extract_body(request)),
            core.extract_headers(request),
        )  # fmt: skip
        authenticated = bool(core.server.request_validator.authenticate_client(oauthlib_request))
        self.client = oauthlib_request.client if authenticated else None
        return authenticated

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().post(request, *args, **kwargs)
        if response.status_code != 200:
            return response  # a request without a token: DOT's own error
        answer = json.loads(response.content)
        if answer.get("active") and answer.get("client_id") != getattr(
            self.client, "client_id", None
        ):
            return JsonResponse({"active": False})
        return response
