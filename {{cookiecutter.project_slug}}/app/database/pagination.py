"""Keyset pagination: a page starts after an id instead of skipping rows, so the last page costs the database what
the first one does.

With OFFSET, MySQL reads and throws away every row before the page: a request for a deep page scans the table, and
anyone can send it again and again. A page here is "id > after_id ORDER BY id LIMIT n", one range read of the primary
key, however far into the table it starts. Clients follow next_after_id from page to page; rows written meanwhile are
neither skipped nor repeated, which offsets cannot promise either.
"""

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from app.database.constant import MAX_ID

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# The two query parameters of every list route.
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
AfterId = Annotated[
    int,
    Query(ge=0, le=MAX_ID, description="Items with a greater id than this: 0 for the first page, then next_after_id."),
]


class Page[ItemT](BaseModel):
    """One page of a list, in id order."""

    items: list[ItemT]
    next_after_id: int | None = Field(description="after_id of the next page; null on the last page.")


def keyset_page[SelectT](
    statement: Select[SelectT], id_column: InstrumentedAttribute[int], limit: int, after_id: int
) -> Select[SelectT]:
    """The statement for the page after after_id: one row more than limit, which only tells whether another follows."""
    return statement.where(id_column > after_id).order_by(id_column).limit(limit + 1)


def page_of(rows: Sequence[Any], limit: int) -> dict[str, Any]:
    """The body of a Page from the rows keyset_page read (up to limit + 1)."""
    items = list(rows[:limit])
    return {"items": items, "next_after_id": items[-1].id if len(rows) > limit else None}
