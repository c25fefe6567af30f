"""Texts that residents read take only characters that show as they are (common/text.py)."""

import pytest
from django.core.exceptions import ValidationError

from common.text import validate_line, validate_paragraphs

UNPRINTABLE = {
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "escape": "\x1b",
    "carriage return": "\r",
    "tab": "\t",
    "next line (C1)": "\x85",
    "delete": "\x7f",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
}


@pytest.mark.parametrize("char", UNPRINTABLE.values(), ids=UNPRINTABLE)
@pytest.mark.parametrize("validate", [validate_line, validate_paragraphs])
def test_a_control_or_formatting_character_is_refused(validate, char):
    with pytest.raises(ValidationError) as refused:
        validate(f"Espoo{char} wellbeing")

    assert refused.value.code == "unprintable_character"
    assert f"U+{ord(char):04X}" in refused.value.messages[0]


def test_a_line_feed_is_refused_in_a_line():
    with pytest.raises(ValidationError):
        validate_line("Espoo\nwellbeing")


def test_a_line_feed_between_paragraphs_is_taken():
    validate_paragraphs("Askel counts steps.\n\nIt keeps them for a year.")


@pytest.mark.parametrize(
    "text",
    ["Hyvinvointi \u2013 Välmående", "Åbo Akademi", "מים", "حساب", "名前", "👍 ok", "e\u0301"],
    ids=["dash", "swedish", "hebrew", "arabic", "cjk", "emoji", "combining accent"],
)
def test_letters_of_any_script_are_taken(text):
    validate_line(text)
