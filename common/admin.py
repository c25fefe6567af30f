from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """For evidence (receipts, audit events, attempts): staff may look, never change."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class AttemptInline(admin.TabularInline):
    """The tries of an outbox row (common.models.Attempt), read-only under their row."""

    extra = 0
    can_delete = False
    readonly_fields = [
        "started_at", "finished_at", "outcome", "http_status", "error", "duration_ms"
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
