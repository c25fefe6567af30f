from django.urls import path

from audit import transparency, views

app_name = "audit"

urlpatterns = [
    path("", views.audit_home, name="home"),
    path("receipts", views.receipt_list, name="receipts"),
    path("receipts.csv", views.receipt_csv, name="receipts_csv"),
    path("consents/<uuid:consent_id>.csv", views.consent_history_csv, name="consent_csv"),
    path("checkpoints", views.checkpoint_list, name="checkpoints"),
    path("checkpoints.csv", views.checkpoint_csv, name="checkpoints_csv"),
    path("bundle", views.bundle_download, name="bundle"),
    path("receipts/<uuid:receipt_id>", views.receipt_detail, name="receipt"),
    path("consents/<uuid:consent_id>", views.consent_history, name="consent"),
    path("services", views.service_figures, name="services"),
    path("services.csv", views.service_figures_csv, name="services_csv"),
]

# Public pages, outside the auditors' /audit/ and its namespace.
public = [
    path(
        "services/<slug:slug>/transparency",
        transparency.service_transparency,
        name="service-transparency",
    ),
]
