"""JSON from outside the operator, parsed within bounds.

Python's json module descends one level of the interpreter's stack for each
level of nesting: a body of 2,000 brackets raises RecursionError (an error of
the operator's own, a 500) before any validation sees it, and values the
database cannot hold (a lone surrogate, infinity) would fail later, in the
middle of a transaction. Every parser of JSON that a service, a browser or a
token brings goes through `loads`: the API's parser (`common.api.JSONParser`)
and the header and payload of a JWS (`ledger.jws`). The demo services import no
operator code; `demo/web.py` keeps their own copy of the depth rule.

Two codes, as the API answers them:

- `malformed_json`: the text is not JSON (a syntax error, invalid UTF-8, `NaN`);
- `invalid_json`: it is JSON, but beyond what the operator takes: nested deeper
  than MAX_DEPTH, longer than the caller's size limit, a number longer than
  MAX_NUMBER_LENGTH or past a float's range, a string that is not Unicode
  text (an unpaired surrogate escape such as `"\\ud800"`), or a string that
  holds U+0000, which no PostgreSQL text or jsonb can keep.
"""

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

# Nothing the operator takes is nested half this deep (a service description
# is three levels, a JWK set four), and a walk over 32 levels is cheap.
MAX_DEPTH = 32
# A number the operator stores has at most 20 digits; 100 characters leave
# room for any float written out in full.
MAX_NUMBER_LENGTH = 100

# One step of the depth scan: a whole string (an unterminated one runs to the
# end, so that the scan never backtracks), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
# An escape of a UTF-16 surrogate: only then can a string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class JSONRefused(ValueError):
    code: str  # "malformed_json" or "invalid_json"
    message: str

    def __str__(self) -> str:
        return self.message


def loads(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `data` (UTF-8 when bytes), or raise JSONRefused with the reason."""
    size = len(data) if isinstance(data, bytes) else len(data.encode(errors="surrogatepass"))
    if size > max_bytes:
        raise JSONRefused(
            "invalid_json", _("The JSON is longer than %(limit)d bytes.") % {"limit": max_bytes}
        )
    try:
        text = data.decode() if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JSONRefused("malformed_json", _("The body is not UTF-8.")) from None
    if _deeper_than(text, max_depth):
        raise JSONRefused(
            "invalid_json",
            _("The JSON is nested deeper than %(limit)d levels.") % {"limit": max_depth},
        )
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_integer, parse_float=_float
        )
    except JSONRefused:
        raise
    except ValueError:
        raise JSONRefused("malformed_json", _("The body is not valid JSON.")) from None
    if _SURROGATE_ESCAPE.search(text) and not _is_unicode(value):
        raise JSONRefused("invalid_json", _("A string in the JSON is not Unicode text."))
    if "\\u0000" in text and _holds_nul(value):
        raise JSONRefused("invalid_json", _("A string in the JSON holds a NUL character."))
    return value


def _deeper_than(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit` in `text`.

    Linear in the length of the text; most texts have too few brackets in all
    to be that deep, and are not scanned.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # read as malformed_json


def _number_too_long() -> JSONRefused:
    return JSONRefused(
        "invalid_json",
        _("A number in the JSON is longer than %(limit)d characters.")
        % {"limit": MAX_NUMBER_LENGTH},
    )


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _number_too_long()
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _number_too_long()
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused("invalid_json", _("A number in the JSON is out of range."))
    return value


def _holds_nul(value: Any) -> bool:
    """Whether a string in the parsed `value`, or a key, holds U+0000 (no PostgreSQL text can)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _is_unicode(value: Any) -> bool:
    """Whether every string in the parsed `value` encodes as UTF-8 (no lone surrogates)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True
