from typing import Protocol

from django import template

register = template.Library()


class Localized(Protocol):
    """A model with `<field>_fi`, `_sv` and `_en` columns (registry.models.LocalizedMixin)."""

    def localized(self, field: str, language: str | None = None) -> str: ...


@register.filter
def localized(obj: Localized, field: str) -> str:
    """`{{ service|localized:"name" }}`: the field in the current language."""
    return obj.localized(field)
