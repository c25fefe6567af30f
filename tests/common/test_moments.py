"""Dates and times as each language writes them, in Helsinki's time, with the zone named."""

from datetime import UTC, datetime

import pytest
from django.utils import translation

from common.templatetags.moments import moment, moment_text

WINTER = datetime(2026, 12, 1, 13, 10, tzinfo=UTC)  # 15:10 in Helsinki, EET
SUMMER = datetime(2026, 7, 1, 13, 10, tzinfo=UTC)  # 16:10 in Helsinki, EEST


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("en", "1 December 2026, 15:10 EET"),
        ("fi", "1. joulukuuta 2026 klo 15.10 EET"),
        ("sv", "1 december 2026 kl. 15.10 EET"),
    ],
)
def test_a_moment_is_written_as_its_language_writes_it_with_the_zone(language, written):
    with translation.override(language):
        assert moment_text(WINTER) == written


def test_a_summer_moment_is_in_daylight_saving_time():
    with translation.override("en"):
        assert moment_text(SUMMER) == "1 July 2026, 16:10 EEST"


def test_a_day_alone_has_no_time():
    with translation.override("fi"):
        assert moment_text(WINTER, date_only=True) == "1. joulukuuta 2026"


def test_the_element_carries_the_instant_for_machines():
    with translation.override("en"):
        html = moment(WINTER)

    assert html == '<time datetime="2026-12-01T15:10:00+02:00">1 December 2026, 15:10 EET</time>'
