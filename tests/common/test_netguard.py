"""Which URLs the operator may send residents' data to (common.netguard).

Names resolve through the FAKE_DNS table in conftest.
"""

import ipaddress

import pytest
from django.utils import translation

from common import netguard
from common.netguard import (
    MAX_URL_LENGTH,
    UnsafeURL,
    address_problem,
    check_service_url,
    literal_address,
    normalize_url,
)


def refusal(url: str, *, allow_loopback: bool = False) -> str | None:
    """The code check_service_url refuses `url` with, or None if it accepts it."""
    try:
        check_service_url(url, allow_loopback=allow_loopback)
    except UnsafeURL as problem:
        return problem.code
    return None


FORBIDDEN_IPV4 = [
    "10.0.0.1",  # private
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "127.0.0.1",  # loopback
    "127.255.255.254",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # shared CGNAT space
    "100.127.255.254",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "0.0.0.0",  # unspecified
    "0.1.2.3",  # "this network"
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
]

FORBIDDEN_IPV6 = [
    "::1",  # loopback
    "fd12:3456::1",  # unique local
    "fc00::1",
    "fe80::1",  # link-local
    "fec0::1",  # site-local
    "::",  # unspecified
    "ff02::1",  # multicast
    "2001:db8::1",  # documentation
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:93.184.215.14",  # mapped even when the IPv4 address is public
    "::127.0.0.1",  # IPv4-compatible
    "::a00:1",
    "::5db8:d70e",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:5db8:d70e::1",  # 6to4 of a public address
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::5db8:d70e",
    "64:ff9b:1::a00:1",  # local-use NAT64
]

PUBLIC_ADDRESSES = ["93.184.215.14", "1.1.1.1", "2606:2800:21f:cb07::1", "2a00:1450:4001::1"]


# -- address_problem ------------------------------------------------------------


@pytest.mark.parametrize("address", FORBIDDEN_IPV4 + FORBIDDEN_IPV6)
def test_address_problem_names_forbidden_address(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_address_problem_passes_public_address(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=False) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_address_problem_passes_loopback_when_allowed(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::7f00:1",
        "10.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "fe80::1",
    ],
)
def test_address_problem_refuses_non_loopback_even_when_loopback_allowed(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=True)


# -- the IANA special-purpose registries ---------------------------------------------

