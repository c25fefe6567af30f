"""Read-only views for staff: the log and the keys are evidence, never edited."""

from django.contrib import admin

from common.admin import ReadOnlyAdmin
from ledger.models import Checkpoint, LogEntry, SigningKey


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ["index", "sha256", "created_at"]
    search_fields = ["=id", "sha256"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root", "created_at"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["kid", "created_at", "retired_at"]
