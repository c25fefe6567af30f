from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_home, name="home"),
    path("receipts", views.receipt_list, name="receipts"),
    path("receipts/<uuid:receipt_id>", views.receipt_detail, name="receipt"),
    path("consents/<uuid:consent_id>", views.consent_history, name="consent"),
    path("services", views.service_figures, name="services"),
    path("services.csv", views.service_figures_csv, name="services_csv"),
]
