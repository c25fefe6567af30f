"""What every page's navigation needs to know about the audit pages."""

from collections.abc import Callable

from django.http import HttpRequest

from ledger.access import can_audit


def audit_navigation(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    # A callable: the template asks only when it draws a logged-in user's navigation,
    # so pages for anonymous visitors pay no query for it.
    return {"can_audit": lambda: can_audit(request.user)}
