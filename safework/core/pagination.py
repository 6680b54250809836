"""limit/offset pagination with a total count, the one list shape of the API."""

from typing import Generic, TypeVar

from ninja import Field, Schema

T = TypeVar("T")
MAX_LIMIT = 500


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=2**62)


class Page(Schema, Generic[T]):
    total: int
    limit: int
    offset: int
    items: list[T]


def paginate(qs, params: PageParams, *, transform=None) -> dict:
    """{"total", "limit", "offset", "items"}; `transform` maps each object to its output."""
    total = qs.count()
    rows = list(qs[params.offset : params.offset + params.limit])
    items = [transform(r) for r in rows] if transform else rows
    return {"total": total, "limit": params.limit, "offset": params.offset, "items": items}