# One address in each block of the IANA IPv4 Special-Purpose Address Registry whose
# "Globally Reachable" is False (or N/A), and in each block the operator refuses besides.
IANA_IPV4 = {
    "0.1.2.3": "0.0.0.0/8 this network",
    "0.0.0.0": "0.0.0.0/32 this host on this network",
    "10.20.30.40": "10.0.0.0/8 private-use",
    "100.100.100.100": "100.64.0.0/10 shared address space",
    "127.1.2.3": "127.0.0.0/8 loopback",
    "169.254.1.1": "169.254.0.0/16 link local",
    "172.20.0.1": "172.16.0.0/12 private-use",
    "192.0.0.1": "192.0.0.0/29 IPv4 service continuity prefix",
    "192.0.0.8": "192.0.0.8/32 IPv4 dummy address",
    "192.0.0.170": "192.0.0.170/32 NAT64/DNS64 discovery",
    "192.0.0.171": "192.0.0.171/32 NAT64/DNS64 discovery",
    "192.0.0.200": "192.0.0.0/24 IETF protocol assignments",
    "192.0.0.9": "192.0.0.9/32 PCP anycast: globally reachable, but no service of ours",
    "192.0.0.10": "192.0.0.10/32 TURN anycast: likewise",
    "192.0.2.200": "192.0.2.0/24 documentation (TEST-NET-1)",
    "192.88.99.1": "192.88.99.0/24 deprecated 6to4 relay anycast",
    "192.88.99.2": "192.88.99.2/32 6a44 relay anycast",
    "192.168.100.1": "192.168.0.0/16 private-use",
    "198.18.0.1": "198.18.0.0/15 benchmarking",
    "198.19.255.254": "198.18.0.0/15 benchmarking",
    "198.51.100.7": "198.51.100.0/24 documentation (TEST-NET-2)",
    "203.0.113.7": "203.0.113.0/24 documentation (TEST-NET-3)",
    "224.0.0.251": "224.0.0.0/4 multicast (not in the registry)",
    "239.255.255.250": "224.0.0.0/4 multicast",
    "250.1.2.3": "240.0.0.0/4 reserved",
    "255.255.255.255": "255.255.255.255/32 limited broadcast",
}
# Likewise for the IANA IPv6 Special-Purpose Address Registry.
IANA_IPV6 = {
    "::": "::/128 unspecified",
    "::1": "::1/128 loopback",
    "::ffff:93.184.215.14": "::ffff:0:0/96 IPv4-mapped",
    "64:ff9b::5db8:d70e": "64:ff9b::/96 IPv4-IPv6 translation",
    "64:ff9b:1::1": "64:ff9b:1::/48 local-use IPv4-IPv6 translation",
    "100::1": "100::/64 discard-only",
    "100:0:0:1::1": "100:0:0:1::/64 dummy IPv6 prefix",
    "2001::1": "2001::/32 Teredo",
    "2001:1::1": "2001:1::1/128 PCP anycast: globally reachable, but no service of ours",
    "2001:2::1": "2001:2::/48 benchmarking",
    "2001:3::1": "2001:3::/32 AMT: likewise",
    "2001:4:112::1": "2001:4:112::/48 AS112-v6: likewise",
    "2001:10::1": "2001:10::/28 deprecated ORCHID",
    "2001:20::1": "2001:20::/28 ORCHIDv2: likewise",
    "2001:30::1": "2001:30::/28 drone remote ID: likewise",
    "2001:1ff:ffff::1": "2001::/23 IETF protocol assignments",
    "2001:db8:1234::1": "2001:db8::/32 documentation",
    "2002:5db8:d70e::1": "2002::/16 6to4",
    "3fff::1": "3fff::/20 documentation",
    "3fff:fff:ffff::1": "3fff::/20 documentation, its last /32",
    "5f00:1::1": "5f00::/16 segment routing (SRv6) SIDs",
    "fc00::1": "fc00::/7 unique-local",
    "fdff::1": "fc00::/7 unique-local",
    "fe80::1": "fe80::/10 link-local unicast",
    "febf::1": "fe80::/10 link-local unicast",
    "fec0::1": "fec0::/10 deprecated site-local (not in the registry)",
    "ff02::1": "ff00::/8 multicast (not in the registry)",
    "4000::1": "outside 2000::/3, the only global unicast space IANA allocates",
    "::2": "outside 2000::/3",
}
# Just outside a refused block, or in no block at all: public.
IANA_NEIGHBOURS = [
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "192.0.3.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.254",
    "2001:200::1",
    "2001:db9::1",
    "3fff:1000::1",
    "2606:2800:21f:cb07::1",
    "2a00:1450:4001::1",
]


@pytest.mark.parametrize("address", list(IANA_IPV4), ids=list(IANA_IPV4.values()))
def test_every_special_purpose_ipv4_block_is_refused(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=False)
    assert refusal(f"https://{address}/data") == "forbidden_address"


@pytest.mark.parametrize("address", list(IANA_IPV6), ids=list(IANA_IPV6.values()))
def test_every_special_purpose_ipv6_block_is_refused(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=False)
    assert refusal(f"https://[{address}]/data") == "forbidden_address"


@pytest.mark.parametrize("address", IANA_NEIGHBOURS)
def test_addresses_beside_the_special_blocks_are_public(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=False) is None


@pytest.mark.parametrize(
    "address", ["192.0.0.8", "192.0.0.170", "3fff::1", "5f00:1::1", "100:0:0:1::1", "2001:30::1"]
)
def test_loopback_switch_does_not_open_special_blocks(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "named"),
    [
        ("10.0.0.5", "a private address"),
        ("fd00::5", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("192.0.2.1", "a documentation address"),
        ("3fff::1", "a documentation address"),
        ("198.18.0.1", "a benchmarking address"),
        ("224.0.0.1", "a multicast address"),
        ("::ffff:10.0.0.1", "an IPv6 address that embeds an IPv4 address"),
        ("192.0.0.8", "a reserved address"),
    ],
)
def test_address_problem_names_the_class_of_address(address, named):
    with translation.override("en"):
        assert address_problem(ipaddress.ip_address(address), allow_loopback=False) == named


# -- the real resolver ------------------------------------------------------------


@pytest.mark.usefixtures("real_dns")
def test_localhost_through_getaddrinfo_is_loopback_and_refused():
    with pytest.raises(UnsafeURL) as raised:
        check_service_url("https://localhost/data", allow_loopback=False)

    assert raised.value.code == "forbidden_address"


@pytest.mark.usefixtures("real_dns")
def test_localhost_through_getaddrinfo_is_allowed_by_the_loopback_switch():
    addresses = check_service_url("http://localhost:8001/data", allow_loopback=True)

    assert addresses
    assert all(address.is_loopback for address in addresses)


