"""Recording notifications, called by the packages where the things notified happen."""

from __future__ import annotations

from fedicity.actors.service import local_actor_for_uri
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.notifications import queries
from fedicity.notifications.models import Kind
from fedicity.urls import Urls


async def notify(
    conn: Connection,
    *,
    recipient: str,
    kind: Kind,
    actor_uri: str,
    object_uri: str,
    urls: Urls,
    clock: Clock,
) -> bool:
    """Tell the local actor `recipient` (an actor id) that `actor_uri` did `kind` about
    `object_uri`; whether a notification was added (not for remote recipients, nor for what
    people do to themselves, nor twice for the same thing)."""
    if recipient == actor_uri:
        return False
    target = await local_actor_for_uri(conn, urls, recipient)
    if target is None:
        return False
    return await queries.insert_notification(
        conn,
        recipient_id=target.id,
        kind=kind,
        actor_uri=actor_uri,
        object_uri=object_uri,
        now=clock.now(),
    )
