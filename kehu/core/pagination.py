"""Limit/offset pages for list endpoints: one shape for every list in the API."""

from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from ninja import Field, Schema

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class PageParams(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="每页条数（1–200）")
    offset: int = Field(0, ge=0, description="跳过的条数")


class Page(Schema, Generic[T]):
    """`count` is exact up to a cap; past it `count_exact` is false (say "10,000+")."""

    items: list[T]
    count: int
    count_exact: bool
    limit: int
    offset: int


def page_of(queryset: QuerySet[M], params: PageParams, counted: tuple[int, bool]) -> dict[str, Any]:
    """One page of an ordered queryset; `counted` is (count, exact) from a capped count."""
    count, exact = counted
    items = list(queryset[params.offset : params.offset + params.limit])
    return {
        "items": items,
        "count": count,
        "count_exact": exact,
        "limit": params.limit,
        "offset": params.offset,
    }
