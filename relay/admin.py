"""Read-only views for staff: transfers and their tries are evidence, never edited."""

from django.contrib import admin

from common.admin import AttemptInline, ReadOnlyAdmin
from relay.models import Transfer, TransferAttempt


class TransferAttemptInline(AttemptInline):
    model = TransferAttempt


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "consent", "status", "scheduled", "attempts", "byte_count", "created_at"
    ]  # fmt: skip
    list_filter = ["status", "scheduled", "error_code"]
    search_fields = ["=id", "=consent__id", "sha256"]
    inlines = [TransferAttemptInline]
