from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.forms.fields import InvalidJSONInput, JSONString
from django.http import HttpRequest

from common import jsonlimits


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


class BoundedJSONField(forms.JSONField):
    """Django's JSON form field, parsed within common.jsonlimits' bounds.

    Django's own parses with json.loads: a few thousand brackets raise
    RecursionError, a 500, both when the form is checked and when it is shown
    again with its errors.
    """

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str):
            return super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            parsed = jsonlimits.loads(value, max_bytes=self.max_bytes)
        except jsonlimits.JSONRefused as refused:
            raise ValidationError(refused.message, code=refused.code) from None
        return JSONString(parsed) if isinstance(parsed, str) else parsed

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return jsonlimits.loads(data, max_bytes=self.max_bytes)
        except jsonlimits.JSONRefused:
            return InvalidJSONInput(data)
