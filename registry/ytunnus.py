"""The Finnish business ID (Y-tunnus): seven digits, a hyphen, a check digit."""

import re

# ASCII digits only (\d takes any script's), and \Z, since $ also matches before a final newline.
_FORMAT = re.compile(r"^([0-9]{7})-([0-9])\Z")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def is_valid_business_id(value: str) -> bool:
    match = _FORMAT.match(value)
    if not match:
        return False
    remainder = sum(int(d) * w for d, w in zip(match[1], _WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return False  # no ID is issued with this remainder
    expected = 0 if remainder == 0 else 11 - remainder
    return int(match[2]) == expected
