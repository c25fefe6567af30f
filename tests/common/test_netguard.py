"""Which URLs the operator may send residents' data to (common.netguard).

Names resolve through the FAKE_DNS table in conftest.
"""

import ipaddress

import pytest

from common.netguard import (
    MAX_URL_LENGTH,
    UnsafeURL,
    address_problem,
    check_service_url,
    literal_address,
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
        "https://wearable.example.fi:8443/data?since=2025-01-01",
        "https://hooks.example.fi/",
        "https://93.184.215.14/data",
        "https://[2606:2800:21f:cb07::1]:8443/data",
    ],
)
def test_public_https_url_is_accepted(url):
    assert refusal(url) is None


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
