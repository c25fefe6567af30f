"""Read-only views for staff: transfers and their tries are evidence, never edited."""

from django.contrib import admin
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from relay.models import Transfer, TransferAttempt


class TransferAttemptInline(admin.TabularInline):
    model = TransferAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "started_at", "finished_at", "outcome", "http_status", "error", "duration_ms"
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "consent", "status", "scheduled", "attempts", "byte_count", "created_at"
    ]  # fmt: skip
    list_filter = ["status", "scheduled", "error_code"]
    search_fields = ["=id", "=consent__id", "sha256"]
    inlines = [TransferAttemptInline]
