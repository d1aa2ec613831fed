"""Subscriptions to published block lists (a URL serving Mastodon's domain-block CSV): fetched
through the instance's fetcher (address checks, federation policy, size cap, deadline), their
entries applied as policies marked with their list.

A policy an admin set is never overwritten by a list; a list's entry that disappears from it is
lifted; a fetch that fails, or a file that holds no valid line but refused ones, changes
nothing (a broken list must not lift every block at once). Two lists naming one domain: the
first to apply it keeps it until it drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.fetcher import Fetcher
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import SYSTEM, Actor
from fedicity.db.pool import Connection, Pool
from fedicity.moderation import queries
from fedicity.moderation.domains import PolicyError, entry_of, parse_csv
from fedicity.moderation.queries import Blocklist
from fedicity.sanitize import safe_url

# A published list is text: a few hundred kilobytes for the largest known ones.
MAX_LIST_BYTES = 2 * 1024 * 1024
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/octet-stream"})


@dataclass(frozen=True)
class SyncResult:
    """What one sync did, or why it did nothing."""

    url: str
    added: int = 0
    changed: int = 0
    lifted: int = 0
    kept_manual: int = 0
    error: str = ""


async def subscribe(conn: Connection, actor: Actor, url: str, *, now: datetime) -> Blocklist:
    """Subscribe to a list (synced by the worker soon, or at once by the caller)."""
    checked = safe_url(url.strip())
    if checked is None or len(checked) > 2000:
        raise PolicyError("blocklist_url_invalid", f"not a web address: {url[:100]!r}")
    async with conn.transaction():
        added = await queries.insert_blocklist(conn, checked, now=now)
        if added is None:
            raise PolicyError("blocklist_exists", f"{checked} is already subscribed")
        await audit_queries.record(conn, actor, "blocklist.subscribe", target=checked, now=now)
    return added


async def unsubscribe(conn: Connection, actor: Actor, blocklist_id: int, *, now: datetime) -> bool:
    """Unsubscribe; the list's entries are lifted with it."""
    async with conn.transaction():
        lifted = len(await queries.select_blocklist_domains(conn, blocklist_id))
        url = await queries.delete_blocklist(conn, blocklist_id)
        if url is None:
            return False
        await audit_queries.record(
            conn, actor, "blocklist.unsubscribe", target=url, details={"lifted": lifted}, now=now
        )
    return True


async def sync(
    pool: Pool, fetcher: Fetcher, blocklist: Blocklist, *, now: datetime, actor: Actor = SYSTEM
) -> SyncResult:
    """Fetch one list and apply it (no connection is held while fetching); the changes are
    recorded in the audit log as `actor`'s (the worker's: the instance itself)."""
    fetched = await fetcher.text(blocklist.url, content_types=CSV_TYPES, max_bytes=MAX_LIST_BYTES)
    if isinstance(fetched, FetchError):
        return await _failed(pool, blocklist, f"{fetched.reason.value}: {fetched.detail}", now)
    parsed = parse_csv(fetched.text)
    if parsed.errors and not parsed.entries:
        line, why = parsed.errors[0]
        return await _failed(pool, blocklist, f"no valid line (line {line}: {why})", now)
    result = SyncResult(blocklist.url)
    async with pool.acquire() as conn, conn.transaction():
        before = set(await queries.select_blocklist_domains(conn, blocklist.id))
        added = changed = kept = 0
        suspended: list[str] = []
        for entry in parsed.entries:
            existing = await queries.select_exact_domain_policy(conn, entry.domain)
            if existing is not None and existing.blocklist_id != blocklist.id:
                kept += 1  # an admin's own policy, or another list's
                continue
            if existing is not None and entry_of(existing) == entry:
                continue
            await queries.upsert_domain_policy(
                conn,
                entry.domain,
                entry.action,
                "",
                reject_media=entry.reject_media,
                reject_reports=entry.reject_reports,
                public_comment=entry.public_comment,
                obfuscate=entry.obfuscate,
                blocklist_id=blocklist.id,
                end_exchanges=False,
            )
            if entry.action == "suspend" and (existing is None or existing.action != "suspend"):
                suspended.append(entry.domain)
            if existing is None:
                added += 1
            else:
                changed += 1
        listed = {entry.domain for entry in parsed.entries}
        gone = sorted(before - listed)
        for domain in gone:
            await queries.delete_domain_policy(conn, domain)
        # Once for the whole list: a list of a thousand suspensions is one pass, not a thousand.
        ended = await queries.end_suspended_exchanges(conn, suspended)
        await queries.update_blocklist_synced(
            conn, blocklist.id, now=now, error="", entries=len(parsed.entries)
        )
        result = SyncResult(blocklist.url, added, changed, len(gone), kept)
        if added or changed or gone:
            await audit_queries.record(
                conn,
                actor,
                "blocklist.sync",
                target=blocklist.url,
                details={
                    "added": added,
                    "changed": changed,
                    "lifted": gone[:500],
                    "follows_ended": ended.follows,
                    "deliveries_cancelled": ended.deliveries,
                },
                now=now,
            )
    return result


async def _failed(pool: Pool, blocklist: Blocklist, error: str, now: datetime) -> SyncResult:
    async with pool.acquire() as conn:
        await queries.update_blocklist_synced(
            conn, blocklist.id, now=now, error=error, entries=None
        )
    return SyncResult(blocklist.url, error=error)


async def sync_due(pool: Pool, fetcher: Fetcher, *, now: datetime, period: timedelta) -> int:
    """Sync every list not synced for `period`, one at a time; how many were synced."""
    synced = 0
    while True:
        async with pool.acquire() as conn:
            due = await queries.claim_due_blocklist(conn, now=now, before=now - period)
        if due is None:
            return synced
        await sync(pool, fetcher, due, now=now)
        synced += 1


async def sync_all(
    pool: Pool, fetcher: Fetcher, *, now: datetime, actor: Actor = SYSTEM
) -> list[SyncResult]:
    """Sync every list now (the command line's `policy sync`, the admin page's button)."""
    async with pool.acquire() as conn:
        lists = await queries.select_blocklists(conn)
    return [await sync(pool, fetcher, blocklist, now=now, actor=actor) for blocklist in lists]
