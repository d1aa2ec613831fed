"""SQL for reports, blocks, moves and domain policies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.audit.models import Entry
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
    origin: str = "remote"
    reporter_account_id: int | None = None
    category: str = "other"
    target_actor: str | None = None
    target_kind: str | None = None
    forwarded_at: datetime | None = None
    organization_id: int | None = None
    territory_id: int | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class DomainPolicy:
    """An admin decision about a peer domain (and its subdomains). `reason` is the private
    comment; `blocklist_id` names the subscribed list it came from (None: set by an admin)."""

    domain: str
    action: str
    reason: str
    created_at: datetime
    reject_media: bool = False
    reject_reports: bool = False
    public_comment: str = ""
    obfuscate: bool = False
    updated_at: datetime | None = None
    blocklist_id: int | None = None


@dataclass(frozen=True)
class SuspensionEffects:
    """What a suspension ended at once: follows both ways, waiting deliveries and inbox rows."""

    follows: int = 0
    deliveries: int = 0
    inbox_items: int = 0


@dataclass(frozen=True)
class Blocklist:
    """A subscribed block list: a URL serving Mastodon's domain-block CSV."""

    id: int
    url: str
    created_at: datetime
    last_synced_at: datetime | None
    last_error: str
    entries: int


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
        f"SELECT {_REPORT} FROM reports WHERE resolved_at IS NULL ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [Report(**record_dict(row)) for row in rows]


_REPORT = """id, activity_uri, reporter, targets, content, created_at, resolved_at, origin,
             reporter_account_id, category, target_actor, target_kind, forwarded_at,
             organization_id, territory_id, resolved_by, resolution"""


async def insert_local_report(
    conn: Connection,
    *,
    activity_uri: str,
    reporter: str,
    reporter_account_id: int,
    targets: list[str],
    target_kind: str,
    target_actor: str | None,
    category: str,
    content: str,
    organization_id: int | None,
    territory_id: int | None,
    now: datetime,
) -> int:
    """Store a citizen's report; its id."""
    report_id: int = await conn.fetchval(
        """INSERT INTO reports (activity_uri, reporter, targets, content, raw, created_at, origin,
                                reporter_account_id, category, target_actor, target_kind,
                                organization_id, territory_id)
           VALUES ($1, $2, $3, $4, '{}', $5, 'local', $6, $7, $8, $9, $10, $11) RETURNING id""",
        activity_uri,
        reporter,
        targets,
        content,
        now,
        reporter_account_id,
        category,
        target_actor,
        target_kind,
        organization_id,
        territory_id,
    )
    return report_id


async def update_report_place(
    conn: Connection,
    activity_uri: str,
    *,
    target_actor: str | None,
    organization_id: int | None,
    territory_id: int | None,
) -> None:
    """Say whose content a received report is about and where it lives here."""
    await conn.execute(
        """UPDATE reports SET target_actor = $2, organization_id = $3, territory_id = $4
            WHERE activity_uri = $1""",
        activity_uri,
        target_actor,
        organization_id,
        territory_id,
    )


async def select_report(conn: Connection, report_id: int) -> Report | None:
    """One report by its number."""
    row = await conn.fetchrow(f"SELECT {_REPORT} FROM reports WHERE id = $1", report_id)
    return None if row is None else Report(**record_dict(row))


async def select_reports_page(
    conn: Connection,
    *,
    limit: int,
    before_id: int | None = None,
    open_only: bool = True,
    everything: bool = True,
    organization_ids: list[int] | None = None,
    territory_ids: list[int] | None = None,
) -> list[Report]:
    """Reports newest first (open ones only unless told), older than `before_id`; unless
    `everything`, only those about the given organisations' or territories' content (a
    territory covers the territories below it)."""
    rows = await conn.fetch(
        f"""SELECT {_REPORT} FROM reports r
             WHERE ($1::bigint IS NULL OR r.id < $1)
               AND (NOT $2 OR r.resolved_at IS NULL)
               AND ($3 OR r.organization_id = ANY($4::bigint[])
                    OR EXISTS (SELECT 1 FROM territory_ancestors ta
                                WHERE ta.descendant_id = r.territory_id
                                  AND ta.ancestor_id = ANY($5::bigint[])))
             ORDER BY r.id DESC LIMIT $6""",
        before_id,
        open_only,
        everything,
        organization_ids or [],
        territory_ids or [],
        limit,
    )
    return [Report(**record_dict(row)) for row in rows]


