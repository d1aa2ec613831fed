"""Putting a verified activity in the mailbox, within bounds.

What nothing here handles is kept only as its skeleton (id, type, actor, object), already
'ignored': the id still answers a resent copy as a duplicate, and no one can fill the database
with bodies we never read. What is handled waits as a pending row, unless the domain that signed
it already has `pending_cap` rows waiting: then the sender is told to come back later (429),
which Mastodon does, so nothing is lost while one domain cannot crowd out the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import get_id, get_type, host_of
from fedicity.db.pool import Connection
from fedicity.inbound import queries

# Longer values are dropped from a skeleton: ids are bounded by the inbox only for the activity.
_MAX_SKELETON_VALUE = 2048


class CapWatch:
    """How much room below the cap each domain had at its last count (one process's memory).

    Counting a domain's waiting rows reads up to `cap` index entries: the largest cost of a POST
    from a busy domain. After a count, the room left is spent by this process's next POSTs
    without counting again, for `every` seconds at most. The cap can still be passed by what
    was in flight while a count ran (at most the inbox pool's connections in this process) and
    by what other web processes store for the same domain in that second, as concurrent counts
    could before; the next count refuses again. It is a bound on a queue, not an exact figure.
    """

    def __init__(
        self,
        cap: int,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_domains: int = 10_000,
    ) -> None:
        self.cap = cap
        self._every = every
        self._clock = clock
        self._max = max_domains
        self._room: dict[str, tuple[float, int]] = {}

    def take(self, origin: str) -> bool:
        """Take one place below the cap known to be free; False when the rows must be counted."""
        entry = self._room.get(origin)
        if entry is None or entry[1] <= 0 or self._clock() - entry[0] >= self._every:
            return False
        self._room[origin] = (entry[0], entry[1] - 1)
        return True

    def counted(self, origin: str, waiting: int) -> None:
        """Remember a count: `waiting` rows, the POST that counted them included if stored."""
        self._room.pop(origin, None)
        if waiting >= self.cap:
            return
        if len(self._room) >= self._max:
            self._room.pop(next(iter(self._room)))
        self._room[origin] = (self._clock(), self.cap - waiting)


@dataclass(frozen=True)
class Stored:
    """The activity is in the mailbox; `new` is False for a duplicate."""

    new: bool


@dataclass(frozen=True)
class Busy:
    """The signing domain already has too many activities waiting here."""

    origin_host: str
    pending: int


def skeleton(activity: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of an activity once it needs no processing: its id, type, actor, object."""
    parts = {
        "id": activity.get("id"),
        "type": get_type(activity),
        "actor": get_id(activity.get("actor")),
        "object": get_id(activity.get("object")),
    }
    return {
        name: value
        for name, value in parts.items()
        if isinstance(value, str) and len(value) <= _MAX_SKELETON_VALUE
    }


async def receive(
    conn: Connection,
    *,
    activity: dict[str, Any],
    activity_uri: str,
    actor_uri: str,
    type: str,
    key_id: str,
    recipient: str | None,
    now: datetime,
    cap: CapWatch,
    handled: bool,
) -> Stored | Busy:
    """Store a verified activity once: a skeleton when nothing handles it (`handled`, as the
    workers' router says), else a pending row, unless its domain has `cap.cap` rows waiting."""
    origin = host_of(key_id)
    if not handled:
        new = await queries.insert_inbox_item(
            conn,
            activity_uri=activity_uri,
            actor_uri=actor_uri,
            type=type,
            recipient=recipient,
            raw=skeleton(activity),
            key_id=key_id,
            now=now,
            origin_host=origin,
            ignored=f"no handler for {type}",
        )
        return Stored(new)
    # Counted unless a recent count left room (CapWatch).
    counting = not cap.take(origin)
    new, waiting = await queries.insert_pending_within(
        conn,
        activity_uri=activity_uri,
        actor_uri=actor_uri,
        type=type,
        recipient=recipient,
        raw=activity,
        key_id=key_id,
        now=now,
        origin_host=origin,
        cap=cap.cap if counting else None,
    )
    if waiting is None:
        return Stored(new)
    cap.counted(origin, waiting + 1 if new else waiting)
    return Busy(origin, waiting) if waiting >= cap.cap else Stored(new)
