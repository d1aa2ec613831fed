"""SQL for outgoing activities, their delivery rows and peer domain health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from fedicity.activitypub.accessors import host_of
from fedicity.db.pool import Connection, record_dict


@dataclass(frozen=True)
class ClaimedRow:
    """A leased delivery row, with what the claim read about its domain."""

    id: int
    activity_id: int
    inbox: str
    domain: str
    attempts: int
    # When the lease ends unless renewed, and the token that proves it is ours: renewing the
    # lease changes locked_until, so the token, not the time, fences completion.
    locked_until: datetime
    lease_owner: UUID
    # The action of the most specific domain policy of the inbox's host, read at claim time so a
    # suspension applies at once in every process.
    policy_action: str | None
    # When the domain is marked unavailable: its last failure (probes are counted from it).
    unavailable_since: datetime | None


@dataclass(frozen=True)
class SigningActivity:
    """What every delivery of one activity shares: the body and the signer."""

    activity_id: int
    activity_uri: str
    raw: dict[str, Any]
    username: str
    kind: str
    private_key_pem: str


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
    locked_until: datetime
    lease_owner: UUID


@dataclass(frozen=True)
class Completion:
    """The outcome of one attempt, to record with others in one statement."""

    id: int
    lease_owner: UUID
    domain: str
    # 'delivered', 'failed' (given up or refused), or 'pending' (tried again at next_attempt_at)
    state: str
    status: int | None
    error: str | None
    next_attempt_at: datetime | None
    # Counts against the domain's health (a network error or a 5xx: the server failed).
    domain_failed: bool = False


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
    conn: Connection,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    owner: UUID,
    per_host: int = 1_000_000,
    busy_domains: list[str] | None = None,
) -> list[ClaimedRow]:
    """Lease up to `limit` due rows, at most `per_host` of one domain and none of
    `busy_domains`, with their domain's policy and health, in one statement; a crashed worker's
    lease simply expires."""
    rows = await conn.fetch(
        """WITH candidates AS (
               SELECT d.id, d.domain, d.next_attempt_at FROM deliveries d
                WHERE d.state = 'pending' AND d.next_attempt_at <= $1
                  AND (d.locked_until IS NULL OR d.locked_until < $1)
                  AND d.domain <> ALL ($5::text[])
                ORDER BY d.next_attempt_at
                LIMIT $3 * 4
                -- Skipping rows another claim is taking here, not only after picking: else two
                -- workers claiming at once pick the same candidates and the second gets none.
                  FOR UPDATE OF d SKIP LOCKED),
           picked AS (
               SELECT id FROM (
                   SELECT id, next_attempt_at, row_number() OVER (
                              PARTITION BY domain ORDER BY next_attempt_at, id) AS n
                     FROM candidates) AS ranked
                WHERE n <= $4
                ORDER BY next_attempt_at, id
                LIMIT $3),
           due AS (
               SELECT d.id FROM deliveries d JOIN picked USING (id)
                WHERE d.state = 'pending' AND (d.locked_until IS NULL OR d.locked_until < $1)
                  FOR UPDATE OF d SKIP LOCKED)
           UPDATE deliveries d SET locked_until = $2, lease_owner = $6, updated_at = $1
             FROM due
            WHERE d.id = due.id
        RETURNING d.id, d.activity_id, d.inbox, d.domain, d.attempts, d.locked_until,
                  d.lease_owner,
                  domain_policy_action(rtrim(uri_host(d.inbox), '.')) AS policy_action,
                  (SELECT h.last_failure_at FROM domain_health h
                    WHERE h.domain = d.domain AND h.unavailable) AS unavailable_since""",
        now,
        now + lease,
        limit,
        per_host,
        busy_domains or [],
        owner,
    )
    return [ClaimedRow(**record_dict(row)) for row in rows]


async def select_signing_activities(
    conn: Connection, activity_ids: list[int]
) -> list[SigningActivity]:
    """The activities, and their signers, of claimed rows (read once per activity, not per row)."""
    rows = await conn.fetch(
        """SELECT a.id AS activity_id, a.uri AS activity_uri, a.raw, act.username, act.kind,
                  act.private_key_pem
             FROM outbox_activities a JOIN actors act ON act.id = a.actor_id
            WHERE a.id = ANY ($1::bigint[])""",
        activity_ids,
    )
    return [SigningActivity(**record_dict(row)) for row in rows]


async def set_leases(
    conn: Connection,
    ids: list[int],
    owners: list[UUID],
    *,
    until: datetime | None,
    now: datetime,
) -> int:
    """Renew (until a time) or release (until None) the leases still held by these owners, in
    one statement; returns how many rows were still ours."""
    result = await conn.execute(
        """UPDATE deliveries d
              SET locked_until = $3,
                  lease_owner = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE d.lease_owner END,
                  updated_at = $4
             FROM unnest($1::bigint[], $2::uuid[]) AS t(id, owner)
            WHERE d.id = t.id AND d.lease_owner = t.owner AND d.state = 'pending'""",
        ids,
        owners,
        until,
        now,
    )
    return int(result.rsplit(" ", 1)[-1])


async def complete(conn: Connection, completions: list[Completion], now: datetime) -> list[int]:
    """Record attempts' outcomes on the rows whose lease is still ours, in one statement;
    returns the ids recorded."""
    if not completions:
        return []
    rows = await conn.fetch(
        """UPDATE deliveries d
              SET state = t.state, last_status = t.status, last_error = t.error,
                  attempts = d.attempts + 1,
                  next_attempt_at = coalesce(t.next_at, d.next_attempt_at),
                  locked_until = NULL, lease_owner = NULL, updated_at = $1
             FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::text[],
                         $7::timestamptz[])
                  AS t(id, owner, state, status, error, next_at)
            WHERE d.id = t.id AND d.lease_owner = t.owner AND d.state = 'pending'
        RETURNING d.id""",
        now,
        [c.id for c in completions],
        [c.lease_owner for c in completions],
        [c.state for c in completions],
        [c.status for c in completions],
        [None if c.error is None else c.error[:1000] for c in completions],
        [c.next_attempt_at for c in completions],
    )
    return [row["id"] for row in rows]


async def postpone(
    conn: Connection, delivery_id: int, until: datetime, now: datetime, owner: UUID
) -> None:
    """Push a row back without counting an attempt (its domain is marked unavailable)."""
    await conn.execute(
        """UPDATE deliveries SET next_attempt_at = $2, locked_until = NULL, lease_owner = NULL,
                                 updated_at = $3
            WHERE id = $1 AND lease_owner = $4 AND state = 'pending'""",
        delivery_id,
        until,
        now,
        owner,
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


async def record_domain_failures(
    conn: Connection, domains: list[str], now: datetime, unavailable_after_days: int
) -> None:
    """Count a failure day for each domain (distinct), marking it unavailable after enough."""
    if not domains:
        return
    await conn.execute(
        """INSERT INTO domain_health AS h (domain, failure_days, last_failure_at)
           SELECT t.domain, ARRAY[$2::date], $3 FROM unnest($1::text[]) AS t(domain)
           ON CONFLICT (domain) DO UPDATE SET
               failure_days = CASE WHEN $2::date = ANY(h.failure_days) THEN h.failure_days
                                   ELSE h.failure_days || $2::date END,
               last_failure_at = $3,
               unavailable = h.unavailable
                   OR cardinality(CASE WHEN $2::date = ANY(h.failure_days) THEN h.failure_days
                                       ELSE h.failure_days || $2::date END) >= $4""",
        sorted(set(domains)),
        now.date(),
        now,
        unavailable_after_days,
    )


async def record_domain_successes(conn: Connection, domains: list[str], now: datetime) -> None:
    """These domains answered: forget their failures."""
    if not domains:
        return
    await conn.execute(
        """INSERT INTO domain_health (domain, last_success_at)
           SELECT t.domain, $2 FROM unnest($1::text[]) AS t(domain)
           ON CONFLICT (domain) DO UPDATE SET failure_days = '{}', unavailable = false,
                                              last_success_at = $2""",
        sorted(set(domains)),
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