async def select_reports_by(
    conn: Connection, account_id: int, *, limit: int, before_id: int | None = None
) -> list[Report]:
    """The reports an account made, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_REPORT} FROM reports
             WHERE reporter_account_id = $1 AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3""",
        account_id,
        before_id,
        limit,
    )
    return [Report(**record_dict(row)) for row in rows]


async def count_open_reports(conn: Connection) -> int:
    """How many reports wait for a decision."""
    count: int = await conn.fetchval("SELECT count(*) FROM reports WHERE resolved_at IS NULL")
    return count


async def resolve_report(
    conn: Connection, report_id: int, *, by: str, resolution: str, now: datetime
) -> bool:
    """Close an open report, saying who and how; False when it was closed already."""
    status = await conn.execute(
        """UPDATE reports SET resolved_at = $2, resolved_by = $3, resolution = $4
            WHERE id = $1 AND resolved_at IS NULL""",
        report_id,
        now,
        by[:200],
        resolution,
    )
    return status != "UPDATE 0"


async def update_report_forwarded(conn: Connection, report_id: int, now: datetime) -> None:
    """Record that a copy of the report went to the reported account's server."""
    await conn.execute("UPDATE reports SET forwarded_at = $2 WHERE id = $1", report_id, now)


async def upsert_restriction(
    conn: Connection,
    *,
    actor_uri: str,
    local_actor_id: int | None,
    level: str,
    reason: str,
    now: datetime,
) -> None:
    """Silence or suspend an account (local or remote), replacing what held before."""
    await conn.execute(
        """INSERT INTO actor_restrictions (actor_uri, local_actor_id, level, reason, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (actor_uri) DO UPDATE
              SET level = EXCLUDED.level, reason = EXCLUDED.reason,
                  created_at = EXCLUDED.created_at""",
        actor_uri,
        local_actor_id,
        level,
        reason[:5000],
        now,
    )


async def delete_restriction(conn: Connection, actor_uri: str, *, level: str) -> bool:
    """Lift an account's silence or suspension; False when it had none of that level."""
    status = await conn.execute(
        "DELETE FROM actor_restrictions WHERE actor_uri = $1 AND level = $2", actor_uri, level
    )
    return status != "DELETE 0"


async def select_restriction(conn: Connection, actor_uri: str) -> str | None:
    """'silence', 'suspend', or None for an account by its id."""
    level: str | None = await conn.fetchval(
        "SELECT level FROM actor_restrictions WHERE actor_uri = $1", actor_uri
    )
    return level


async def select_local_restriction(conn: Connection, actor_id: int) -> str | None:
    """'silence', 'suspend', or None for a local actor by its row."""
    level: str | None = await conn.fetchval(
        "SELECT level FROM actor_restrictions WHERE local_actor_id = $1", actor_id
    )
    return level


