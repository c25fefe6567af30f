"""Whose address a request counts against, with and without proxies in front."""

import pytest
from django.test import RequestFactory

from common.http import client_address


def request_from(peer: str, forwarded: str | None = None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=peer, **headers)


def test_without_proxies_a_forwarded_header_is_ignored(settings):
    settings.OMADATA_PROXY_COUNT = 0

    assert client_address(request_from("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "client"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        # What the client wrote itself stands left of what the proxy appended.
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.3", "203.0.113.7"),
        (2, "203.0.113.7", "203.0.113.7"),
        (1, "2001:db8::7", "2001:db8::"),
    ],
)
def test_behind_proxies_it_is_the_address_the_outermost_saw(settings, proxies, forwarded, client):
    settings.OMADATA_PROXY_COUNT = proxies

    assert client_address(request_from("10.0.0.2", forwarded)) == client


def test_behind_a_proxy_a_request_without_the_header_is_the_peers(settings):
    settings.OMADATA_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.2")) == "10.0.0.2"


def test_a_malformed_trusted_entry_falls_back_to_the_peer(settings):
    settings.OMADATA_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.2", "203.0.113.7, unknown")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.7:4711", "203.0.113.7"),
        ("[2001:db8::7]:4711", "2001:db8::"),
        ("[2001:db8::7]", "2001:db8::"),
        (" 203.0.113.7 ", "203.0.113.7"),
    ],
)
def test_a_port_in_a_forwarded_entry_is_dropped(settings, forwarded, client):
    settings.OMADATA_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.2", forwarded)) == client


@pytest.mark.parametrize("forwarded", ["[2001:db8::7:4711", "203.0.113.7:80:80", "[]:80"])
def test_a_malformed_entry_with_a_port_falls_back_to_the_peer(settings, forwarded):
    settings.OMADATA_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.2", forwarded)) == "10.0.0.2"


def test_ipv6_addresses_of_one_64_network_count_as_one(settings):
    settings.OMADATA_PROXY_COUNT = 0

    first = client_address(request_from("2001:db8:1:2:aaaa::1"))
    second = client_address(request_from("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    other = client_address(request_from("2001:db8:1:3::1"))

    assert first == second == "2001:db8:1:2::"
    assert other == "2001:db8:1:3::"


def test_an_ipv4_mapped_peer_counts_as_its_ipv4_address(settings):
    settings.OMADATA_PROXY_COUNT = 0

    assert client_address(request_from("::ffff:203.0.113.7")) == "203.0.113.7"
