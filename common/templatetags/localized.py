from django import template

register = template.Library()


@register.filter
def localized(obj, field: str) -> str:
    """`{{ service|localized:"name" }}`: the field in the current language."""
    return obj.localized(field)
