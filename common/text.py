"""Text that a service writes and a resident reads: only characters that show as they are.

A service's name, a purpose or an account's label reach the consent screen, where
the resident decides on what they read. A control or formatting character can
make that reading wrong: after U+202E (right-to-left override) a text shows in
reverse, a zero-width space makes two names that look alike differ, a line or
paragraph separator breaks a line where a page shows none. So texts refuse the
Unicode categories Cc (controls), Cf (formatting), Zl and Zp (line and paragraph
separators) and Cs (a lone surrogate, which is no character at all), with the
code `unprintable_character`. The API's input fields take them through
`common.api.ReadableText`.

A text of sentences (a description, a purpose) may hold a line feed: it is how
a provider writes paragraphs, it hides and reorders nothing, and a page shows it
as a space. A name or a label is one line, and takes none. A carriage return or
a tab is refused everywhere: a line feed is the one break a text needs.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unprintable_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` that a reader would not see as it is, or None."""
    allowed = "\n" if multiline else ""
    return next(
        (
            char
            for char in value
            if char not in allowed and unicodedata.category(char) in UNPRINTABLE_CATEGORIES
        ),
        None,
    )


def _refuse_unprintable(value: str, *, multiline: bool) -> None:
    char = unprintable_character(value, multiline=multiline)
    if char is not None:
        raise ValidationError(
            _(
                "The text holds %(character)s, a control or formatting character that "
                "would change how it is shown."
            ),
            code="unprintable_character",
            params={"character": f"U+{ord(char):04X}"},
        )


def validate_line(value: str) -> None:
    """A name or a label: one line of characters that show as they are."""
    _refuse_unprintable(value, multiline=False)


def validate_paragraphs(value: str) -> None:
    """A description or a purpose: as a line, and line feeds between paragraphs."""
    _refuse_unprintable(value, multiline=True)
