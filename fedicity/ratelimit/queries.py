"""SQL for rate-limit counters; connection first."""

from __future__ import annotations

from datetime import datetime

from fedicity.db.pool import Connection

# Refused attempts keep counting; the cap only keeps a flood from overflowing the column.
COUNT_CAP = 1_000_000


async def hit(
    conn: Connection, key: str, now: datetime, expires_at: datetime
) -> tuple[int, datetime]:
    """Count one event under `key` (a new window starts when the last one ended): the count in
    the current window and when that window ends."""
    row = await conn.fetchrow(
        """INSERT INTO rate_limits AS r (key, window_start, expires_at, count)
           VALUES ($1, $2, $3, 1)
           ON CONFLICT (key) DO UPDATE SET
               window_start = CASE WHEN r.expires_at <= $2 THEN $2 ELSE r.window_start END,
               expires_at = CASE WHEN r.expires_at <= $2 THEN $3 ELSE r.expires_at END,
               count = CASE WHEN r.expires_at <= $2 THEN 1 ELSE least(r.count + 1, $4) END
           RETURNING count, expires_at""",
        key,
        now,
        expires_at,
        COUNT_CAP,
    )
    assert row is not None
    return row["count"], row["expires_at"]


async def current(conn: Connection, key: str, now: datetime) -> tuple[int, datetime | None]:
    """The count under `key` in a window that has not ended yet (0 and None when none)."""
    row = await conn.fetchrow(
        "SELECT count, expires_at FROM rate_limits WHERE key = $1 AND expires_at > $2", key, now
    )
    return (0, None) if row is None else (row["count"], row["expires_at"])


async def delete_expired(conn: Connection, now: datetime, batch: int) -> int:
    """Remove up to `batch` counters whose window ended; how many went."""
    result: str = await conn.execute(
        """DELETE FROM rate_limits WHERE key IN (
               SELECT key FROM rate_limits WHERE expires_at <= $1 LIMIT $2)""",
        now,
        batch,
    )
    return int(result.split()[-1])
