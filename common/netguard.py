"""Which URLs the operator may send residents' data to.

A service's endpoint URL must be https on port 443 (or a port the operator
lists in OMADATA_ALLOWED_PORTS) and must point at public addresses only: never
at the operator's own network (private, loopback, link-local, shared CGNAT
space), never at a special-purpose block of IANA's registries, and never at an
IPv6 form that hides an IPv4 address. A hostname is resolved and every address
it resolves to is checked. Only https on known ports keeps an approved service
from using the operator to knock on other ports (SSH, SMTP, databases) and
reading the answers from its transfers' error codes.

The development switch (`OMADATA_ALLOW_LOOPBACK_URLS`) admits one thing more:
a URL whose host is, or resolves only to, loopback addresses (127.0.0.0/8,
::1) may use http or https on any port, as `make run`'s demo services on
http://127.0.0.1:8001 and the test suite's servers on random ports do. It opens
no port and no address class to any other host.

An error names the class of address refused ("a private address"), never the
address or what DNS answered: those would map the operator's network for
whoever registers a URL.

A URL a provider gives is first brought to one ASCII form (`normalize_url`): an
internationalised host becomes its IDNA A-label and other non-ASCII characters
are percent-encoded as UTF-8, so that what is stored is exactly what goes on
the wire. `check_service_url` takes only that form: a URL with whitespace, a
control character or any other non-ASCII character is `invalid_url`, whether a
provider sends it today or it was stored before this rule.
"""

import ipaddress
import socket
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import idna
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# The only IPv6 space IANA allocates for global unicast: anything outside it is
# special-purpose or unassigned, and refused whatever a table below says.
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")

# The classes of address that an error names: never the address itself, nor
# what DNS answered, which would map the operator's network to whoever asks.
_PRIVATE = gettext_lazy("a private address")
_LOOPBACK = gettext_lazy("a loopback address")
_LINK_LOCAL = gettext_lazy("a link-local address")
_SHARED = gettext_lazy("a shared (CGNAT) address")
_UNSPECIFIED = gettext_lazy("the unspecified address")
_MULTICAST = gettext_lazy("a multicast address")
_SITE_LOCAL = gettext_lazy("a site-local address")
_DOCUMENTATION = gettext_lazy("a documentation address")
_BENCHMARKING = gettext_lazy("a benchmarking address")
_EMBEDDED = gettext_lazy("an IPv6 address that embeds an IPv4 address")
_RESERVED = gettext_lazy("a reserved address")

