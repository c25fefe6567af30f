"""The operator's URLs: each app lists its own API paths and pages; they meet here."""

from collections.abc import Callable

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from oauth2_provider import views as oauth2_views

from audit import urls as audit_urls
from common.throttles import (
    TokenAddressThrottle,
    TokenClientAddressThrottle,
    TokenClientThrottle,
    rate_limited,
)
from consent import urls as consent_urls
from ledger import urls as ledger_urls
from omadata import language, views
from omadata.oauth import OwnTokenIntrospectView, one_client
from portability import urls as portability_urls
from registry import urls as registry_urls
from relay import urls as relay_urls

# Each client_id, and each address, may fail at the OAuth2 endpoints only so
# often: guessing a secret, or flooding, meets 429 before the secret is even checked.
# A request naming two clients is refused inside the limits: a failure for both.
limits = rate_limited(TokenClientAddressThrottle, TokenClientThrottle, TokenAddressThrottle)


def limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return limits(one_client(view))


oauth2_patterns = (
    [
        path("token/", limited(oauth2_views.TokenView.as_view()), name="token"),
        path("revoke_token/", limited(oauth2_views.RevokeTokenView.as_view()), name="revoke-token"),
        path("introspect/", limited(OwnTokenIntrospectView.as_view()), name="introspect"),
    ],
    "oauth2_provider",
)

api_v1 = [*registry_urls.api, *consent_urls.api, *relay_urls.api, *ledger_urls.api]

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    # Browsers ask for it on pages that name no icon (the admin's): not worth a 404 each time.
    path("favicon.ico", views.favicon),
    path(".well-known/mydata-operator", views.discovery, name="discovery"),
    path(".well-known/", include(ledger_urls.well_known)),
    path("o/", include(oauth2_patterns)),
    path("api/v1/", include(api_v1)),
    *consent_urls.pages,
    *portability_urls.pages,
    *registry_urls.pages,
    *audit_urls.public,
    path("audit/", include(audit_urls)),
    path("api/schema/", views.SchemaView.as_view(), name="schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before Django's own: the same switcher, which also keeps a resident's choice.
    path("i18n/setlang/", language.language_choose, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler400 = "omadata.views.bad_request"
handler404 = "omadata.views.not_found"
handler500 = "omadata.views.server_error"
