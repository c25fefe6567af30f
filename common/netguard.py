"""Which URLs the operator may send residents' data to.

A service's endpoint URL must be https and must point at public addresses
only: never at the operator's own network (private, loopback, link-local,
shared CGNAT space) and never at an IPv6 form that hides an IPv4 address.
A hostname is resolved and every address it resolves to is checked.

The development switch (`OMADATA_ALLOW_LOOPBACK_URLS`) admits http and
loopback addresses, nothing else, so that local demo services can run.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class UnsafeURL(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to. Tests replace this: DNS leaves the machine."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    # An inet sockaddr starts with the address as text (str() only tells the type checker).
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why the operator must not connect to `address`, or None if it may."""
    if address.version == 6 and _embeds_ipv4(address):
        return _("an IPv6 address that embeds an IPv4 address")
    if address.is_loopback:
        return None if allow_loopback else _("a loopback address")
    if address.is_unspecified:
        return _("the unspecified address")
    if address.is_link_local:
        return _("a link-local address")
    if address.is_multicast:
        return _("a multicast address")
    if address.version == 4 and address in _SHARED_CGNAT:
        return _("a shared (CGNAT) address")
    if address.version == 6 and address.is_site_local:
        return _("a site-local address")
    if address.is_private:
        return _("a private address")
    if not address.is_global or address.is_reserved:
        return _("a reserved address")
    return None


def _embeds_ipv4(address: ipaddress.IPv6Address) -> bool:
    if address.ipv4_mapped or address.sixtofour or address.teredo:
        return True
    if any(address in net for net in _NAT64):
        return True
    # ::a.b.c.d, the deprecated IPv4-compatible form; :: and ::1 are not in it.
    return address in _IPV4_COMPATIBLE and int(address) > 1


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, including inet_aton's odd forms.

    `http://2130706433/` and `http://0x7f.1/` both reach 127.0.0.1, since
    the system resolver accepts them; they must be judged as that address.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host) and not host.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_service_url(url: str, *, allow_loopback: bool) -> list[IPAddress]:
    """Raise UnsafeURL unless the operator may send requests to `url`.

    Return the addresses the host resolved to, every one of them checked. A
    client must connect to one of these and not look the name up again: a
    second answer could name another address (DNS rebinding).
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(
            "invalid_url",
            _("The URL is longer than %(limit)d characters.") % {"limit": MAX_URL_LENGTH},
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("invalid_url", _("This is not a valid URL.")) from None
    if port == 0:
        raise UnsafeURL("invalid_url", _("This is not a valid URL."))
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or any(c.isspace() for c in url):
        raise UnsafeURL("invalid_url", _("This is not a valid http(s) URL."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("credentials_in_url", _("The URL must not carry a user name or password."))
    if parts.fragment:
        raise UnsafeURL("invalid_url", _("The URL must not have a fragment."))
    if "%" in host:
        raise UnsafeURL("forbidden_address", _("The URL must not name a network interface."))
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = resolve_host(host, port or (443 if parts.scheme == "https" else 80))
        if not addresses:
            raise UnsafeURL(
                "unresolvable_host", _("The host %(host)s does not resolve.") % {"host": host}
            )
    problems = [address_problem(a, allow_loopback=allow_loopback) for a in addresses]
    for address, problem in zip(addresses, problems, strict=True):
        if problem:
            raise UnsafeURL(
                "forbidden_address",
                _(
                    "The host %(host)s resolves to %(address)s, which the operator must not "
                    "connect to: %(problem)s."
                )
                % {"host": host, "address": address, "problem": problem},
            )
    if parts.scheme == "http" and not (allow_loopback and all(a.is_loopback for a in addresses)):
        raise UnsafeURL("https_required", _("The URL must use https."))
    return addresses
