"""SQL for reports, blocks, moves and domain policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict


@dataclass(frozen=True)
class Report:
    """A Flag received from another server."""

    id: int
    activity_uri: str
    reporter: str
    targets: list[str]
    content: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class DomainPolicy:
    """An admin decision about a peer domain."""

    domain: str
    action: str
    reason: str
    created_at: datetime


async def insert_report(
    conn: Connection,
    *,
    activity_uri: str,
    reporter: str,
    targets: list[str],
    content: str,
    raw: dict[str, Any],
    now: datetime,
) -> None:
    """Store a report once."""
    await conn.execute(
        """INSERT INTO reports (activity_uri, reporter, targets, content, raw, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        activity_uri,
        reporter,
        targets,
        content,
        raw,
        now,
    )


async def select_open_reports(conn: Connection, *, limit: int) -> list[Report]:
    """Unresolved reports, newest first."""
    rows = await conn.fetch(
        """SELECT id, activity_uri, reporter, targets, content, created_at, resolved_at
             FROM reports WHERE resolved_at IS NULL ORDER BY id DESC LIMIT $1""",
        limit,
    )
    return [Report(**record_dict(row)) for row in rows]


async def insert_block(
    conn: Connection, *, activity_uri: str, blocker: str, blocked: str, now: datetime
) -> None:
    """Record that a remote actor blocks a local one."""
    await conn.execute(
        """INSERT INTO blocks (activity_uri, blocker, blocked, created_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        activity_uri,
        blocker,
        blocked,
        now,
    )


async def delete_block(conn: Connection, *, blocker: str, blocked: str) -> bool:
    """Forget a block (Undo Block)."""
    result = await conn.execute(
        "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2", blocker, blocked
    )
    return result != "DELETE 0"


async def insert_move(
    conn: Connection, *, activity_uri: str, origin: str, target: str, verified: bool
) -> None:
    """Record a Move, verified or not."""
    await conn.execute(
        """INSERT INTO moves (activity_uri, origin, target, verified) VALUES ($1, $2, $3, $4)
           ON CONFLICT (activity_uri) DO NOTHING""",
        activity_uri,
        origin,
        target,
        verified,
    )


async def select_domain_policy(conn: Connection, domain: str) -> DomainPolicy | None:
    """The policy for a domain, matching parent domains too (a block of x.org covers a.x.org)."""
    row = await conn.fetchrow(
        """SELECT domain, action, reason, created_at FROM domain_policies
            WHERE $1 = domain OR $1 LIKE '%.' || domain
            ORDER BY length(domain) DESC LIMIT 1""",
        domain.lower(),
    )
    return None if row is None else DomainPolicy(**record_dict(row))


async def upsert_domain_policy(conn: Connection, domain: str, action: str, reason: str) -> None:
    """Set the policy for a domain."""
    await conn.execute(
        """INSERT INTO domain_policies (domain, action, reason) VALUES ($1, $2, $3)
           ON CONFLICT (domain) DO UPDATE SET action = EXCLUDED.action, reason = EXCLUDED.reason""",
        domain.lower(),
        action,
        reason,
    )


async def delete_domain_policy(conn: Connection, domain: str) -> bool:
    """Lift a domain policy."""
    result = await conn.execute("DELETE FROM domain_policies WHERE domain = $1", domain.lower())
    return result != "DELETE 0"


async def select_domain_policies(conn: Connection, *, limit: int) -> list[DomainPolicy]:
    """All domain policies, alphabetically."""
    rows = await conn.fetch(
        "SELECT domain, action, reason, created_at FROM domain_policies ORDER BY domain LIMIT $1",
        limit,
    )
    return [DomainPolicy(**record_dict(row)) for row in rows]


async def insert_vote_trusted_domain(conn: Connection, domain: str, *, now: datetime) -> None:
    """Trust a server's voters for every proposal of this instance."""
    await conn.execute(
        """INSERT INTO vote_trusted_domains (domain, created_at) VALUES ($1, $2)
           ON CONFLICT (domain) DO NOTHING""",
        domain,
        now,
    )


async def delete_vote_trusted_domain(conn: Connection, domain: str) -> bool:
    """Stop trusting a server's voters; False when it was not trusted."""
    status = await conn.execute("DELETE FROM vote_trusted_domains WHERE domain = $1", domain)
    return status != "DELETE 0"


async def select_vote_trusted_domains(conn: Connection, *, limit: int) -> list[str]:
    """The servers whose voters every proposal of this instance trusts, by name."""
    rows = await conn.fetch(
        "SELECT domain FROM vote_trusted_domains ORDER BY domain LIMIT $1", limit
    )
    return [row["domain"] for row in rows]