@pytest.mark.usefixtures("real_dns")
@pytest.mark.parametrize(
    ("host", "address"), [("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("::1", "::1")]
)
def test_getaddrinfo_reads_literals_as_the_guard_does(host, address):
    # The system resolver turns 2130706433 into 127.0.0.1: the guard must judge
    # that address, not the text, and literal_address agrees with the resolver.
    assert netguard.resolve_host(host, 443) == [ipaddress.ip_address(address)]
    assert literal_address(host) == ipaddress.ip_address(address)


# -- literal_address ------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f.1", "127.0.0.1"),  # hex, short form
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short form
        ("10.1", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_literal_address_reads_every_form_the_resolver_accepts(host, address):
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["wearable.example.fi", "localhost", "deadbeef", "cafe.fi", ""])
def test_literal_address_of_a_name_is_none(host):
    assert literal_address(host) is None


# -- check_service_url: literal addresses --------------------------------------


@pytest.mark.parametrize("address", FORBIDDEN_IPV4)
def test_forbidden_ipv4_literal_is_refused(address):
    assert refusal(f"https://{address}/data") == "forbidden_address"


@pytest.mark.parametrize("address", FORBIDDEN_IPV6)
def test_forbidden_ipv6_literal_is_refused(address):
    assert refusal(f"https://[{address}]:8443/data") == "forbidden_address"


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "3232235777",
        "0xa9.0xfe.0xa9.0xfe",
        "10.1",
        "0",
    ],
)
def test_inet_aton_form_of_forbidden_address_is_refused(host):
    assert refusal(f"https://{host}/data") == "forbidden_address"


@pytest.mark.parametrize(
    "url",
    [
        "https://[fe80::1%25eth0]/",
        "https://[fe80::1%eth0]/",
        "https://[2606:2800:21f:cb07::1%25eth0]/",
        "https://[::1%25lo]:8000/",
    ],
)
def test_zone_id_is_refused(url):
    assert refusal(url) == "forbidden_address"


def test_zone_id_is_refused_even_when_loopback_allowed():
    assert refusal("http://[::1%25lo]:8000/", allow_loopback=True) == "forbidden_address"


# -- check_service_url: names ---------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "internal.example.fi",  # 10.x
        "private172.example.fi",
        "router.example.fi",  # 192.168.x
        "metadata.example.fi",  # 169.254.169.254
        "cgnat.example.fi",
        "loopback.example.fi",
        "localhost",
        "loopback6.example.fi",
        "unspecified.example.fi",
        "multicast.example.fi",
        "reserved.example.fi",
        "ula.example.fi",
        "linklocal6.example.fi",
        "sitelocal6.example.fi",
        "mapped.example.fi",
        "mappedloopback.example.fi",
        "compat.example.fi",
        "sixtofour.example.fi",
        "teredo.example.fi",
        "nat64.example.fi",
    ],
)
def test_name_resolving_to_forbidden_address_is_refused(host):
    assert refusal(f"https://{host}/data") == "forbidden_address"


@pytest.mark.parametrize("host", ["mixed.example.fi", "mixed6.example.fi"])
def test_name_resolving_to_public_and_private_addresses_is_refused(host):
    assert refusal(f"https://{host}/data") == "forbidden_address"


def test_unresolvable_name_is_refused():
    assert refusal("https://nowhere.example.fi/data") == "unresolvable_host"


@pytest.mark.parametrize(
    "url",
    [
        "https://wearable.example.fi/data",
        "https://wearable.example.fi:443/data?since=2025-01-01",
        "https://hooks.example.fi/",
        "https://93.184.215.14/data",
        "https://[2606:2800:21f:cb07::1]:443/data",
    ],
)
def test_public_https_url_is_accepted(url):
    assert refusal(url) is None


# -- ports ------------------------------------------------------------------------


@pytest.mark.parametrize("port", [22, 25, 80, 5432, 6379, 8080, 8443, 65535])
@pytest.mark.parametrize(
    "host", ["wearable.example.fi", "93.184.215.14", "[2606:2800:21f:cb07::1]"]
)
def test_public_host_on_another_port_than_443_is_refused(host, port):
    assert refusal(f"https://{host}:{port}/data") == "forbidden_port"


@pytest.mark.parametrize("port", [22, 5432, 8443])
def test_loopback_switch_does_not_open_ports_on_public_hosts(port):
    assert refusal(f"https://wearable.example.fi:{port}/data", allow_loopback=True) == (
        "forbidden_port"
    )


