"""What apps built on consent add to the resident's page of one consent.

The dependencies run registry <- consent <- relay: consent must not import
relay, yet a consent's page lists the transfers made under it. So an app built
on consent registers a section here from its AppConfig.ready(), and the page
renders whatever is registered without knowing whose it is. The list of the
resident's consents takes sections the same way (the histories imported from
another operator), and closing an account erases what such an app holds about the
resident by the same kind of registration.
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


# Called as section(request=...) on the resident's list of consents; returns HTML.
ListSection = Callable[..., str]

_list_sections: list[ListSection] = []


def my_consents_section_register(section: ListSection) -> None:
    """Add `section` to the resident's list of consents, once however often this is called."""
    if section not in _list_sections:
        _list_sections.append(section)


def my_consents_sections(*, request: AuthenticatedHttpRequest) -> list[str]:
    return [section(request=request) for section in _list_sections]


# Called as eraser(resident=...) inside account_close's transaction, after the account's
# own fields are erased: what an app built on consent holds about the resident goes too.
AccountEraser = Callable[..., None]

_account_erasers: list[AccountEraser] = []


def account_eraser_register(eraser: AccountEraser) -> None:
    """Have `eraser` run when a resident closes their account, once however often called."""
    if eraser not in _account_erasers:
        _account_erasers.append(eraser)


def account_erasers() -> list[AccountEraser]:
    return list(_account_erasers)
