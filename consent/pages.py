"""What apps built on consent add to the resident's page of one consent.

The dependencies run registry <- consent <- relay: consent must not import
relay, yet a consent's page lists the transfers made under it. So an app built
on consent registers a section here from its AppConfig.ready(), and the page
renders whatever is registered without knowing whose it is.
"""

from collections.abc import Callable

from common.http import AuthenticatedHttpRequest
from consent.models import Consent

# Called as section(request=..., consent=...) with a consent the request's user
# may see (it came through consent_access_for_resident); returns HTML.
Section = Callable[..., str]

_sections: list[Section] = []


def consent_page_section_register(section: Section) -> None:
    """Add `section` to every consent's page, once however often this is called."""
    if section not in _sections:
        _sections.append(section)


def consent_page_sections(*, request: AuthenticatedHttpRequest, consent: Consent) -> list[str]:
    return [section(request=request, consent=consent) for section in _sections]
