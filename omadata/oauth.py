"""The OAuth2 endpoints services call, as django-oauth-toolkit serves them, narrowed.

Introspection (RFC 7662) answers a client about its own tokens only. Any other
token is `{"active": false}`, the answer for an unknown one, so that no client
learns whether another client's token is live, what it may do or whose it is.
It takes POST only: a token in a query string ends up in access logs.

A client whose owner is deactivated authenticates no more, and its tokens stop
working (within OMADATA_TOKEN_CACHE_SECONDS). Scopes depend on whose client
asks: an auditor's client may hold `audit:read` and nothing else, a provider's
client every scope but that one.

Client secrets are stored with omadata/hashers.py's fast hasher (they are
random, not passwords); one stored with an older hasher is stored again with
it when it next authenticates. An access token is looked up in one statement
with its application, the application's owner and the owner's provider
membership with its organisation, so that API views find the caller's
organisation (registry/access.py) without another query, and is then kept
briefly in the cache (registry/tokens.py says for how long, and what revokes
it at once).

A request must name one client (RFC 6749 2.3): one that sends Basic
credentials for one client and a form body for another is refused before
either is checked, so that a guess at one client's secret cannot ride on
another client's success.

Revocation (RFC 7009) is django-oauth-toolkit's: its view takes POST only and
revokes only the calling client's tokens (tests/omadata/test_oauth_endpoints.py
holds it to that); ours drops the token from the cache as well.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import IntrospectTokenView
from oauthlib.common import Request as OAuthLibRequest

from common.throttles import token_client_ids
from ledger.access import AUDITORS_GROUP
from registry.selectors import provider_of_user
from registry.tokens import token_cache_forget, token_cache_get, token_cache_set, token_checksum

# What a client's owner brings along: its provider membership and organisation,
# or none (an auditor's client), read in the same statement.
_OWNER = "user__provider__organisation"
_HASHES = ("user__password", "application__client_secret", "application__user__password")


class Validator(OAuth2Validator):
    """DOT's validator: a client whose owner is deactivated neither authenticates nor
    uses its tokens; each lookup reads the owner in the same statement."""

    def _load_application(self, client_id: str, request: Any) -> Any:
        if not request.client:
            # DOT takes an application already on the request as loaded.
            applications = get_application_model().objects.select_related(_OWNER)
            try:
                request.client = applications.get(client_id=client_id)
            except (ObjectDoesNotExist, ValueError):  # ValueError: a NUL byte, on PostgreSQL
                request.client = None  # DOT looks again, and answers
        application = super()._load_application(client_id, request)
        owner = getattr(application, "user", None)
        if application is not None and (owner is None or not owner.is_active):
            request.client = None
            return None
        return application

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        """DOT's check; a right secret stored with another hasher is stored again with ours.

        The update names the row by its old stored value: a salted hash is its
        row's alone, and a request that upgraded it first leaves nothing to update.
        """
        try:
            identify_hasher(stored_secret)
        except ValueError:  # stored unhashed: DOT compares in constant time
            return bool(super()._check_secret(provided_secret, stored_secret))
        hasher = oauth2_settings.CLIENT_SECRET_HASHER

        def store_again(secret: str) -> None:
            get_application_model().objects.filter(client_secret=stored_secret).update(
                client_secret=make_password(secret, hasher=hasher)
            )

        return check_password(provided_secret, stored_secret, store_again, preferred=hasher)

    def _load_access_token(self, token: str) -> Any:
        """The token with its client and the client's owner: from the cache, or one query."""
        checksum = token_checksum(token)
        cached = token_cache_get(checksum)
        if cached is not None:
            return cached
        tokens = (
            get_access_token_model()
            .objects.select_related("user", f"application__{_OWNER}")
            # Not wanted here, and kept out of the cache: hashes of passwords and secrets.
            .defer(*_HASHES)
        )
        try:
            found = tokens.get(token_checksum=checksum)
        except ObjectDoesNotExist:
            return None
        token_cache_set(found)
        return found

    def revoke_token(self, token: str, token_type_hint: str | None, request: Any) -> None:
        """DOT's revocation (the calling client's own tokens only), and the cache forgets it."""
        super().revoke_token(token, token_type_hint, request)
        token_cache_forget([token_checksum(token)])

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        owner = getattr(request.client, "user", None)
        if owner is None or not owner.is_active:
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The access token is invalid.",
            }
            return False
        return True


class AudienceScopes(SettingsScopes):
    """The scopes a client may hold, and gets by default, by its owner's role.

    An auditor's client: `audit:read` alone, even once the auditor is
    deactivated. A provider's client: the provider scopes. Any other
    client (its owner deactivated, or in neither role): none, so no token.
    """

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        owner = getattr(application, "user", None)
        if owner is None or not owner.is_active:
            return []
        if owner.groups.filter(name=AUDITORS_GROUP).exists():
            return list(settings.OMADATA_AUDITOR_SCOPES)
        if provider_of_user(owner) is not None:
            return list(settings.OMADATA_PROVIDER_SCOPES)
        return []

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return self.get_available_scopes(application, request, *args, **kwargs)


def one_client(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse, with RFC 6749's `invalid_request`, a request that names two clients."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if len(token_client_ids(request)) > 1:
            return _invalid_request(
                "The request names more than one client: authenticate with one method."
            )
        return view(request, *args, **kwargs)

    return checked


def _invalid_request(description: str) -> JsonResponse:
    response = JsonResponse(
        {"error": "invalid_request", "error_description": description}, status=400
    )
    response["Cache-Control"] = "no-store"
    return response


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
