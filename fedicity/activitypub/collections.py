"""OrderedCollection and OrderedCollectionPage documents, paged by an opaque cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fedicity.activitypub.vocab import AS_CONTEXT

PAGE_SIZE = 20


def collection(collection_id: str, total: int, *, first: bool = True) -> dict[str, Any]:
    """The collection itself: its size and, when members are visible, where the first page is."""
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first:
        document["first"] = page_url(collection_id, None)
    return document


def page_url(collection_id: str, cursor: str | None) -> str:
    """The URL of a page: ?page=true for the first, with the cursor after that."""
    query: dict[str, str] = {"page": "true"}
    if cursor is not None:
        query["cursor"] = cursor
    return f"{collection_id}?{urlencode(query)}"


def page(
    collection_id: str,
    items: list[Any],
    *,
    cursor: str | None,
    next_cursor: str | None,
    total: int | None = None,
) -> dict[str, Any]:
    """One page of members; `next_cursor` None on the last page."""
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": page_url(collection_id, cursor),
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if total is not None:
        document["totalItems"] = total
    if next_cursor is not None:
        document["next"] = page_url(collection_id, next_cursor)
    return document


# A cursor is a bigint row id: 18 digits always fit, and int() never sees a long text.
MAX_CURSOR_DIGITS = 18


@dataclass(frozen=True)
class BadCursor:
    """A cursor we never minted; the detail can go in a 400."""

    detail: str


def parse_cursor(raw: str | None) -> int | BadCursor | None:
    """The row id a cursor names; None when absent; BadCursor for anything else.

    Only ASCII digits: str.isdigit() also admits '²' and other digits int() refuses (a 500), and
    a '-1', '1e3' or 20-digit value is no cursor we ever gave out.
    """
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_CURSOR_DIGITS):
        return BadCursor(f"a cursor is a number of at most {MAX_CURSOR_DIGITS} digits")
    return int(raw)
