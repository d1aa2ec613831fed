"""SQL for the content policies: their settings, their decisions, held inbox rows, and when
actors were first seen (the queries.py of the content policies, kept apart from the domain
policies' own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.moderation.content import POLICIES, Decision, PolicyConfig, default_config


@dataclass(frozen=True)
class StoredDecision:
    """A decision as recorded, with where a hold stands."""

    id: int
    decided_at: datetime
    policy: str
    decision: str
    reason: str
    activity_uri: str
    activity_type: str
    actor_uri: str
    object_uri: str | None
    excerpt: str
    inbox_item_id: int | None
    hold_state: str | None
    resolved_at: datetime | None
    resolved_by: str | None


_DECISION_COLUMNS = """id, decided_at, policy, decision, reason, activity_uri, activity_type,
                       actor_uri, object_uri, excerpt, inbox_item_id, hold_state, resolved_at,
                       resolved_by"""


def _config(row: Any) -> PolicyConfig:
    fields = record_dict(row)
    fields["terms"] = tuple(fields["terms"])
    return PolicyConfig(**fields)


async def select_configs(conn: Connection) -> dict[str, PolicyConfig]:
    """Every policy's settings, by name (the defaults of those no admin has set)."""
    rows = await conn.fetch(
        """SELECT name, enabled, action, terms, amount, updated_at, updated_by
             FROM content_policies"""
    )
    stored = {row["name"]: _config(row) for row in rows}
    return {name: stored.get(name) or default_config(name) for name in POLICIES}


async def save_config(conn: Connection, config: PolicyConfig) -> None:
    """Write one policy's settings."""
    await conn.execute(
        """INSERT INTO content_policies (name, enabled, action, terms, amount, updated_at,
                                         updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (name) DO UPDATE SET
               enabled = EXCLUDED.enabled, action = EXCLUDED.action, terms = EXCLUDED.terms,
               amount = EXCLUDED.amount, updated_at = EXCLUDED.updated_at,
               updated_by = EXCLUDED.updated_by""",
        config.name,
        config.enabled,
        config.action,
        list(config.terms),
        config.amount,
        config.updated_at,
        config.updated_by,
    )


async def first_seen(
    conn: Connection, actor_uri: str, *, now: datetime
) -> tuple[datetime, str | None]:
    """When the actor was first seen (now, or when its document was fetched, if this is the
    first time), remembered; and its document's type when we keep it."""
    row = await conn.fetchrow(
        """WITH known AS (SELECT type, fetched_at FROM remote_actors WHERE uri = $1),
                seen AS (
                    INSERT INTO content_actors_seen (actor_uri, first_seen_at)
                    SELECT $1, least($2::timestamptz, (SELECT fetched_at FROM known))
                    ON CONFLICT (actor_uri) DO NOTHING
                    RETURNING first_seen_at)
           SELECT coalesce((SELECT first_seen_at FROM seen),
                           (SELECT first_seen_at FROM content_actors_seen
                             WHERE actor_uri = $1),
                           -- another worker inserted it after this statement's snapshot:
                           -- it is as new as this row says
                           least($2::timestamptz, (SELECT fetched_at FROM known))
                          ) AS first_seen_at,
                  (SELECT type FROM known) AS type""",
        actor_uri,
        now,
    )
    assert row is not None
    return row["first_seen_at"], row["type"]


async def insert_decision(
    conn: Connection,
    decision: Decision,
    *,
    activity_uri: str,
    activity_type: str,
    actor_uri: str,
    object_uri: str | None,
    inbox_item_id: int | None,
    now: datetime,
) -> int:
    """Record one decision (a hold starts 'held')."""
    decision_id: int = await conn.fetchval(
        """INSERT INTO content_decisions (decided_at, policy, decision, reason, activity_uri,
                                          activity_type, actor_uri, object_uri, excerpt,
                                          inbox_item_id, hold_state)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                   CASE WHEN $3 = 'hold' THEN 'held' END)
           RETURNING id""",
        now,
        decision.policy,
        decision.verdict,
        decision.reason[:1000],
        activity_uri[:2048],
        activity_type[:100],
        actor_uri[:2048],
        None if object_uri is None else object_uri[:2048],
        decision.excerpt,
        inbox_item_id,
    )
    return decision_id


