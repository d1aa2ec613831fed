"""SQL for outgoing activities, their delivery rows and peer domain health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fedicity.activitypub.accessors import host_of
from fedicity.db.pool import Connection, record_dict


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery: where to POST what, signed by whom."""

    id: int
    inbox: str
    domain: str
    attempts: int
    activity_uri: str
    raw: dict[str, Any]
    username: str
    kind: str
    private_key_pem: str
    # The lease this worker holds; completing the row requires it still to be ours.
    locked_until: datetime


@dataclass(frozen=True)
class DomainHealth:
    """How a peer domain has been answering."""

    domain: str
    failure_days: list[date]
    last_failure_at: datetime | None
    last_success_at: datetime | None
    unavailable: bool


async def insert_activity(
    conn: Connection,
    *,
    uri: str,
    actor_id: int,
    type: str,
    object_uri: str | None,
    raw: dict[str, Any],
    public: bool,
    now: datetime,
) -> int:
    """Store an activity we publish; return its row id."""
    activity_id: int = await conn.fetchval(
        """INSERT INTO outbox_activities (uri, actor_id, type, object_uri, raw, public, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        uri,
        actor_id,
        type,
        object_uri,
        raw,
        public,
        now,
    )
    return activity_id


async def insert_deliveries(
    conn: Connection, activity_id: int, inboxes: list[tuple[str, str]], now: datetime
) -> int:
    """One pending row per (inbox, domain); returns how many were added."""
    if not inboxes:
        return 0
    result = await conn.execute(
        """INSERT INTO deliveries (activity_id, inbox, domain, next_attempt_at, created_at,
                                   updated_at)
           SELECT $1, t.inbox, t.domain, $4, $4, $4
             FROM unnest($2::text[], $3::text[]) AS t(inbox, domain)
           ON CONFLICT (activity_id, inbox) DO NOTHING""",
        activity_id,
        [inbox for inbox, _ in inboxes],
        [domain for _, domain in inboxes],
        now,
    )
    return int(result.rsplit(" ", 1)[-1])


async def select_follower_inboxes(conn: Connection, followee: str) -> list[tuple[str, str]]:
    """Distinct delivery inboxes (shared preferred) of an actor's accepted remote followers."""
    rows = await conn.fetch(
        """SELECT DISTINCT coalesce(r.shared_inbox, r.inbox) AS inbox, r.domain
             FROM follows f JOIN remote_actors r ON r.uri = f.follower
            WHERE f.followee = $1 AND f.state = 'accepted' AND r.deleted_at IS NULL""",
        followee,
    )
    # Health is kept per host that answers: the inbox's, not necessarily the actor's.
    return [(row["inbox"], host_of(row["inbox"])) for row in rows]


async def select_activity(conn: Connection, uri: str) -> dict[str, Any] | None:
    """The raw JSON of an activity we published, if it is public."""
    raw: dict[str, Any] | None = await conn.fetchval(
        "SELECT raw FROM outbox_activities WHERE uri = $1 AND public", uri
    )
    return raw


async def claim_deliveries(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int
) -> list[DeliveryJob]:
    """Lease due rows so no other worker takes them; a crashed worker's lease simply expires."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT d.id FROM deliveries d
                WHERE d.state = 'pending' AND d.next_attempt_at <= $1
                  AND (d.locked_until IS NULL OR d.locked_until < $1)
                ORDER BY d.next_attempt_at
                LIMIT $3
                  FOR UPDATE SKIP LOCKED)
           UPDATE deliveries d SET locked_until = $2, updated_at = $1
             FROM due, outbox_activities a, actors act
            WHERE d.id = due.id AND a.id = d.activity_id AND act.id = a.actor_id
        RETURNING d.id, d.inbox, d.domain, d.attempts, a.uri AS activity_uri, a.raw,
                  act.username, act.kind, act.private_key_pem, d.locked_until""",
        now,
        now + lease,
        limit,
    )
    return [DeliveryJob(**record_dict(row)) for row in rows]


async def mark_delivered(
    conn: Connection, delivery_id: int, status: int, now: datetime, lease: datetime
) -> bool:
    """Record a successful delivery, if this worker still holds the row's lease."""
    result = await conn.execute(
        """UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $2,
                                 last_error = NULL, locked_until = NULL, updated_at = $3
            WHERE id = $1 AND locked_until = $4 AND state = 'pending'""",
        delivery_id,
        status,
        now,
        lease,
    )
    return result != "UPDATE 0"


