"""Putting a verified activity in the mailbox, within bounds.

What nothing here handles is kept only as its skeleton (id, type, actor, object), already
'ignored': the id still answers a resent copy as a duplicate, and no one can fill the database
with bodies we never read. What is handled waits as a pending row, unless the domain that signed
it already has `pending_cap` rows waiting: then the sender is told to come back later (429),
which Mastodon does, so nothing is lost while one domain cannot crowd out the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import get_id, get_type, host_of
from fedicity.db.pool import Connection
from fedicity.inbound import queries

# Longer values are dropped from a skeleton: ids are bounded by the inbox only for the activity.
_MAX_SKELETON_VALUE = 2048


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
    pending_cap: int,
    handled: bool,
) -> Stored | Busy:
    """Store a verified activity once: a skeleton when nothing handles it (`handled`, as the
    workers' router says), else a pending row."""
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
        cap=pending_cap,
    )
    return Busy(origin, waiting) if waiting >= pending_cap else Stored(new)
