"""SQL for the inbox mailbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fedicity.db.pool import Connection, record_dict


@dataclass(frozen=True)
class InboxItem:
    """A stored inbound activity awaiting (or done with) processing."""

    id: int
    activity_uri: str
    actor_uri: str
    type: str
    recipient: str | None
    raw: dict[str, Any]
    key_id: str
    attempts: int
    # Read with the claim, so a row needs no statement of its own for them: the actor's
    # restriction here ('silence', 'suspend' or None); when the content policies first saw the
    # actor (None: not yet; once recorded it never changes), and its type if we keep it.
    restriction: str | None = None
    first_seen_at: datetime | None = None
    actor_type: str | None = None


@dataclass(frozen=True)
class Sender:
    """What an inbox POST asks about its sender, read in one statement: the domain policy's
    action for each domain (None: no policy), the cached key's owner and PEM (None: not
    cached), and the restriction of the activity's actor ('silence', 'suspend' or None)."""

    key_id: str
    actor_uri: str | None
    actions: dict[str, str | None]
    key_owner: str | None
    key_pem: str | None
    restriction: str | None


async def select_sender(
    conn: Connection, *, domains: Sequence[str], key_id: str, actor_uri: str | None
) -> Sender:
    """The policy actions of `domains`, the key `key_id` if cached, and `actor_uri`'s
    restriction (none without one): the gate, the key and the suspension of one POST, or the
    gate and the key of one signed fetch, in one round trip."""
    # The most specific policy naming a domain or a parent, as domain_policy_action (migration
    # 0020) finds it, but with the suffixes made here: that SQL function is planned again on
    # every call, which cost more than the three statements this one replaces.
    suffixes = {domain: _suffixes(domain) for domain in domains}
    row = await conn.fetchrow(
        """SELECT ARRAY(SELECT ROW(domain, action) FROM domain_policies
                         WHERE domain = ANY ($1::text[])) AS policies,
                  key.uri, key.public_key_pem,
                  (SELECT level FROM actor_restrictions WHERE actor_uri = $3) AS restriction
             FROM (VALUES (1)) AS one
             LEFT JOIN LATERAL (
                  SELECT uri, public_key_pem FROM remote_actors
                   WHERE key_id = $2 AND deleted_at IS NULL AND public_key_pem IS NOT NULL
                   LIMIT 1) AS key ON true""",
        [suffix for found in suffixes.values() for suffix in found],
        key_id,
        actor_uri,
    )
    assert row is not None
    policies: dict[str, str] = dict(row["policies"])
    pem = row["public_key_pem"] or None
    return Sender(
        key_id=key_id,
        actor_uri=actor_uri,
        actions={
            domain: next((policies[s] for s in found if s in policies), None)
            for domain, found in suffixes.items()
        },
        key_owner=row["uri"] if pem else None,
        key_pem=pem,
        restriction=row["restriction"],
    )


_INSERTED_COLUMNS = """activity_uri, actor_uri, type, recipient, raw, key_id, received_at,
    next_attempt_at, origin_host, state, last_error, processed_at"""


def _waiting_from(host: str, limit: str) -> str:
    """SQL for the rows signed from the host parameter `host` that wait, to be processed or held
    for an admin (a wave of held spam counts against its server too), up to `limit` of each."""
    return f"""
    (SELECT count(*) FROM (SELECT 1 FROM inbox_items
                            WHERE state = 'pending' AND origin_host = {host} LIMIT {limit}) AS p)
  + (SELECT count(*) FROM (SELECT 1 FROM inbox_items
                            WHERE state = 'held' AND origin_host = {host} LIMIT {limit}) AS h)"""


def _suffixes(domain: str) -> list[str]:
    """A domain and its parents, the most specific first, as domain_suffixes (0020) makes them."""
    parts = domain.lower().split(".") if domain else []
    return [".".join(parts[i:]) for i in range(len(parts))]


