"""Read-only views for staff: the outbox and its tries are evidence, never edited."""

from django.contrib import admin

from common.admin import AttemptInline, ReadOnlyAdmin
from webhooks.models import Notification, NotificationAttempt


class NotificationAttemptInline(AttemptInline):
    model = NotificationAttempt


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["event", "service", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
    inlines = [NotificationAttemptInline]
