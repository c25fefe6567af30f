"""The audit lists as CSV files (RFC 4180, UTF-8), safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable, Sequence

from django.http import HttpResponse

# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's "CSV
# injection"), and a service's name is whatever its provider typed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """The value as a spreadsheet will show it, never run it: text that would start a
    formula gets a leading apostrophe. Numbers are left alone, negative ones too."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return response