async def insert_territory_moderator(
    conn: Connection, territory_id: int, account_id: int, now: datetime
) -> bool:
    """Name a territory moderator; False when they were one already."""
    status = await conn.execute(
        """INSERT INTO territory_moderators (territory_id, account_id, created_at)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
        territory_id,
        account_id,
        now,
    )
    return status != "INSERT 0 0"


async def delete_territory_moderator(conn: Connection, territory_id: int, account_id: int) -> bool:
    """No longer a moderator of that territory; False when they were not."""
    status = await conn.execute(
        "DELETE FROM territory_moderators WHERE territory_id = $1 AND account_id = $2",
        territory_id,
        account_id,
    )
    return status != "DELETE 0"


async def select_moderated_territories(conn: Connection, account_id: int) -> list[int]:
    """The territories an account moderates."""
    rows = await conn.fetch(
        "SELECT territory_id FROM territory_moderators WHERE account_id = $1", account_id
    )
    return [row["territory_id"] for row in rows]


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


_POLICY_COLUMNS = """domain, action, reason, created_at, reject_media, reject_reports,
                     public_comment, obfuscate, updated_at, blocklist_id"""


def _policy(row: Any) -> DomainPolicy:
    return DomainPolicy(**record_dict(row))


async def select_domain_policy(conn: Connection, domain: str) -> DomainPolicy | None:
    """The policy for a host: the most specific one naming it or a parent domain (a policy on
    x.org covers a.x.org; one on a.x.org wins over it there). The rule is the database's
    `domain_policy_action` (migration 0020), which the listings' SQL uses too."""
    row = await conn.fetchrow(
        f"""SELECT {_POLICY_COLUMNS} FROM domain_policies
             WHERE domain = ANY (domain_suffixes($1))
             ORDER BY length(domain) DESC LIMIT 1""",
        domain.lower(),
    )
    return None if row is None else _policy(row)


async def select_exact_domain_policy(conn: Connection, domain: str) -> DomainPolicy | None:
    """The policy set on exactly this domain, if any."""
    row = await conn.fetchrow(
        f"SELECT {_POLICY_COLUMNS} FROM domain_policies WHERE domain = $1", domain.lower()
    )
    return None if row is None else _policy(row)


async def upsert_domain_policy(
    conn: Connection,
    domain: str,
    action: str,
    reason: str,
    *,
    reject_media: bool = False,
    reject_reports: bool = False,
    public_comment: str = "",
    obfuscate: bool = False,
    blocklist_id: int | None = None,
    end_exchanges: bool = True,
) -> SuspensionEffects | None:
    """Set the policy for a domain; None when a subscribed list may not overwrite it.

    An admin's policy (`blocklist_id` None) replaces whatever was there; a list's entry replaces
    only its own. A suspension ends at once what the domain had going with us: follows both ways,
    deliveries waiting for it, and activities it sent still waiting in the inbox (unless
    `end_exchanges` is False: the caller then calls end_suspended_exchanges once for many).
    """
    row = await conn.fetchrow(
        """INSERT INTO domain_policies (domain, action, reason, reject_media, reject_reports,
                                        public_comment, obfuscate, blocklist_id, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
           ON CONFLICT (domain) DO UPDATE SET
               action = EXCLUDED.action, reason = EXCLUDED.reason,
               reject_media = EXCLUDED.reject_media, reject_reports = EXCLUDED.reject_reports,
               public_comment = EXCLUDED.public_comment, obfuscate = EXCLUDED.obfuscate,
               blocklist_id = EXCLUDED.blocklist_id, updated_at = now()
           WHERE EXCLUDED.blocklist_id IS NULL
              OR domain_policies.blocklist_id IS NOT DISTINCT FROM EXCLUDED.blocklist_id
           RETURNING action""",
        domain.lower(),
        action,
        reason,
        reject_media,
        reject_reports,
        public_comment,
        obfuscate,
        blocklist_id,
    )
    if row is None:
        return None
    if action != "suspend" or not end_exchanges:
        return SuspensionEffects()
    return await end_suspended_exchanges(conn, [domain.lower()])


# Past this many domains, one pass over every row (a policy lookup each) is cheaper than one
# pass per domain (a string test each).
_ONE_PASS_FROM = 20


def _under(column: str) -> str:
    """The host of a URI column is the suspended domain ($1) or below it, and the most
    specific policy there is that suspension (an allowed subdomain keeps its exchanges). The
    cheap comparisons come first, so the host is parsed and the policy looked up only for the
    rows that name the domain at all."""
    host = f"uri_host({column})"
    return f"""(strpos({column}, $1) > 0
                AND ({host} = $1 OR right({host}, length($1) + 1) = '.' || $1)
                AND domain_policy_action({host}) = 'suspend')"""


def _suspended(column: str) -> str:
    """The most specific policy of a URI column's host is a suspension."""
    return f"domain_policy_in({column}, (SELECT domain_policy_map())) = 'suspend'"


async def end_suspended_exchanges(conn: Connection, domains: list[str]) -> SuspensionEffects:
    """End the follows, waiting deliveries and waiting inbox rows of suspended domains."""
    if not domains:
        return SuspensionEffects()
    if len(domains) >= _ONE_PASS_FROM:
        return await _end_exchanges(conn, _suspended, [])
    totals = SuspensionEffects()
    for domain in domains:
        one = await _end_exchanges(conn, _under, [domain])
        totals = SuspensionEffects(
            totals.follows + one.follows,
            totals.deliveries + one.deliveries,
            totals.inbox_items + one.inbox_items,
        )
    return totals


async def _end_exchanges(
    conn: Connection, matches: Callable[[str], str], args: list[str]
) -> SuspensionEffects:
    follows = await conn.execute(
        f"DELETE FROM follows WHERE {matches('follower')} OR {matches('followee')}", *args
    )
    deliveries = await conn.execute(
        f"""UPDATE deliveries
              SET state = 'failed', last_error = 'refused by policy: the domain is suspended',
                  locked_until = NULL, updated_at = now()
            WHERE state = 'pending' AND {matches("inbox")}""",
        *args,
    )
    # Rows a content policy holds end too (an admin's later release must not let them in), and
    # their holds say so.
    inbox: int = await conn.fetchval(
        f"""WITH ended AS (
                UPDATE inbox_items
                   SET state = 'ignored',
                       last_error = 'refused by policy: the domain is suspended',
                       locked_until = NULL, processed_at = now()
                 WHERE state IN ('pending', 'held') AND key_id <> 'local'
                   AND {matches("key_id")}
             RETURNING id),
            holds AS (
                UPDATE content_decisions
                   SET hold_state = 'rejected', resolved_by = 'system', resolved_at = now()
                 WHERE hold_state = 'held' AND inbox_item_id IN (SELECT id FROM ended))
            SELECT count(*) FROM ended""",
        *args,
    )
    return SuspensionEffects(
        follows=_count(follows), deliveries=_count(deliveries), inbox_items=inbox
    )


def _count(status: str) -> int:
    """The row count at the end of a command status ("DELETE 3", "UPDATE 0")."""
    return int(status.rsplit(" ", 1)[-1])


async def delete_domain_policy(conn: Connection, domain: str) -> bool:
    """Lift a domain policy."""
    result = await conn.execute("DELETE FROM domain_policies WHERE domain = $1", domain.lower())
    return result != "DELETE 0"


async def select_domain_policies(
    conn: Connection, *, limit: int, after: str | None = None, action: str | None = None
) -> list[DomainPolicy]:
    """Domain policies, alphabetically, after the domain `after` when given, of one action when
    given."""
    rows = await conn.fetch(
        f"""SELECT {_POLICY_COLUMNS} FROM domain_policies
             WHERE ($2::text IS NULL OR domain > $2) AND ($3::text IS NULL OR action = $3)
             ORDER BY domain LIMIT $1""",
        limit,
        after,
        action,
    )
    return [_policy(row) for row in rows]


async def select_blocking_policies(conn: Connection, *, limit: int) -> list[DomainPolicy]:
    """The policies Mastodon's domain-block CSV holds (all but allows), alphabetically."""
    rows = await conn.fetch(
        f"""SELECT {_POLICY_COLUMNS} FROM domain_policies WHERE action <> 'allow'
             ORDER BY domain LIMIT $1""",
        limit,
    )
    return [_policy(row) for row in rows]


async def insert_blocklist(conn: Connection, url: str, *, now: datetime) -> Blocklist | None:
    """Subscribe to a block list; None when it is already subscribed."""
    row = await conn.fetchrow(
        """INSERT INTO domain_blocklists (url, created_at) VALUES ($1, $2)
           ON CONFLICT (url) DO NOTHING
           RETURNING id, url, created_at, last_synced_at, last_error, entries""",
        url,
        now,
    )
    return None if row is None else Blocklist(**record_dict(row))


async def delete_blocklist(conn: Connection, blocklist_id: int) -> str | None:
    """Unsubscribe (its entries are lifted with it); the URL it had, or None."""
    url: str | None = await conn.fetchval(
        "DELETE FROM domain_blocklists WHERE id = $1 RETURNING url", blocklist_id
    )
    return url


async def select_blocklists(conn: Connection) -> list[Blocklist]:
    """Every subscribed list, oldest first."""
    rows = await conn.fetch(
        """SELECT id, url, created_at, last_synced_at, last_error, entries
             FROM domain_blocklists ORDER BY id"""
    )
    return [Blocklist(**record_dict(row)) for row in rows]


async def claim_due_blocklist(
    conn: Connection, *, now: datetime, before: datetime
) -> Blocklist | None:
    """Take one list not synced since `before` (or never), marking it synced now so that other
    workers skip it while this one fetches it."""
    row = await conn.fetchrow(
        """UPDATE domain_blocklists SET last_synced_at = $1
            WHERE id = (SELECT id FROM domain_blocklists
                         WHERE last_synced_at IS NULL OR last_synced_at < $2
                         ORDER BY last_synced_at NULLS FIRST, id
                         LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING id, url, created_at, last_synced_at, last_error, entries""",
        now,
        before,
    )
    return None if row is None else Blocklist(**record_dict(row))


async def select_blocklist_domains(conn: Connection, blocklist_id: int) -> list[str]:
    """The domains whose policy came from this list."""
    rows = await conn.fetch(
        "SELECT domain FROM domain_policies WHERE blocklist_id = $1 ORDER BY domain",
        blocklist_id,
    )
    return [row["domain"] for row in rows]


async def update_blocklist_synced(
    conn: Connection, blocklist_id: int, *, now: datetime, error: str, entries: int | None
) -> None:
    """Record a sync: when, why it failed ('' when it did not), its entry count when read."""
    await conn.execute(
        """UPDATE domain_blocklists
              SET last_synced_at = $2, last_error = $3, entries = coalesce($4, entries)
            WHERE id = $1""",
        blocklist_id,
        now,
        error[:2000],
        entries,
    )


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


async def territory_within(conn: Connection, territory_id: int, ancestor_ids: list[int]) -> bool:
    """Whether a territory is one of these or below one of them."""
    if not ancestor_ids:
        return False
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM territory_ancestors
                           WHERE descendant_id = $1 AND ancestor_id = ANY($2::bigint[]))""",
        territory_id,
        ancestor_ids,
    )
    return found


async def select_report_history(conn: Connection, report_id: int) -> list[Entry]:
    """What the audit log says was done about a report, oldest first."""
    rows = await conn.fetch(
        """SELECT id, created_at, account_id, actor_name, action, target, reason, details
             FROM audit_log WHERE details->>'report' = $1 ORDER BY id""",
        str(report_id),
    )
    return [Entry(**record_dict(row)) for row in rows]


@dataclass(frozen=True)
class TerritoryModerator:
    """A territory moderator, as the admins' page lists them."""

    username: str
    level: str
    code: str
    name: str


async def select_territory_moderators(conn: Connection, *, limit: int) -> list[TerritoryModerator]:
    """Every territory moderator, by territory then username."""
    rows = await conn.fetch(
        """SELECT act.username, t.level, t.code, t.name
             FROM territory_moderators m
             JOIN territories t ON t.id = m.territory_id
             JOIN accounts a ON a.id = m.account_id
             JOIN actors act ON act.id = a.actor_id
            ORDER BY t.name, act.username LIMIT $1""",
        limit,
    )
    return [TerritoryModerator(**record_dict(row)) for row in rows]
