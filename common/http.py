"""What the operator knows about a request: its types for annotations, and who sent it."""

import ipaddress
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request past `login_required` or the admin's login: its user is signed in.

    Only for annotations: Django still passes its own request object, whose
    `user` the decorator has checked. The project uses Django's own User model.
    """

    user: "User"


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that sent `request`, as the rate limits and lockouts count it.

    With no proxy in front (`OMADATA_PROXY_COUNT` 0), it is the peer's address.
    Behind N proxies, each of which appends the address it received from to
    X-Forwarded-For, it is the N-th address from the right: the one the
    outermost proxy saw. Entries further left are whatever the client wrote,
    and are never trusted. A malformed trusted entry (a misconfigured proxy)
    falls back to the peer's address.
    """
    peer = request.META.get("REMOTE_ADDR") or None
    proxies = settings.OMADATA_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies == 0 or not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer
