"""Login lockouts (django-axes, configured in settings): the page a locked login gets, and
the audit event that each lockout writes.

Axes counts failed logins per user name and address in the database and refuses
further tries once the limit is reached, until the cool-off has passed.
"""

import math
from typing import Any

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from registry.services import account_lockout_record


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with a page that says, in the resident's language, why and until when."""
    username = get_client_username(request, credentials) or ""
    address = getattr(request, "axes_ip_address", None)  # set by axes on every request it sees
    latest = AccessAttempt.objects.filter(username=username, ip_address=address).aggregate(
        latest=Max("attempt_time")
    )["latest"]
    # The lockout ends a cool-off after the last failure that counted.
    until = (latest or timezone.now()) + settings.AXES_COOLOFF_TIME
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    context = {"username": username, "until": until, "minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def lockout_record(
    sender: object, *, request: HttpRequest, username: str | None, ip_address: str | None,
    **kwargs: Any,
) -> None:  # fmt: skip
    """Receives axes' `user_locked_out`: write the audit event of a new lockout.

    Axes sends the signal for the failure that reaches the limit and again for
    each try refused during the lockout; only the first has a failure count.
    """
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    account_lockout_record(
        username=username or "", address=ip_address, path=request.path, failures=failures
    )
