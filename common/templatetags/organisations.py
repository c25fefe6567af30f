"""`{% organisation org %}`: an organisation's name, and whether the city has verified it.

Said in words beside a mark, never by colour alone: a reader who cannot tell the
colours apart, or hears the page read aloud, learns it as well as anyone.
"""

from typing import Protocol

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

register = template.Library()


class Named(Protocol):
    name: str
    verified: bool


@register.simple_tag
def organisation(org: Named) -> SafeString:
    if org.verified:
        mark, words, kind = "✓", _("verified by the city"), "verified"
    else:
        mark, words, kind = "!", _("not verified by the city"), "unverified"
    return format_html(
        '<span class="org org-{}">{} <span class="org-badge">'
        '<span class="org-mark" aria-hidden="true">{}</span> {}</span></span>',
        kind,
        org.name,
        mark,
        words,
    )
