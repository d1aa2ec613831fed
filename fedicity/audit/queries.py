"""SQL for the audit log; connection first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fedicity.audit.models import ACTION, Actor, Entry
from fedicity.db.pool import Connection, Pool, record_dict

_COLUMNS = "id, created_at, account_id, actor_name, action, target, reason, details"
_MAX_TARGET = 2000
_MAX_REASON = 5000


async def record(
    conn: Connection,
    actor: Actor,
    action: str,
    *,
    target: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
    now: datetime,
) -> int:
    """Write one entry, in the caller's transaction so it stands or falls with the action."""
    if not ACTION.fullmatch(action):
        raise ValueError(f"not an audit action code: {action!r}")
    entry_id: int = await conn.fetchval(
        """INSERT INTO audit_log (created_at, account_id, actor_name, action, target, reason,
                                  details)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        now,
        actor.account_id,
        actor.name[:200] or "unknown",
        action,
        target[:_MAX_TARGET],
        reason[:_MAX_REASON],
        details or {},
    )
    return entry_id


async def select_page(
    conn: Connection, *, limit: int, before_id: int | None = None, action_prefix: str = ""
) -> list[Entry]:
    """Entries newest first, older than `before_id` when given, whose action starts with
    `action_prefix` (an area such as `domain.`) when given."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_log
             WHERE ($1::bigint IS NULL OR id < $1)
               AND ($2 = '' OR starts_with(action, $2))
             ORDER BY id DESC LIMIT $3""",
        before_id,
        action_prefix,
        limit,
    )
    return [Entry(**record_dict(row)) for row in rows]


async def iterate(pool: Pool, *, batch: int = 500) -> AsyncIterator[Entry]:
    """Every entry, oldest first, a batch at a time, each on a connection of its own: a slow
    download holds none between batches (entries are never changed, so no snapshot is needed)."""
    after = 0
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
                after,
                batch,
            )
        for row in rows:
            yield Entry(**record_dict(row))
        if len(rows) < batch:
            return
        after = rows[-1]["id"]