def test_allowed_ports_admit_another_port_and_only_that():
    def refused(url: str) -> str | None:
        try:
            check_service_url(url, allow_loopback=False, allowed_ports=(8443,))
        except UnsafeURL as problem:
            return problem.code
        return None

    assert refused("https://wearable.example.fi:8443/data") is None
    assert refused("https://wearable.example.fi/data") is None
    assert refused("https://wearable.example.fi:8444/data") == "forbidden_port"
    assert refused("http://wearable.example.fi:8443/data") == "https_required"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:22/",
        "http://127.0.0.1:5432/",
        "https://127.0.0.1:6379/",
        "http://localhost:54321/hooks",
        "http://[::1]:8001/",
        "http://loopback.example.fi:8004/",
    ],
)
def test_loopback_switch_admits_any_port_on_loopback(url):
    assert refusal(url, allow_loopback=True) is None


def test_forbidden_port_message_names_the_ports_allowed():
    with translation.override("en"), pytest.raises(UnsafeURL) as raised:
        check_service_url("https://wearable.example.fi:22/", allow_loopback=False)

    assert "443" in raised.value.message
    assert "22" not in raised.value.message.replace("443", "")


# -- what an error says ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named", "hidden"),
    [
        ("https://internal.example.fi/data", "a private address", "10.1.2.3"),
        ("https://metadata.example.fi/data", "a link-local address", "169.254"),
        ("https://loopback.example.fi/data", "a loopback address", "127.0.0.1"),
        ("https://mixed.example.fi/data", "a private address", "192.168"),
        ("https://ula.example.fi/data", "a private address", "fd12"),
        ("https://10.0.0.5/data", "a private address", "10.0.0.5"),
        ("https://2130706433/data", "a loopback address", "127.0.0.1"),
    ],
)
def test_refusal_names_the_class_of_address_never_the_address(url, named, hidden):
    with translation.override("en"), pytest.raises(UnsafeURL) as raised:
        check_service_url(url, allow_loopback=False)

    assert raised.value.code == "forbidden_address"
    assert named in raised.value.message
    assert hidden not in raised.value.message


# -- check_service_url: the shape of the URL ------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://wearable.example.fi/data", "http://93.184.215.14/", "http://[2606:2800:21f:cb07::1]/"],
)
def test_http_to_public_host_is_refused(url):
    assert refusal(url) == "https_required"


@pytest.mark.parametrize(
    "url",
    [
        "https://user@wearable.example.fi/data",
        "https://user:secret@wearable.example.fi/data",
        "https://:secret@wearable.example.fi/data",
        "https://@wearable.example.fi/data",
        "https://wearable.example.fi@127.0.0.1/data",
    ],
)
def test_userinfo_is_refused(url):
    assert refusal(url) == "credentials_in_url"


def test_fragment_is_refused():
    assert refusal("https://wearable.example.fi/data#today") == "invalid_url"


def test_url_over_length_limit_is_refused():
    base = "https://wearable.example.fi/"
    url = base + "a" * (MAX_URL_LENGTH - len(base) + 1)

    assert refusal(url) == "invalid_url"


def test_url_at_length_limit_is_accepted():
    base = "https://wearable.example.fi/"

    assert refusal(base + "a" * (MAX_URL_LENGTH - len(base))) is None


@pytest.mark.parametrize("port", ["65536", "99999", "abc", "-1", "80:80", "\uff18\uff10"])
def test_bad_port_is_refused(port):
    assert refusal(f"https://wearable.example.fi:{port}/data") == "invalid_url"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://wearable.example.fi/data",
        "file:///etc/passwd",
        "gopher://wearable.example.fi/",
        "ws://wearable.example.fi/",
        "javascript:alert(1)",
        "data:text/plain,hello",
        "wearable.example.fi/data",
        "//wearable.example.fi/data",
        "https:///data",
        "https://",
        "",
        " https://wearable.example.fi/data",
        "https://wearable.example.fi/da ta",
        "https://wearable.exa\nmple.fi/data",
        "https://wearable.example.fi/\tdata",
        "https://[wearable.example.fi]/data",
    ],
)
def test_non_http_url_is_refused(url):
    assert refusal(url) == "invalid_url"


