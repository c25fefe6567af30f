"""Pages of a list: every list endpoint takes `limit` and `offset`, within bounds.

DRF's LimitOffsetPagination takes any limit and reads a malformed one as the
default: `?limit=100000` made one request serialise a whole table. Here `limit`
is 1 to OMADATA_PAGE_MAX_LIMIT and `offset` 0 or more; anything else is a 400
naming the field (clamping would hand a client fewer rows than it asked for,
with no word of why). An offset past the end is an empty page: the database is
never asked for it.
"""

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class PageInput(serializers.Serializer):
    """The query parameters of a page, for validation and for the OpenAPI document."""

    offset = serializers.IntegerField(
        required=False, min_value=0, help_text="items to skip before the page"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The maximum is a setting: read for each request, not once at import.
        self.fields["limit"] = serializers.IntegerField(
            required=False, min_value=1, max_value=settings.OMADATA_PAGE_MAX_LIMIT,
            help_text="items on the page: 50 unless given, at most OMADATA_PAGE_MAX_LIMIT",
        )  # fmt: skip


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """LimitOffsetPagination whose `limit` and `offset` are validated, not guessed."""

    def get_limit(self, request: Request) -> int:
        return int(_page(request).get("limit", self._default_limit()))

    def get_offset(self, request: Request) -> int:
        return int(_page(request).get("offset", 0))

    def _default_limit(self) -> int:
        # default_limit is REST_FRAMEWORK's PAGE_SIZE, kept within the maximum.
        return min(self.default_limit or 1, settings.OMADATA_PAGE_MAX_LIMIT)


def _page(request: Request) -> dict[str, Any]:
    page = PageInput(data=request.query_params)
    page.is_valid(raise_exception=True)
    return dict(page.validated_data)


class PageOutput(serializers.Serializer):
    """The envelope of every page: its items in `results`. Subclassed per item type."""

    count = serializers.IntegerField(help_text="items in the whole list")
    next = serializers.URLField(allow_null=True, help_text="the next page, if any")
    previous = serializers.URLField(allow_null=True, help_text="the previous page, if any")


def page_of(item: type[serializers.Serializer]) -> type[PageOutput]:
    """The OpenAPI shape of a page of `item`s."""
    name = item.__name__.removesuffix("Output")
    return type(f"{name}PageOutput", (PageOutput,), {"results": item(many=True)})
