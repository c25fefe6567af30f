from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views

from consent import apis as consent_apis
from consent import audit_apis
from consent import views as consent_views
from omadata import views
from registry import apis as registry_apis
from registry import views as registry_views
from relay import apis as relay_apis

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
    path(
        "consent-requests",
        consent_apis.ConsentRequestCollectionApi.as_view(),
        name="consent-request-list",
    ),
    path(
        "consent-requests/<uuid:request_id>",
        consent_apis.ConsentRequestDetailApi.as_view(),
        name="consent-request-detail",
    ),
    path("consents", consent_apis.ConsentCollectionApi.as_view(), name="consent-list"),
    path(
        "consents/<uuid:consent_id>", consent_apis.ConsentDetailApi.as_view(), name="consent-detail"
    ),
    path("links", consent_apis.LinkConfirmApi.as_view(), name="link-confirm"),
    path("transfers", relay_apis.TransferCollectionApi.as_view(), name="transfer-list"),
    path(
        "transfers/<uuid:transfer_id>",
        relay_apis.TransferDetailApi.as_view(),
        name="transfer-detail",
    ),
    path("audit/checkpoints", audit_apis.CheckpointApi.as_view(), name="audit-checkpoint"),
    path(
        "audit/receipts/<uuid:receipt_id>/inclusion",
        audit_apis.InclusionProofApi.as_view(),
        name="audit-inclusion",
    ),
    path("audit/consistency", audit_apis.ConsistencyProofApi.as_view(), name="audit-consistency"),
]

resident_pages = [
    path("consent/requests/<uuid:request_id>", consent_views.consent_screen, name="consent-screen"),
    path(
        "consent/requests/<uuid:request_id>/link",
        consent_views.consent_link_start,
        name="consent-link-start",
    ),
    path(
        "consent/requests/<uuid:request_id>/answer",
        consent_views.consent_answer,
        name="consent-answer",
    ),
    path("my/consents", consent_views.my_consents, name="my-consents"),
    path("my/consents/<uuid:consent_id>", consent_views.my_consent, name="my-consent"),
    path(
        "my/consents/<uuid:consent_id>/<str:action>",
        consent_views.my_consent_change,
        name="my-consent-change",
    ),
    path("my/links/<uuid:link_id>/remove", consent_views.my_link_remove, name="my-link-remove"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path(".well-known/mydata-operator", views.discovery, name="discovery"),
    path(".well-known/jwks.json", consent_views.jwks, name="jwks"),
    path("o/", include(oauth2_patterns)),
    path("api/v1/", include(api_v1)),
    *resident_pages,
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