# -- the development switch -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001/data",
        "http://127.0.0.1/",
        "http://localhost:8002/hooks",
        "http://localhost/",
        "http://[::1]:8003/",
        "http://loopback.example.fi:8004/",
        "https://127.0.0.1:8443/",
    ],
)
def test_allow_loopback_admits_loopback_over_http(url):
    assert refusal(url, allow_loopback=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:8000/",
        "http://[::]:8000/",
        "http://[::ffff:127.0.0.1]:8000/",
        "http://[::ffff:7f00:1]:8000/",
        "http://[::127.0.0.1]:8000/",
        "http://internal.example.fi/",
        "http://mappedloopback.example.fi/",
        "http://mixed.example.fi/",
    ],
)
def test_allow_loopback_still_refuses_other_forbidden_addresses(url):
    assert refusal(url, allow_loopback=True) == "forbidden_address"


@pytest.mark.parametrize("url", ["http://wearable.example.fi/data", "http://93.184.215.14/"])
def test_allow_loopback_still_requires_https_to_public_host(url):
    assert refusal(url, allow_loopback=True) == "https_required"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001/data", "http://localhost/"])
def test_loopback_is_refused_without_the_switch(url):
    assert refusal(url) == "forbidden_address"


def test_port_zero_is_not_a_valid_url():
    with pytest.raises(UnsafeURL) as raised:
        check_service_url("https://wearable.example.fi:0/data", allow_loopback=False)

    assert raised.value.code == "invalid_url"


# -- the one ASCII form ------------------------------------------------------------


def normalization_refusal(url: str) -> str | None:
    try:
        normalize_url(url)
    except UnsafeURL as problem:
        return problem.code
    return None


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://exämple.fi/x", "https://xn--exmple-cua.fi/x"),
        ("https://EXÄMPLE.fi:8443/x", "https://xn--exmple-cua.fi:8443/x"),
        ("https://straße.de/", "https://xn--strae-oqa.de/"),  # IDNA 2008: ß is not ss
        ("https://wearable.example.fi。/x", "https://wearable.example.fi./x"),
    ],
)
def test_internationalised_host_becomes_its_a_label(url, normalized):
    assert normalize_url(url) == normalized


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://wearable.example.fi/dätä", "https://wearable.example.fi/d%C3%A4t%C3%A4"),
        ("https://wearable.example.fi/d?q=€", "https://wearable.example.fi/d?q=%E2%82%AC"),
        ("https://exämple.fi/ä?ö#å", "https://xn--exmple-cua.fi/%C3%A4?%C3%B6#%C3%A5"),
    ],
)
def test_non_ascii_path_and_query_are_percent_encoded(url, normalized):
    assert normalize_url(url) == normalized


@pytest.mark.parametrize(
    "url",
    [
        "https://WEARABLE.example.fi/a%20b?c=%C3%A4&d",
        "http://127.0.0.1:8001/data",
        "https://[2606:2800:21f:cb07::1]/hooks",
    ],
)
def test_ascii_url_is_left_exactly_as_it_was(url):
    assert normalize_url(url) == url


@pytest.mark.parametrize(
    "char", ["\t", "\r", "\n", " ", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\u200b",
             "\u202e", "\u2028", "\u3000", "\ufeff"],
)  # fmt: skip
@pytest.mark.parametrize(
    "template", ["https://wearable.example.fi/d{}ata", "https://wear{}able.example.fi/",
                 "{}https://wearable.example.fi/", "https://wearable.example.fi/{}"],
)  # fmt: skip
def test_whitespace_and_control_characters_are_refused(template, char):
    assert normalization_refusal(template.format(char)) == "invalid_url"


@pytest.mark.parametrize(
    "url", ["https://💩.fi/", "https://exa_mplé.fi/", f"https://{'ä' * 70}.fi/", "https://ä..fi/"]
)
def test_host_that_is_no_internationalised_domain_name_is_refused(url):
    assert normalization_refusal(url) == "invalid_url"


def test_port_in_other_digits_is_refused():
    fullwidth_443 = "\uff14\uff14\uff13"

    assert normalization_refusal(f"https://exämple.fi:{fullwidth_443}/") == "invalid_url"


def test_url_that_encoding_makes_too_long_is_refused():
    url = "https://wearable.example.fi/" + "ä" * (MAX_URL_LENGTH // 3)

    assert normalization_refusal(url) == "invalid_url"


@pytest.mark.parametrize(
    "url",
    ["https://wearable.example.fi/dätä", "https://exämple.fi/x", "https://wearable.example.fi/\x7f",
     "https://wearable.example.fi/\x85"],
)  # fmt: skip
def test_check_takes_only_the_normalised_form(url):
    assert refusal(url) == "invalid_url"
