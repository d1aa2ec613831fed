"""Named limits (so many events per window) checked against the shared counters."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from fedicity.db.pool import Connection
from fedicity.ratelimit import queries

# Subjects longer than this are hashed, so keys stay short and typed text is not stored.
_MAX_SUBJECT = 100


@dataclass(frozen=True)
class Limit:
    """At most `limit` events per `window` for one subject; `name` keeps limits apart."""

    name: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class Verdict:
    """Whether an event may go ahead, and if not, in how many seconds to try again."""

    allowed: bool
    count: int
    retry_after: int = 0


def key(limit: Limit, subject: str) -> str:
    """The counter's key for a subject under a limit."""
    if len(subject) > _MAX_SUBJECT or not subject.isprintable():
        subject = "sha256:" + hashlib.sha256(subject.encode()).hexdigest()
    return f"{limit.name}:{subject}"


def _seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


async def hit(conn: Connection, limit: Limit, subject: str, now: datetime) -> Verdict:
    """Count one event; refused once the window's count passes the limit."""
    count, expires_at = await queries.hit(conn, key(limit, subject), now, now + limit.window)
    if count <= limit.limit:
        return Verdict(True, count)
    return Verdict(False, count, _seconds_until(expires_at, now))


async def peek(conn: Connection, limit: Limit, subject: str, now: datetime) -> Verdict:
    """Whether one more event would be within the limit, counting nothing."""
    count, expires_at = await queries.current(conn, key(limit, subject), now)
    if count < limit.limit or expires_at is None:
        return Verdict(True, count)
    return Verdict(False, count, _seconds_until(expires_at, now))


async def prune(conn: Connection, now: datetime, *, batch: int = 1000) -> int:
    """Forget counters whose window ended (a later hit would have reset them anyway)."""
    return await queries.delete_expired(conn, now, batch)
