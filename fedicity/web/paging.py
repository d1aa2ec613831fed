"""Paging arguments of collections and lists: one cursor parser, a 400 for anything else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
_PAIR = re.compile(r"([0-9]{1,2})-([0-9]{1,18})")


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


def moment_cursor(moment: datetime, row_id: int) -> str:
    """The cursor of the page after a row of a list ordered by (moment, id) descending."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{seconds}.{fraction:06d}_{row_id}"


# Seconds since 1970 (negative for old remote dates), up to microseconds, then a row id.
_MOMENT = re.compile(r"(-?[0-9]{1,12}(?:\.[0-9]{1,6})?)_([0-9]{1,18})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment_cursor_arg(name: str = "before") -> tuple[datetime, int] | None:
    """The `name` query argument as a (moment, id) cursor (None when absent); a 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    matched = _MOMENT.fullmatch(raw)
    moment = None
    if matched is not None:
        # Decimal, not float: the moment must come back to the exact microsecond it was.
        micros = int(Decimal(matched[1]) * 1_000_000)
        try:
            moment = _EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            moment = None
    if matched is None or moment is None:
        raise Problem(
            400, f"{name} is a cursor taken from a previous page", extra={"reason": "bad_cursor"}
        )
    return moment, int(matched[2])
