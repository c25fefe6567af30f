from django.urls import path

from consent import apis, views

api = [
    path(
        "consent-requests",
        apis.ConsentRequestCollectionApi.as_view(),
        name="consent-request-list",
    ),
    path(
        "consent-requests/<uuid:request_id>",
        apis.ConsentRequestDetailApi.as_view(),
        name="consent-request-detail",
    ),
    path("consents", apis.ConsentCollectionApi.as_view(), name="consent-list"),
    path("consents/<uuid:consent_id>", apis.ConsentDetailApi.as_view(), name="consent-detail"),
    path("links", apis.LinkConfirmApi.as_view(), name="link-confirm"),
]

pages = [
    path("consent/requests/<uuid:request_id>", views.consent_screen, name="consent-screen"),
    path(
        "consent/requests/<uuid:request_id>/link",
        views.consent_link_start,
        name="consent-link-start",
    ),
    path("consent/requests/<uuid:request_id>/answer", views.consent_answer, name="consent-answer"),
    path("consent/links/return", views.link_return, name="link-return"),
    path("my/consents", views.my_consents, name="my-consents"),
    path("my/consents/<uuid:consent_id>", views.my_consent, name="my-consent"),
    path(
        "my/consents/<uuid:consent_id>/receipts/<uuid:receipt_id>.jws",
        views.my_receipt_download,
        name="my-receipt-download",
    ),
    path(
        "my/consents/<uuid:consent_id>/<str:action>",
        views.my_consent_change,
        name="my-consent-change",
    ),
    path("my/links/<uuid:link_id>/remove", views.my_link_remove, name="my-link-remove"),
    path("my/account/close", views.account_close, name="account-close"),
]
