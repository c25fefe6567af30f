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

    An entry may carry a port (`203.0.113.7:4711`, `[2001:db8::7]:4711`), which
    is dropped. An IPv6 client counts as its /64 network, given as the network's
    first address: one host commonly holds a whole /64, and would otherwise
    have 2^64 addresses to spread its requests over.
    """
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.OMADATA_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies == 0 or not forwarded:
        return peer
    hops = forwarded.split(",")
    return _address(hops[-min(proxies, len(hops))]) or peer


def _address(entry: str) -> str | None:
    """`entry` as the address it counts as; None if it is not an address."""
    host = entry.strip()
    if host.startswith("["):  # [v6] or [v6]:port
        host, bracket, _port = host[1:].partition("]")
        if not bracket:
            return None
    elif host.count(":") == 1:  # v4:port; a bare v6 address has two colons at least
        host = host.partition(":")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)
