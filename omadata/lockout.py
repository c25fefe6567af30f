"""Login lockouts: the page a locked login gets, and the audit event that each lockout writes.

django-axes (configured in settings) counts failed logins per user name and
address in the database and refuses further tries once the limit is reached,
until the cool-off has passed. Above it, `LoginAddressLimitMiddleware` counts
failed logins per address whatever user names they try, so that one address
cycling through user names meets a limit too.
"""

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from common.http import client_address
from common.throttles import Bucket, bucket_wait, buckets_give_back, buckets_take
from registry.services import account_lockout_record, address_lockout_record


def login_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The user name axes counts a login under: as given, cut to what its table holds.

    Axes' own reading (the form's `username`), cut to its column's length: a
    longer name belongs to no account (Django's are at most 150 characters), so
    it is just a failed login, where uncut it failed as a 500 on PostgreSQL.
    """
    username = (credentials or {}).get("username") if credentials else request.POST.get("username")
    if username is None:
        return None
    return str(username)[: AccessAttempt._meta.get_field("username").max_length]


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
    return _locked_page(request, until, {"username": username})


def _locked_page(request: HttpRequest, until: datetime, context: dict[str, Any]) -> HttpResponse:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    context = {**context, "until": until, "minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


class LoginAddressLimitMiddleware:
    """At most OMADATA_RATE_LOGIN_ADDRESS failed logins per address, whatever the user names.

    Each login attempt is counted before the password is checked, and given back
    when it succeeds (a login form redirects then), so that parallel guesses
    count exactly. The failure that reaches the limit, and every attempt after
    it until the window ends, gets the lockout page; reaching the limit writes
    an audit event. Placed before axes' middleware, whose lockout page is the same.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rate = settings.OMADATA_RATE_LOGIN_ADDRESS
        address = client_address(request)
        if rate is None or address is None or not _is_login(request):
            return self.get_response(request)
        bucket = Bucket("login_address", address, rate)
        taken = buckets_take([bucket])
        if isinstance(taken, float):
            return _address_locked_page(request, seconds=taken)
        response = self.get_response(request)
        if response.status_code == 302:
            buckets_give_back(taken)
        elif taken.counts == (rate.requests,):
            address_lockout_record(address=address, path=request.path, failures=rate.requests)
            return _address_locked_page(request, seconds=bucket_wait(bucket))
        return response


def _is_login(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path_info in (
        reverse("login"),
        reverse("admin:login"),
    )


def _address_locked_page(request: HttpRequest, *, seconds: float) -> HttpResponse:
    until = timezone.now() + timedelta(seconds=seconds)
    return _locked_page(request, until, {"per_address": True})


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