async def select_decisions(
    conn: Connection, *, limit: int, before_id: int | None = None, held_only: bool = False
) -> list[StoredDecision]:
    """Decisions newest first, older than `before_id` when given; only the waiting holds when
    `held_only`."""
    rows = await conn.fetch(
        f"""SELECT {_DECISION_COLUMNS} FROM content_decisions
             WHERE ($1::bigint IS NULL OR id < $1)
               AND (NOT $2 OR hold_state = 'held')
             ORDER BY id DESC LIMIT $3""",  # noqa: S608 -- the columns are ours
        before_id,
        held_only,
        limit,
    )
    return [StoredDecision(**record_dict(row)) for row in rows]


async def select_decision_for_update(conn: Connection, decision_id: int) -> StoredDecision | None:
    """One decision, locked until the transaction ends."""
    row = await conn.fetchrow(
        f"SELECT {_DECISION_COLUMNS} FROM content_decisions WHERE id = $1 FOR UPDATE",  # noqa: S608
        decision_id,
    )
    return None if row is None else StoredDecision(**record_dict(row))


async def was_released(conn: Connection, inbox_item_id: int) -> bool:
    """Whether an admin released a hold of this inbox row."""
    released: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM content_decisions
                           WHERE inbox_item_id = $1 AND hold_state = 'released')""",
        inbox_item_id,
    )
    return released


async def resolve_hold(
    conn: Connection, decision_id: int, *, state: str, by: str, now: datetime
) -> None:
    """Mark a hold released or rejected, by whom and when."""
    await conn.execute(
        """UPDATE content_decisions SET hold_state = $2, resolved_by = $3, resolved_at = $4
            WHERE id = $1""",
        decision_id,
        state,
        by[:200],
        now,
    )


async def hold_inbox_item(conn: Connection, item_id: int, *, detail: str) -> None:
    """Keep an inbox row out of the workers' way until an admin decides (no lease, never
    purged: it is not processed)."""
    await conn.execute(
        """UPDATE inbox_items SET state = 'held', last_error = $2, locked_until = NULL,
                                  attempts = attempts + 1
            WHERE id = $1""",
        item_id,
        detail[:1000],
    )


async def release_inbox_item(conn: Connection, item_id: int, *, now: datetime) -> bool:
    """Give a held row back to the workers, due now; False when it is not held."""
    updated = await conn.fetchval(
        """UPDATE inbox_items SET state = 'pending', next_attempt_at = $2, locked_until = NULL
            WHERE id = $1 AND state = 'held' RETURNING id""",
        item_id,
        now,
    )
    return updated is not None


async def refuse_held_inbox_item(
    conn: Connection, item_id: int, *, detail: str, raw: dict[str, Any], now: datetime
) -> bool:
    """End a held row ignored, keeping only `raw` (its skeleton); False when it is not held."""
    updated = await conn.fetchval(
        """UPDATE inbox_items SET state = 'ignored', last_error = $2, processed_at = $3,
                                  raw = $4, locked_until = NULL
            WHERE id = $1 AND state = 'held' RETURNING id""",
        item_id,
        detail[:1000],
        now,
        raw,
    )
    return updated is not None


async def select_inbox_raw(conn: Connection, item_id: int) -> dict[str, Any] | None:
    """A stored inbox row's activity."""
    raw: dict[str, Any] | None = await conn.fetchval(
        "SELECT raw FROM inbox_items WHERE id = $1", item_id
    )
    return raw


async def purge_decisions(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` decisions made before `before`, oldest first, except holds still
    waiting for an admin; how many went."""
    deleted: int = await conn.fetchval(
        """WITH old AS (
               SELECT id FROM content_decisions
                WHERE decided_at < $1 AND hold_state IS DISTINCT FROM 'held'
                ORDER BY id LIMIT $2),
           gone AS (DELETE FROM content_decisions d USING old WHERE d.id = old.id RETURNING 1)
           SELECT count(*) FROM gone""",
        before,
        limit,
    )
    return deleted
