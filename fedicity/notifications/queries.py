"""SQL for notifications."""

from __future__ import annotations

from datetime import datetime

from fedicity.db.pool import Connection, record_dict
from fedicity.located.queries import viewer_hides
from fedicity.notifications.models import Notification

_COLUMNS = "id, recipient_id, kind, actor_uri, object_uri, created_at, read_at"


def _silenced(recipient: str, actor: str) -> str:
    """SQL true when the recipient (an actor row id) blocks the actor or its domain, or mutes it
    with its notifications (migration 0022): such notifications are neither made nor shown."""
    return viewer_hides(recipient, actor, notifications=True)


async def insert_notification(
    conn: Connection,
    *,
    recipient_id: int,
    kind: str,
    actor_uri: str,
    object_uri: str,
    now: datetime,
) -> bool:
    """Record a notification once; whether it was new."""
    row_id = await conn.fetchval(
        f"""INSERT INTO notifications (recipient_id, kind, actor_uri, object_uri, created_at)
            SELECT $1, $2, $3, $4, $5 WHERE NOT {_silenced("$1::bigint", "$3::text")}
            ON CONFLICT DO NOTHING RETURNING id""",
        recipient_id,
        kind,
        actor_uri,
        object_uri,
        now,
    )
    return row_id is not None


async def select_page(
    conn: Connection, recipient_id: int, *, limit: int, before_id: int | None = None
) -> list[Notification]:
    """A recipient's notifications, newest first, those older than `before_id` when given."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM notifications
             WHERE recipient_id = $1 AND ($2::bigint IS NULL OR id < $2)
               AND NOT {_silenced("$1", "actor_uri")}
             ORDER BY id DESC LIMIT $3""",
        recipient_id,
        before_id,
        limit,
    )
    return [Notification(**record_dict(row)) for row in rows]


async def count_unread(conn: Connection, recipient_id: int) -> int:
    """How many notifications the recipient has not seen."""
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM notifications
             WHERE recipient_id = $1 AND read_at IS NULL
               AND NOT {_silenced("$1", "actor_uri")}""",
        recipient_id,
    )
    return count


async def mark_read(conn: Connection, recipient_id: int, ids: list[int], now: datetime) -> int:
    """Mark these notifications of the recipient read; how many were unread."""
    result = await conn.execute(
        """UPDATE notifications SET read_at = $3
            WHERE recipient_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL""",
        recipient_id,
        ids,
        now,
    )
    return int(result.rsplit(" ", 1)[-1])