# The IANA IPv4 and IPv6 Special-Purpose Address Registries
# (https://www.iana.org/assignments/iana-ipv4-special-registry/ and
# https://www.iana.org/assignments/iana-ipv6-special-registry/), as published in
# October 2025 (the IPv6 registry last updated 2025-10-09). The interpreter's own
# tables lag behind them (Python 3.11 takes 192.0.0.8 and 3fff::1 for global).
#
# Every block whose "Globally Reachable" is False or N/A is here. So are whole
# blocks whose few globally reachable members are protocol anycast addresses,
# never a service holding residents' data (all of 192.0.0.0/24 and 2001::/23),
# and what the operator must never reach though the registries do not list it:
# multicast (IANA's multicast registries) and the deprecated site-local space.
# The first block that holds an address names its class; more specific blocks
# come first. IPv6 forms that carry an IPv4 address are refused before these
# tables are read (see _embeds_ipv4).
_SPECIAL_IPV4 = tuple(
    (ipaddress.IPv4Network(block), name)
    for block, name in (
        ("0.0.0.0/32", _UNSPECIFIED),  # "this host on this network"
        ("0.0.0.0/8", _RESERVED),  # "this network"
        ("10.0.0.0/8", _PRIVATE),
        ("100.64.0.0/10", _SHARED),
        ("127.0.0.0/8", _LOOPBACK),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("172.16.0.0/12", _PRIVATE),
        # IETF protocol assignments: service continuity (/29), the dummy address
        # (.8), PCP and TURN anycast (.9, .10), NAT64/DNS64 discovery (.170, .171).
        ("192.0.0.0/24", _RESERVED),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("192.88.99.0/24", _RESERVED),  # deprecated 6to4 relay anycast, 6a44 (.2)
        ("192.168.0.0/16", _PRIVATE),
        ("198.18.0.0/15", _BENCHMARKING),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("224.0.0.0/4", _MULTICAST),  # not in the registry: the multicast registry's
        ("240.0.0.0/4", _RESERVED),  # with 255.255.255.255/32, limited broadcast
    )
)
_SPECIAL_IPV6 = tuple(
    (ipaddress.IPv6Network(block), name)
    for block, name in (
        ("::/128", _UNSPECIFIED),
        ("::1/128", _LOOPBACK),
        ("::ffff:0:0/96", _EMBEDDED),  # IPv4-mapped
        ("64:ff9b::/96", _EMBEDDED),  # IPv4-IPv6 translation (globally reachable: an IPv4 inside)
        ("64:ff9b:1::/48", _EMBEDDED),  # local-use IPv4-IPv6 translation
        ("100::/64", _RESERVED),  # discard-only
        ("100:0:0:1::/64", _RESERVED),  # dummy IPv6 prefix
        ("2001::/32", _EMBEDDED),  # Teredo
        ("2001:2::/48", _BENCHMARKING),
        # IETF protocol assignments, with PCP, TURN and DNS-SD anycast, AMT,
        # AS112-v6, ORCHID and ORCHIDv2, and drone remote ID tags inside it.
        ("2001::/23", _RESERVED),
        ("2001:db8::/32", _DOCUMENTATION),
        ("2002::/16", _EMBEDDED),  # 6to4
        ("3fff::/20", _DOCUMENTATION),
        ("5f00::/16", _RESERVED),  # segment routing (SRv6) SIDs
        ("fc00::/7", _PRIVATE),  # unique-local
        ("fe80::/10", _LINK_LOCAL),
        ("fec0::/10", _SITE_LOCAL),  # deprecated; not in the registry
        ("ff00::/8", _MULTICAST),  # not in the registry: the multicast registry's
    )
)


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class UnsafeURL(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


# Control characters (C0, DEL, C1), formatting characters (zero-width, bidirectional
# overrides), surrogates, and line and paragraph separators: none belongs in a URL,
# and some would hide what the URL says or split the request line it goes into.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def normalize_url(url: str) -> str:
    """`url` in its ASCII form, or UnsafeURL (`invalid_url`) when it has none.

    Whitespace and unprintable characters are refused wherever they are. A
    non-ASCII host becomes its IDNA A-label (UTS #46 mapping, IDNA 2008 rules,
    as browsers read it); non-ASCII characters elsewhere are percent-encoded
    as UTF-8, and everything already ASCII is left exactly as it was. The
    result still has to pass `check_service_url` or the caller's own check.
    """
    if len(url) > MAX_URL_LENGTH:
        raise _too_long()
    if any(c.isspace() or unicodedata.category(c) in _UNPRINTABLE for c in url):
        raise UnsafeURL(
            "invalid_url", _("The URL must not contain spaces, tabs, line breaks or control "
                             "characters.")
        )  # fmt: skip
    if url.isascii():
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeURL("invalid_url", _("This is not a valid URL.")) from None
    normalized = urlunsplit(
        (parts.scheme, _ascii_netloc(parts.netloc), _percent_encode(parts.path),
         _percent_encode(parts.query), _percent_encode(parts.fragment))
    )  # fmt: skip
    if not normalized.isascii():  # the scheme or the port
        raise UnsafeURL("invalid_url", _("This is not a valid URL."))
    if len(normalized) > MAX_URL_LENGTH:
        raise _too_long()
    return normalized


def _ascii_netloc(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport, "", ""
    if not hostport.startswith("[") and ":" in hostport:
        host, colon, port = hostport.rpartition(":")
    if host.isascii():
        return netloc
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise UnsafeURL(
            "invalid_url", _("The host name is not a valid internationalised domain name.")
        ) from None
    return f"{_percent_encode(userinfo)}{at}{ascii_host}{colon}{port}"


def _percent_encode(text: str) -> str:
    """`text` with each non-ASCII character percent-encoded as UTF-8, the rest as it was."""
    return "".join(c if c.isascii() else quote(c, safe="") for c in text)


def _too_long() -> UnsafeURL:
    return UnsafeURL(
        "invalid_url",
        _("The URL is longer than %(limit)d characters.") % {"limit": MAX_URL_LENGTH},
    )


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to. Tests replace this: DNS leaves the machine."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    # An inet sockaddr starts with the address as text (str() only tells the type checker).
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why the operator must not connect to `address` (the class of address), or None."""
    if address.version == 6 and _embeds_ipv4(address):
        return str(_EMBEDDED)
    if address.is_loopback:
        return None if allow_loopback else str(_LOOPBACK)
    table: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Promise], ...] = (
        _SPECIAL_IPV4 if address.version == 4 else _SPECIAL_IPV6
    )
    for block, name in table:
        if address in block:
            return str(name)
    if address.version == 6 and address not in _GLOBAL_UNICAST:
        return str(_RESERVED)
    # The interpreter's view, should it know of a block the tables above do not.
    if not address.is_global or address.is_reserved or address.is_private:
        return str(_RESERVED)
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


def check_service_url(
    url: str, *, allow_loopback: bool, allowed_ports: Collection[int] = ()
) -> list[IPAddress]:
    """Raise UnsafeURL unless the operator may send requests to `url`.

    Return the addresses the host resolved to, every one of them checked. A
    client must connect to one of these and not look the name up again: a
    second answer could name another address (DNS rebinding). Port 443 is
    always allowed on public hosts; `allowed_ports` adds others. `url` must be
    in `normalize_url`'s ASCII form: anything else is `invalid_url`.
    """
    if len(url) > MAX_URL_LENGTH:
        raise _too_long()
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        # Not in normalize_url's form: sent as it is, it could not be encoded, or would
        # split the request line.
        raise UnsafeURL("invalid_url", _("This is not a valid http(s) URL."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("invalid_url", _("This is not a valid URL.")) from None
    if port == 0:
        raise UnsafeURL("invalid_url", _("This is not a valid URL."))
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise UnsafeURL("invalid_url", _("This is not a valid http(s) URL."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("credentials_in_url", _("The URL must not carry a user name or password."))
    if parts.fragment:
        raise UnsafeURL("invalid_url", _("The URL must not have a fragment."))
    if "%" in host:
        raise UnsafeURL("forbidden_address", _("The URL must not name a network interface."))
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _addresses(host, port)
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem:
            raise UnsafeURL(
                "forbidden_address",
                _("The URL's host is, or resolves to, %(problem)s: the operator does not "
                  "connect there.") % {"problem": problem},
            )  # fmt: skip
    if allow_loopback and all(address.is_loopback for address in addresses):
        return addresses  # the development switch: http, any port, on loopback only
    if parts.scheme != "https":
        raise UnsafeURL("https_required", _("The URL must use https."))
    ports = sorted({443, *allowed_ports})
    if port not in ports:
        raise UnsafeURL(
            "forbidden_port",
            ngettext(
                "The operator connects to services on port %(ports)s only.",
                "The operator connects to services on ports %(ports)s only.",
                len(ports),
            )
            % {"ports": ", ".join(str(p) for p in ports)},
        )
    return addresses


def _addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` names or resolves to; UnsafeURL when it resolves to none."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    addresses = resolve_host(host, port)
    if not addresses:
        raise UnsafeURL(
            "unresolvable_host", _("The host %(host)s does not resolve.") % {"host": host}
        )
    return addresses
