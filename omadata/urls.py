from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views

from consent import views as consent_views
from omadata import views
from registry import apis as registry_apis
from registry import views as registry_views

oauth2_patterns = (
    [
        path("token/", oauth2_views.TokenView.as_view(), name="token"),
        path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
        path("introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"),
    ],
    "oauth2_provider",
)

api_v1 = [
    path("services", registry_apis.ServiceCollectionApi.as_view(), name="service-list"),
    path(
        "services/<uuid:service_id>",
        registry_apis.ServiceDetailApi.as_view(),
        name="service-detail",
    ),
    path("organisation", registry_apis.OrganisationApi.as_view(), name="organisation"),
    path(
        "organisation/services",
        registry_apis.OwnServiceListApi.as_view(),
        name="organisation-services",
    ),
    path("data-types", registry_apis.DataTypeListApi.as_view(), name="data-type-list"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path(".well-known/mydata-operator", views.discovery, name="discovery"),
    path(".well-known/jwks.json", consent_views.jwks, name="jwks"),
    path("o/", include(oauth2_patterns)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("provider/", registry_views.provider_home, name="provider-home"),
    path("provider/credentials", registry_views.credential_create, name="credential-create"),
    path(
        "provider/credentials/<int:credential_id>/revoke",
        registry_views.credential_revoke,
        name="credential-revoke",
    ),
    path("admin/", admin.site.urls),
]

handler404 = "omadata.views.not_found"
handler500 = "omadata.views.server_error"
