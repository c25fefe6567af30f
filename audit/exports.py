"""The audit lists as CSV files, written row by row as they are sent."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

# A spreadsheet takes a cell that starts with one of these for a formula (OWASP's
# "CSV injection"), and a service's name is whatever its provider typed.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The value as a cell that a spreadsheet shows and never runs: one that a spreadsheet
    would take for a formula gets an apostrophe before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Lines:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def csv_response(
    *, filename: str, columns: list[str], rows: Iterable[Iterable[object]]
) -> StreamingHttpResponse:
    """A CSV attachment, sent as its rows are made: a long list is never held whole."""
    writer = csv.writer(_Lines())

    def lines() -> Iterator[str]:
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
