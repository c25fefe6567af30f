"""Read-only views for staff: the outbox and its tries are evidence, never edited."""

from django.contrib import admin
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from webhooks.models import Notification, NotificationAttempt


class AttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "started_at", "finished_at", "outcome", "http_status", "error", "duration_ms"
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["event", "service", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
    inlines = [AttemptInline]
