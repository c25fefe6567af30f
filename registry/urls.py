from django.urls import path

from registry import apis, views

api = [
    path("services", apis.ServiceCollectionApi.as_view(), name="service-list"),
    path("services/<uuid:service_id>", apis.ServiceDetailApi.as_view(), name="service-detail"),
    path("organisation", apis.OrganisationApi.as_view(), name="organisation"),
    path("organisation/services", apis.OwnServiceListApi.as_view(), name="organisation-services"),
    path("data-types", apis.DataTypeListApi.as_view(), name="data-type-list"),
]

pages = [
    path("provider/", views.provider_home, name="provider-home"),
    path("provider/credentials", views.credential_create, name="credential-create"),
    path(
        "provider/credentials/<int:credential_id>/revoke",
        views.credential_revoke,
        name="credential-revoke",
    ),
]
