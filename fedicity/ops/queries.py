"""SQL of the operations figures: queues, domains' health, users, storage, moderation backlog.

Every count runs on an index or on a table that stays small (inbox rows are purged, failed ones
have their own partial index, and only pending deliveries are counted, on their partial index),
so /metrics can run them at each scrape; /metrics leaves out the failed count it does not use.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fedicity.db.pool import Connection
from fedicity.ops.models import Backlog, DomainRow, QueueStats, UserStats

ACTIVE_WINDOW = timedelta(days=30)


async def select_queues(
    conn: Connection, now: datetime, *, with_failed: bool = True
) -> list[QueueStats]:
    """The inbox and delivery queues: pending rows, those due, the oldest due, and (unless
    `with_failed` is False, as for /metrics, which has no use for it) failed inbox rows."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM inbox_items WHERE state = 'pending') AS inbox_pending,
             (SELECT count(*) FROM inbox_items
               WHERE state = 'pending' AND next_attempt_at <= $1) AS inbox_due,
             (SELECT min(next_attempt_at) FROM inbox_items
               WHERE state = 'pending' AND next_attempt_at <= $1) AS inbox_oldest,
             CASE WHEN $2 THEN (SELECT count(*) FROM inbox_items WHERE state = 'failed')
             END AS inbox_failed,
             (SELECT count(*) FROM deliveries WHERE state = 'pending') AS delivery_pending,
             (SELECT count(*) FROM deliveries
               WHERE state = 'pending' AND next_attempt_at <= $1) AS delivery_due,
             (SELECT min(next_attempt_at) FROM deliveries
               WHERE state = 'pending' AND next_attempt_at <= $1) AS delivery_oldest""",
        now,
        with_failed,
    )
    assert row is not None
    return [
        QueueStats(
            "inbox",
            row["inbox_pending"],
            row["inbox_due"],
            row["inbox_oldest"],
            row["inbox_failed"],
        ),
        QueueStats(
            "delivery", row["delivery_pending"], row["delivery_due"], row["delivery_oldest"], None
        ),
    ]


# Every domain we keep health for or that has rows waiting, worst first: unavailable, then
# by days of failures, then by what waits.
_DOMAINS = """
WITH outgoing AS (
    SELECT domain, count(*) AS outgoing, min(next_attempt_at) AS oldest_outgoing_at
      FROM deliveries WHERE state = 'pending' GROUP BY domain
), incoming AS (
    SELECT origin_host AS domain, count(*) AS incoming
      FROM inbox_items WHERE state = 'pending' AND origin_host IS NOT NULL GROUP BY origin_host
), known AS (
    SELECT domain FROM domain_health
    UNION SELECT domain FROM outgoing
    UNION SELECT domain FROM incoming
)
SELECT k.domain, h.last_success_at, h.last_failure_at,
       coalesce(cardinality(h.failure_days), 0) AS failure_days,
       coalesce(h.unavailable, false) AS unavailable,
       coalesce(o.outgoing, 0) AS outgoing, o.oldest_outgoing_at,
       coalesce(i.incoming, 0) AS incoming
  FROM known k
  LEFT JOIN domain_health h ON h.domain = k.domain
  LEFT JOIN outgoing o ON o.domain = k.domain
  LEFT JOIN incoming i ON i.domain = k.domain
"""


async def select_domains(conn: Connection, *, limit: int, offset: int = 0) -> list[DomainRow]:
    """A page of peer domains, worst health first."""
    rows = await conn.fetch(
        _DOMAINS
        + """ ORDER BY unavailable DESC, failure_days DESC, outgoing DESC, incoming DESC,
                       k.domain
              LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    return [
        DomainRow(
            domain=row["domain"],
            last_success_at=row["last_success_at"],
            last_failure_at=row["last_failure_at"],
            failure_days=row["failure_days"],
            unavailable=row["unavailable"],
            outgoing=row["outgoing"],
            oldest_outgoing_at=row["oldest_outgoing_at"],
            incoming=row["incoming"],
        )
        for row in rows
    ]


async def count_domains(conn: Connection) -> tuple[int, int]:
    """(domains we keep health for, those marked unavailable)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS known, count(*) FILTER (WHERE unavailable) AS down FROM domain_health"
    )
    assert row is not None
    return row["known"], row["down"]


async def select_users(conn: Connection, now: datetime) -> UserStats:
    """Open local accounts, those with a session used in the last 30 days, admins, and the
    remote actors we know."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM accounts a JOIN actors act ON act.id = a.actor_id
               WHERE act.deleted_at IS NULL) AS accounts,
             (SELECT count(DISTINCT s.account_id) FROM sessions s
               WHERE s.last_seen_at >= $1 AND s.revoked_at IS NULL) AS active,
             (SELECT count(*) FROM accounts a JOIN actors act ON act.id = a.actor_id
               WHERE a.is_admin AND act.deleted_at IS NULL) AS admins,
             (SELECT count(*) FROM remote_actors WHERE deleted_at IS NULL) AS remote""",
        now - ACTIVE_WINDOW,
    )
    assert row is not None
    return UserStats(row["accounts"], row["active"], row["admins"], row["remote"])


async def select_storage(conn: Connection) -> tuple[int, int, int]:
    """(the database's size in bytes, media files recorded, their bytes)."""
    row = await conn.fetchrow(
        """SELECT pg_database_size(current_database()) AS database_bytes,
                  (SELECT count(*) FROM media) AS files,
                  (SELECT coalesce(sum(size), 0) FROM media) AS bytes"""
    )
    assert row is not None
    return row["database_bytes"], row["files"], int(row["bytes"])


async def select_backlog(conn: Connection) -> Backlog:
    """Reports not yet resolved, and when the oldest came."""
    row = await conn.fetchrow(
        """SELECT count(*) AS open, min(created_at) AS oldest
             FROM reports WHERE resolved_at IS NULL"""
    )
    assert row is not None
    return Backlog(row["open"], row["oldest"])
