"""Read-only views for staff: consents, receipts and links are evidence, never edited."""

from django.contrib import admin

from common.admin import ReadOnlyAdmin
from consent.models import Consent, ConsentRequest, Receipt, ServiceLink


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "sink", "status", "valid_until", "created_at"]
    list_filter = ["status", "purpose_category"]
    search_fields = ["id", "source__slug", "sink__slug"]
    list_select_related = ["source", "sink"]


@admin.register(ConsentRequest)
class ConsentRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "sink", "status", "created_at", "expires_at"]
    list_filter = ["status"]
    list_select_related = ["source", "sink"]


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["log_index", "event", "consent", "created_at"]
    list_filter = ["event"]
    list_select_related = ["entry"]
    search_fields = ["=entry__id", "=consent__id", "entry__sha256"]


@admin.register(ServiceLink)
class ServiceLinkAdmin(ReadOnlyAdmin):
    list_display = ["service", "status", "created_at", "confirmed_at", "removed_at"]
    list_filter = ["status"]
    list_select_related = ["service"]
