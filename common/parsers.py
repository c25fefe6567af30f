"""The API's request parser: JSON only, within common.jsonlimits' bounds.

A module of its own: DRF imports the parser named in its settings while its own
modules load, and common.api imports those.
"""

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, parsers

from common import jsonlimits


class JSONParseError(exceptions.ParseError):
    """A body the JSON parser refused, with its code: `malformed_json` or `invalid_json`."""

    def __init__(self, refused: jsonlimits.JSONRefused) -> None:
        super().__init__(refused.message)
        self.error_code = refused.code


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, parsing through common.jsonlimits: bounded depth and size.

    JSON is UTF-8 (RFC 8259), whatever charset a Content-Type names.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.OMADATA_MAX_REQUEST_BYTES
        try:
            return jsonlimits.loads(stream.read(limit + 1), max_bytes=limit)
        except jsonlimits.JSONRefused as refused:
            raise JSONParseError(refused) from None