async def insert_inbox_item(
    conn: Connection,
    *,
    activity_uri: str,
    actor_uri: str,
    type: str,
    recipient: str | None,
    raw: dict[str, Any],
    key_id: str,
    now: datetime,
    origin_host: str | None = None,
    ignored: str | None = None,
) -> bool:
    """Store an activity once; False when its id was already stored (a duplicate).

    `ignored` (the reason) stores it already processed, as nothing here will handle it.
    """
    row_id = await conn.fetchval(
        f"""INSERT INTO inbox_items ({_INSERTED_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11)
            ON CONFLICT (activity_uri) DO NOTHING
            RETURNING id""",
        activity_uri,
        actor_uri,
        type,
        recipient,
        raw,
        key_id,
        now,
        origin_host,
        "pending" if ignored is None else "ignored",
        ignored,
        None if ignored is None else now,
    )
    return row_id is not None


async def insert_pending_within(
    conn: Connection,
    *,
    activity_uri: str,
    actor_uri: str,
    type: str,
    recipient: str | None,
    raw: dict[str, Any],
    key_id: str,
    now: datetime,
    origin_host: str,
    cap: int | None,
) -> tuple[bool, int | None]:
    """Store a pending activity unless its origin already has `cap` rows waiting (as
    count_pending_from counts them), in one statement: (stored, rows waiting before); not
    stored with fewer than `cap` waiting means a duplicate. With no `cap` (the caller knows
    there is room) nothing is counted: (stored, None)."""
    if cap is None:
        new = await insert_inbox_item(
            conn,
            activity_uri=activity_uri,
            actor_uri=actor_uri,
            type=type,
            recipient=recipient,
            raw=raw,
            key_id=key_id,
            now=now,
            origin_host=origin_host,
        )
        return new, None
    row = await conn.fetchrow(
        f"""WITH waiting AS (SELECT {_waiting_from("$8", "$9")} AS n),
                 inserted AS (
                     INSERT INTO inbox_items ({_INSERTED_COLUMNS})
                     SELECT $1, $2, $3, $4, $5, $6, $7, $7, $8, 'pending', NULL, NULL
                       FROM waiting WHERE waiting.n < $9
                     ON CONFLICT (activity_uri) DO NOTHING
                     RETURNING id)
            SELECT (SELECT n FROM waiting) AS waiting,
                   EXISTS (SELECT 1 FROM inserted) AS stored""",
        activity_uri,
        actor_uri,
        type,
        recipient,
        raw,
        key_id,
        now,
        origin_host,
        cap,
    )
    assert row is not None
    return row["stored"], row["waiting"]


async def count_pending_from(conn: Connection, origin_host: str, *, limit: int) -> int:
    """How many rows signed from this host wait, to be processed or held for an admin (a wave
    of held spam counts against its server too), counting up to `limit` of each."""
    count: int = await conn.fetchval(f"SELECT {_waiting_from('$1', '$2')}", origin_host, limit)
    return count


