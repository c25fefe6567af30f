"""Read-only views for staff: consents, receipts and the outbox are evidence, never edited."""

from django.contrib import admin

from consent.models import (
    Checkpoint,
    Consent,
    ConsentRequest,
    Notification,
    NotificationAttempt,
    Receipt,
    SigningKey,
)
from omadata.admin import ReadOnlyAdmin


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
    search_fields = ["=id", "=consent__id", "sha256"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root", "created_at"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["kid", "created_at", "retired_at"]


class AttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["started_at", "finished_at", "outcome", "http_status", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["event", "service", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
    inlines = [AttemptInline]
