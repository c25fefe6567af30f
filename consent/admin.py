"""Read-only views for staff: consents, receipts and links are evidence, never edited."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyAdmin
from consent.models import Consent, ConsentRequest, ConsentTerms, Receipt, ServiceLink


class TermsAdmin(ReadOnlyAdmin):
    list_select_related = ["sink"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("sources__service")

    @admin.display(description=_("sources"))
    def source_list(self, terms: ConsentTerms) -> str:
        return ", ".join(part.service.slug for part in terms.source_parts())


@admin.register(Consent)
class ConsentAdmin(TermsAdmin):
    list_display = ["id", "source_list", "sink", "status", "valid_until", "created_at"]
    list_filter = ["status", "purpose_category"]
    search_fields = ["id", "sources__service__slug", "sink__slug"]


@admin.register(ConsentRequest)
class ConsentRequestAdmin(TermsAdmin):
    list_display = ["id", "source_list", "sink", "status", "created_at", "expires_at"]
    list_filter = ["status"]


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