async def mark_failed_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    status: int | None,
    error: str,
    next_attempt_at: datetime | None,
    now: datetime,
    lease: datetime,
) -> bool:
    """Record a failed try (if the lease is still ours): schedule the next, or give up."""
    result = await conn.execute(
        """UPDATE deliveries
              SET attempts = attempts + 1, last_status = $2, last_error = $3,
                  state = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                  next_attempt_at = coalesce($4, next_attempt_at),
                  locked_until = NULL, updated_at = $5
            WHERE id = $1 AND locked_until = $6 AND state = 'pending'""",
        delivery_id,
        status,
        error[:1000],
        next_attempt_at,
        now,
        lease,
    )
    return result != "UPDATE 0"


async def postpone(conn: Connection, delivery_id: int, until: datetime, now: datetime) -> None:
    """Push a row back without counting an attempt (its domain is marked unavailable)."""
    await conn.execute(
        """UPDATE deliveries SET next_attempt_at = $2, locked_until = NULL, updated_at = $3
            WHERE id = $1""",
        delivery_id,
        until,
        now,
    )


async def select_domain_health(conn: Connection, domain: str) -> DomainHealth | None:
    """The health row of a domain."""
    row = await conn.fetchrow(
        """SELECT domain, failure_days, last_failure_at, last_success_at, unavailable
             FROM domain_health WHERE domain = $1""",
        domain,
    )
    return None if row is None else DomainHealth(**record_dict(row))


async def select_probe_id(conn: Connection, domain: str, now: datetime) -> int | None:
    """The one row allowed to probe an unavailable domain now: its oldest due pending row."""
    probe_id: int | None = await conn.fetchval(
        """SELECT min(id) FROM deliveries
            WHERE domain = $1 AND state = 'pending' AND next_attempt_at <= $2""",
        domain,
        now,
    )
    return probe_id


async def record_domain_failure(
    conn: Connection, domain: str, now: datetime, unavailable_after_days: int
) -> bool:
    """Count a failure day for a domain; return whether it is now unavailable."""
    unavailable: bool = await conn.fetchval(
        """INSERT INTO domain_health AS h (domain, failure_days, last_failure_at)
           VALUES ($1, ARRAY[$2::date], $3)
           ON CONFLICT (domain) DO UPDATE SET
               failure_days = CASE WHEN $2::date = ANY(h.failure_days) THEN h.failure_days
                                   ELSE h.failure_days || $2::date END,
               last_failure_at = $3,
               unavailable = h.unavailable
                   OR cardinality(CASE WHEN $2::date = ANY(h.failure_days) THEN h.failure_days
                                       ELSE h.failure_days || $2::date END) >= $4
           RETURNING unavailable""",
        domain,
        now.date(),
        now,
        unavailable_after_days,
    )
    return unavailable


async def record_domain_success(conn: Connection, domain: str, now: datetime) -> None:
    """A domain answered: forget its failures."""
    await conn.execute(
        """INSERT INTO domain_health (domain, last_success_at) VALUES ($1, $2)
           ON CONFLICT (domain) DO UPDATE SET failure_days = '{}', unavailable = false,
                                              last_success_at = $2""",
        domain,
        now,
    )


async def count_deliveries(conn: Connection, state: str) -> int:
    """How many delivery rows are in a state (for tests, benchmarks and the admin)."""
    count: int = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = $1", state)
    return count


async def select_local_followers(conn: Connection, followee: str, local_host: str) -> list[str]:
    """Accepted followers of an actor that live on this instance."""
    rows = await conn.fetch(
        """SELECT follower FROM follows
            WHERE followee = $1 AND state = 'accepted'
              AND split_part(split_part(follower, '://', 2), '/', 1) = $2""",
        followee,
        local_host,
    )
    return [row["follower"] for row in rows]


async def select_outbox_page(
    conn: Connection, actor_id: int, *, limit: int, before_id: int | None
) -> list[tuple[int, dict[str, Any]]]:
    """(row id, activity) of an actor's public activities, newest first."""
    rows = await conn.fetch(
        """SELECT id, raw FROM outbox_activities
            WHERE actor_id = $1 AND public AND ($2::bigint IS NULL OR id < $2)
              AND type IN ('Create', 'Announce', 'Update')
            ORDER BY id DESC LIMIT $3""",
        actor_id,
        before_id,
        limit,
    )
    return [(row["id"], row["raw"]) for row in rows]


async def count_outbox(conn: Connection, actor_id: int) -> int:
    """How many public activities an actor's outbox lists."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM outbox_activities
            WHERE actor_id = $1 AND public AND type IN ('Create', 'Announce', 'Update')""",
        actor_id,
    )
    return count
