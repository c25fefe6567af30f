"""Header values from peers, checked against RFC 9110's grammar before the operator keeps them.

A source's Content-Type is stored with its transfer and sent on to the sink:
a value that is no media type, or is longer than the column that keeps it,
would fail that write (PostgreSQL enforces the length; SQLite does not) after
the sink had the data, or carry a folded line into the sink's request.
"""

import re

# The longest Content-Type the operator keeps (Transfer.content_type) and relays.
MAX_CONTENT_TYPE_LENGTH = 200

# RFC 9110: a token (1*tchar, 5.6.2), quoted-string (5.6.4) without obs-text, OWS (5.6.3).
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED_STRING = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_OWS = r"[ \t]*"
# media-type = type "/" subtype parameters (8.3.1), parameters (5.6.6).
_MEDIA_TYPE = re.compile(
    rf"{_TCHARS}/{_TCHARS}(?:{_OWS};{_OWS}(?:{_TCHARS}=(?:{_TCHARS}|{_QUOTED_STRING}))?)*"
)


def media_type(value: str) -> str | None:
    """`value` as a Content-Type the operator may keep and pass on, or None if it is not one.

    One media type of RFC 9110's grammar, in printable ASCII, at most
    MAX_CONTENT_TYPE_LENGTH characters, without surrounding whitespace. Two
    Content-Type fields (which arrive joined by a comma) are not one.
    """
    value = value.strip(" \t")
    if len(value) > MAX_CONTENT_TYPE_LENGTH or not _MEDIA_TYPE.fullmatch(value):
        return None
    return value
