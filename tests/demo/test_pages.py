"""The demo pages speak Finnish, Swedish or English, as the resident picks."""

import pytest

from demo import pages


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ({"lang": "sv"}, "fi", "sv"),
        ({}, "fi-FI,fi;q=0.9,en;q=0.5", "fi"),
        ({}, "de,sv;q=0.8", "sv"),
        ({"lang": "xx"}, "", "en"),
    ],
)
def test_language_follows_the_query_then_accept_language(query, accept, expected):
    assert pages.language(query, accept) == expected


def test_language_links_keep_the_rest_of_the_query():
    html = pages.page(title="T", lang="en", body="", query={"link_token": "a.b.c", "lang": "en"})

    assert b'href="?link_token=a.b.c&amp;lang=fi"' in html
    assert b'<html lang="en">' in html
