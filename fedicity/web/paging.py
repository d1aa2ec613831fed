"""Paging arguments of collections and lists: one cursor parser, a 400 for anything else."""

from __future__ import annotations

import re

from quart import request

from fedicity.activitypub.collections import BadCursor, parse_cursor
from fedicity.web.errors import Problem


def cursor_arg(name: str = "cursor") -> int | None:
    """The `name` query argument as a cursor (None when absent); a 400 for anything else."""
    cursor = parse_cursor(request.args.get(name))
    if isinstance(cursor, BadCursor):
        raise Problem(400, f"{name}: {cursor.detail}", extra={"reason": "bad_cursor"})
    return cursor


PAGE_SIZE = 20
# A keyset cursor of two small non-negative integers ("rank-id"): anything else is refused.
_PAIR = re.compile(r"(\d{1,2})-(\d{1,18})")


def pair_cursor_arg(name: str = "after") -> tuple[int, int] | None:
    """The `name` query argument as a (rank, id) cursor (None when absent); a 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    matched = _PAIR.fullmatch(raw)
    if matched is None:
        raise Problem(400, f"{name}: not a page cursor", extra={"reason": "bad_cursor"})
    return int(matched[1]), int(matched[2])


def pair_cursor(rank: int, row_id: int) -> str:
    """The cursor of the page that follows a row."""
    return f"{rank}-{row_id}"
