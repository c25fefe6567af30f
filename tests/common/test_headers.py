"""Content-Type values from peers, against RFC 9110's grammar (common.headers)."""

import pytest

from common.headers import MAX_CONTENT_TYPE_LENGTH, media_type


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "text/plain;charset=utf-8",
        "text/plain ; charset=utf-8",
        'text/plain; charset="utf-8"',
        'application/x; note="a \\"quoted\\" word; with a semicolon"',
        "application/vnd.askel.steps+json; version=2; q=x",
        "text/plain;",
        "*/*",
    ],
)
def test_media_types_of_rfc_9110_are_taken_as_they_are(value):
    assert media_type(value) == value


def test_surrounding_whitespace_is_dropped():
    assert media_type("  application/json\t") == "application/json"


def test_the_longest_media_type_kept_is_taken_and_one_more_is_not():
    base = "application/x; p="
    assert media_type(base + "x" * (MAX_CONTENT_TYPE_LENGTH - len(base)))
    assert media_type(base + "x" * (MAX_CONTENT_TYPE_LENGTH - len(base) + 1)) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "json",
        "application/",
        "/json",
        "application/json, text/plain",
        "application/json\r\n X-Injected: 1",
        "application/json\nX: 1",
        "application/jsön",
        'text/plain; charset="utf-8',
        "text/plain; charset",
        "text/plain; =utf-8",
        "text/plain; charset=\x00",
        "text/plain; charset=utf 8",
        "application/json; profile=" + "x" * 250,
        "appli cation/json",
    ],
)
def test_anything_else_is_refused(value):
    assert media_type(value) is None