async def purge_processed(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` rows processed (done, ignored or failed) before `before`."""
    deleted: int = await conn.fetchval(
        """WITH old AS (
               SELECT id FROM inbox_items
                WHERE state <> 'pending' AND processed_at < $1
                ORDER BY processed_at
                LIMIT $2
                  FOR UPDATE SKIP LOCKED),
           gone AS (DELETE FROM inbox_items i USING old WHERE i.id = old.id RETURNING 1)
           SELECT count(*) FROM gone""",
        before,
        limit,
    )
    return deleted


async def claim_inbox_items(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int, token: UUID
) -> list[InboxItem]:
    """Lease due rows under `token`, oldest first, skipping rows other workers hold."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT id FROM inbox_items
                WHERE state = 'pending' AND next_attempt_at <= $1
                  AND (locked_until IS NULL OR locked_until < $1)
                ORDER BY id
                LIMIT $3
                  FOR UPDATE SKIP LOCKED)
           UPDATE inbox_items i SET locked_until = $2, lease_token = $4
             FROM due WHERE i.id = due.id
        RETURNING i.id, i.activity_uri, i.actor_uri, i.type, i.recipient, i.raw, i.key_id,
                  i.attempts,
                  (SELECT level FROM actor_restrictions WHERE actor_uri = i.actor_uri)
                      AS restriction,
                  (SELECT first_seen_at FROM content_actors_seen WHERE actor_uri = i.actor_uri)
                      AS first_seen_at,
                  (SELECT type FROM remote_actors WHERE uri = i.actor_uri) AS actor_type""",
        now,
        now + lease,
        limit,
        token,
    )
    return [InboxItem(**record_dict(row)) for row in rows]


async def renew_inbox_leases(
    conn: Connection, ids: Sequence[int], *, token: UUID, until: datetime
) -> int:
    """Extend the lease of the rows still held under `token`; return how many were."""
    result: str = await conn.execute(
        """UPDATE inbox_items SET locked_until = $3
            WHERE id = ANY($1::bigint[]) AND lease_token = $2 AND state = 'pending'""",
        list(ids),
        token,
        until,
    )
    return int(result.rsplit(" ", 1)[1])


async def release_inbox_items(conn: Connection, ids: Sequence[int], *, token: UUID) -> int:
    """Give back rows held under `token` without an attempt, so any worker takes them now."""
    result: str = await conn.execute(
        """UPDATE inbox_items SET locked_until = NULL, lease_token = NULL
            WHERE id = ANY($1::bigint[]) AND lease_token = $2""",
        list(ids),
        token,
    )
    return int(result.rsplit(" ", 1)[1])


async def release_inbox_claim(conn: Connection, *, token: UUID) -> int:
    """Give back every row still held under `token`, when the claim's answer was lost (the
    connection died with it): rare, so reading the pending rows once is acceptable."""
    result: str = await conn.execute(
        """UPDATE inbox_items SET locked_until = NULL, lease_token = NULL
            WHERE state = 'pending' AND lease_token = $1""",
        token,
    )
    return int(result.rsplit(" ", 1)[1])


async def holds_lease(conn: Connection, item_id: int, *, token: UUID) -> bool:
    """Whether the row is still under the lease `token` names."""
    held: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM inbox_items WHERE id = $1 AND lease_token = $2)",
        item_id,
        token,
    )
    return held


async def finish_inbox_item(
    conn: Connection,
    item_id: int,
    *,
    token: UUID,
    state: str,
    detail: str,
    now: datetime,
    raw: dict[str, Any] | None = None,
) -> bool:
    """Mark a row done or ignored (with why); `raw` replaces the stored activity when given.
    False when the lease `token` names was lost: nothing was recorded."""
    result: str = await conn.execute(
        """UPDATE inbox_items SET state = $2, last_error = nullif($3, ''), processed_at = $4,
                                  attempts = attempts + 1, locked_until = NULL,
                                  lease_token = NULL, raw = coalesce($5, raw)
            WHERE id = $1 AND lease_token = $6""",
        item_id,
        state,
        detail[:1000],
        now,
        raw,
        token,
    )
    return result != "UPDATE 0"


async def retry_inbox_item(
    conn: Connection,
    item_id: int,
    *,
    token: UUID,
    error: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> bool:
    """Record a failed processing attempt; give up (state failed) when next_attempt_at is None.
    False when the lease `token` names was lost: nothing was recorded."""
    result: str = await conn.execute(
        """UPDATE inbox_items
              SET attempts = attempts + 1, last_error = $2, locked_until = NULL,
                  lease_token = NULL,
                  state = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                  next_attempt_at = coalesce($3, next_attempt_at),
                  processed_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END
            WHERE id = $1 AND lease_token = $5""",
        item_id,
        error[:1000],
        next_attempt_at,
        now,
        token,
    )
    return result != "UPDATE 0"
