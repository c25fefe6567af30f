"""`{{ value|moment }}`: a date and time as a reader of the page's language writes it,
in the operator's time zone (settings.TIME_ZONE), with the zone named.

Django's own formats write English the American way ("Dec. 1, 2026, 3:10 p.m.") and
name no zone; a resident reading a receipt's time needs to know which hour it means.
The zone's abbreviation follows daylight saving time (EET in winter, EEST in summer).
"""

from datetime import datetime

from django import template
from django.utils import dateformat, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Per language: (date and time, date only). `E` is Finnish's month name in the
# genitive ("1. joulukuuta"); Finland-Swedish writes hours with a dot, as Finnish does.
FORMATS = {
    "fi": (r"j. E Y \k\l\o G.i T", r"j. E Y"),
    "sv": (r"j F Y \k\l. G.i T", r"j F Y"),
    "en": (r"j F Y, H:i T", r"j F Y"),
}


def moment_text(value: datetime, *, date_only: bool = False) -> str:
    """`value` as text in the active language, in the operator's time zone."""
    language = (translation.get_language() or "fi")[:2]
    with_time, day = FORMATS.get(language, FORMATS["en"])
    local = timezone.localtime(value)
    return dateformat.format(local, day if date_only else with_time)


@register.filter
def moment(value: datetime | None, arg: str = "") -> SafeString | str:
    """A `<time>` element: the text for people, the ISO 8601 instant for machines.

    `{{ value|moment:"date" }}` writes the day alone.
    """
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        moment_text(value, date_only=arg == "date"),
    )
