"""Paging arguments of collections and lists: one cursor parser, a 400 for anything else."""

from __future__ import annotations

from quart import request

from fedicity.activitypub.collections import BadCursor, parse_cursor
from fedicity.web.errors import Problem


def cursor_arg(name: str = "cursor") -> int | None:
    """The `name` query argument as a cursor (None when absent); a 400 for anything else."""
    cursor = parse_cursor(request.args.get(name))
    if isinstance(cursor, BadCursor):
        raise Problem(400, f"{name}: {cursor.detail}", extra={"reason": "bad_cursor"})
    return cursor
