"""Followed calendar feeds (iCalendar, OpenAgenda JSON): following and stopping, and fetching
one: through the process's Fetcher (address policy, size cap, deadline, redirects checked,
conditional GET), read by its parser, applied in ONE transaction (all or nothing).

Applying makes every occurrence a local event organised by the feed's owner through the events
service, so it federates as a hand-made event does. A row is recognised by its UID (its
provenance); it is updated only when what was read changed (its digest), cancelled when the
feed says CANCELLED, and cancelled too when it vanishes from the feed before it has ended, as
calendar apps do with a removed event.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from fedicity.activitypub import retry
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.fetcher import Fetcher
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.errors import DomainError
from fedicity.events import queries as event_queries
from fedicity.events import service as events
from fedicity.events.models import Event, Location
from fedicity.imports import queries
from fedicity.imports.ical import parse_ical
from fedicity.imports.models import FeedEvent, FeedFormat, FeedRefused, ImportSource, ParsedFeed
from fedicity.imports.openagenda import parse_openagenda
from fedicity.imports.text import MAX_FEED_BYTES, Window, as_markdown
from fedicity.located.models import point_problem
from fedicity.moderation import queries as moderation_queries
from fedicity.sanitize import safe_url
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import is_served, served_root
from fedicity.urls import Urls

_log = logging.getLogger(__name__)

FormatChoice = Literal["auto", "ical", "openagenda"]
FORMAT_CHOICES: tuple[FormatChoice, ...] = ("auto", "ical", "openagenda")
FEED_TYPES = frozenset(
    {
        "text/calendar",
        "application/json",
        "text/json",
        "application/ld+json",
        "text/plain",
        "application/octet-stream",
    }
)
# A fetch holds its feed this long: past it, another worker may take the feed again.
LEASE = timedelta(minutes=10)
_SKIPPED_KEPT = 50
_TAG_CHARACTERS = re.compile(r"\W+")


class FeedError(DomainError):
    """Following a feed was refused; `code` says why."""


@dataclass(frozen=True)
class FeedEnv:
    """What applying a feed needs: the events service's, the zone of floating times, the
    period between fetches and the served territory."""

    urls: Urls
    clock: Clock
    keygen: KeyGenerator
    zone: str = "Europe/Paris"
    interval: timedelta = timedelta(minutes=60)
    territory_level: str = "commune"
    territory_code: str = ""


@dataclass(frozen=True)
class FetchReport:
    """What one fetch did, or why it did nothing (`error`)."""

    source_id: int
    not_modified: bool = False
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    unchanged: int = 0
    skipped: int = 0
    error: str = ""
    paused: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as the admins' page shows it."""
        return dict(self.__dict__)


async def add_feed(
    conn: Connection,
    env: FeedEnv,
    *,
    actor: AuditActor,
    owner: Actor,
    url: str,
    format: str = "auto",
) -> ImportSource:
    """Follow a feed for `owner` (an organisation or a person): due at once. Following again a
    feed that was stopped resumes it."""
    checked = safe_url(url.strip())
    if checked is None or len(checked) > 2048:
        raise FeedError("feed_url_invalid", f"not a web address: {url[:100]!r}")
    if format not in FORMAT_CHOICES:
        raise FeedError("feed_format_invalid", "the format is auto, ical or openagenda")
    if owner.kind not in ("person", "organization") or owner.deleted_at is not None:
        raise FeedError(
            "feed_owner_invalid", "events are attributed to a person or an organisation"
        )
    now = env.clock.now()
    async with conn.transaction():
        existing = await queries.select_feed(conn, checked, owner.id)
        if existing is not None and existing.active:
            raise FeedError("feed_exists", f"{checked} is already followed for {owner.username}")
        if existing is not None:
            source = await queries.set_active(conn, existing.id, True, now=now)
            assert source is not None
        else:
            kind: FeedFormat = "openagenda" if format == "openagenda" else "ical"
            source = await queries.ensure_source(
                conn,
                kind,
                checked,
                url=checked,
                owner_actor_id=owner.id,
                created_by=actor.account_id,
                now=now,
            )
        await queries.set_feed_format(conn, source.id, detect=format == "auto")
        await audit_queries.record(
            conn,
            actor,
            "import.feed_add",
            target=checked,
            details={"owner": owner.username, "format": format, "source": source.id},
            now=now,
        )
    found = await queries.select_source(conn, source.id)
    assert found is not None
    return found


async def stop_following(
    conn: Connection, env: FeedEnv, *, actor: AuditActor, source_id: int
) -> bool:
    """Stop fetching a feed; its events and their provenance stay."""
    async with conn.transaction():
        stopped = await queries.set_active(
            conn, source_id, False, now=env.clock.now(), error="stopped by an admin"
        )
        if stopped is None:
            return False
        await audit_queries.record(
            conn, actor, "import.feed_stop", target=stopped.label, now=env.clock.now()
        )
    return True


def detect_format(text: str, content_type: str | None = None) -> FeedFormat | None:
    """A feed's format from its media type, else from its first characters."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "text/calendar":
        return "ical"
    head = text[:4096].lstrip("\ufeff \r\n\t")
    if head.upper().startswith("BEGIN:VCALENDAR"):
        return "ical"
    if head.startswith("{") or media in ("application/json", "text/json"):
        return "openagenda"
    return None


def parse_feed(text: str, source: ImportSource, window: Window) -> ParsedFeed | FeedRefused:
    """The feed read by the parser of its format (detected when it was added as "auto")."""
    kind: FeedFormat | None = "openagenda" if source.kind == "openagenda" else "ical"
    if source.detect_format:
        kind = detect_format(text)
        if kind is None:
            return FeedRefused("format_unknown", "neither iCalendar nor OpenAgenda JSON")
    if kind == "openagenda":
        return parse_openagenda(text, window=window)
    return parse_ical(text, window=window)


async def _owner_problem(conn: Connection, source: ImportSource) -> tuple[Actor | None, str]:
    """The feed's owner, or why its feed is paused (gone or suspended)."""
    if source.owner_actor_id is None:
        return None, "owner_gone: the account or organisation no longer exists"
    owner = await actor_queries.select_actor_by_id(conn, source.owner_actor_id)
    if owner is None or owner.deleted_at is not None:
        return None, "owner_gone: the account or organisation was closed"
    if await moderation_queries.select_local_restriction(conn, owner.id) == "suspend":
        return None, "owner_suspended: the owner is suspended"
    return owner, ""


async def fetch_feed(
    pool: Pool, fetcher: Fetcher, env: FeedEnv, source: ImportSource
) -> FetchReport:
    """Fetch one feed (held by the caller's lease) and apply it; a failure is kept on the
    source with its reason and retried with back-off; nothing else changes."""
    now = env.clock.now()
    async with pool.acquire() as conn:
        owner, problem = await _owner_problem(conn, source)
        if owner is None:
            await queries.set_active(conn, source.id, False, now=now, error=problem)
            return FetchReport(source.id, error=problem, paused=True)
    assert source.url is not None
    fetched = await fetcher.text(
        source.url,
        content_types=FEED_TYPES,
        max_bytes=MAX_FEED_BYTES,
        etag=source.etag,
        last_modified=source.last_modified,
    )
    if isinstance(fetched, FetchError):
        return await _failed(
            pool, env, source, f"{fetched.reason.value}: {fetched.detail}", fetched.status
        )
    next_fetch = now + env.interval
    if fetched.status == 304:
        report = FetchReport(source.id, not_modified=True)
        async with pool.acquire() as conn:
            await queries.feed_fetched(
                conn,
                source.id,
                now=now,
                next_fetch_at=next_fetch,
                kind=source.kind,
                etag=fetched.etag or source.etag,
                last_modified=fetched.last_modified or source.last_modified,
                report=report.as_dict(),
            )
        return report
    parsed = parse_feed(fetched.text, source, Window(now, env.zone))
    if isinstance(parsed, FeedRefused):
        return await _failed(pool, env, source, str(parsed), None)
    async with pool.acquire() as conn, conn.transaction():
        locked = await queries.lock_feed(conn, source.id)
        if locked is None or not locked.active:
            return FetchReport(source.id, error="stopped while it was fetched")
        report, skipped = await apply_feed(conn, env, locked, owner, parsed)
        await queries.feed_fetched(
            conn,
            source.id,
            now=now,
            next_fetch_at=next_fetch,
            kind=parsed.format,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            report={**report.as_dict(), "format": parsed.format, "skipped_rows": skipped},
        )
    return report


async def _failed(
    pool: Pool, env: FeedEnv, source: ImportSource, error: str, status: int | None
) -> FetchReport:
    now = env.clock.now()
    # The deliveries' curve; past its last try (or for a permanent refusal) the feed is still
    # fetched at its ordinary interval: a feed is never dropped, its error stays for the admins.
    delay = retry.next_delay(source.attempts + 1, status) or env.interval
    async with pool.acquire() as conn:
        await queries.feed_failed(
            conn, source.id, now=now, next_fetch_at=now + min(delay, env.interval), error=error
        )
    _log.info("feed %s failed: %s", source.url, error, extra={"source": source.id})
    return FetchReport(source.id, error=error)


async def fetch_due(pool: Pool, fetcher: Fetcher, env: FeedEnv) -> int:
    """The worker's step: fetch every due feed, one at a time, each under its lease."""
    done = 0
    while True:
        now = env.clock.now()
        async with pool.acquire() as conn:
            source = await queries.claim_due_feed(conn, now=now, lease_until=now + LEASE)
        if source is None:
            return done
        await fetch_feed(pool, fetcher, env, source)
        done += 1


async def fetch_now(
    pool: Pool, fetcher: Fetcher, env: FeedEnv, *, actor: AuditActor, source_id: int
) -> FetchReport:
    """Fetch a feed at once (an admin's "fetch now", the command line), under the lease."""
    now = env.clock.now()
    async with pool.acquire() as conn, conn.transaction():
        source = await queries.select_source(conn, source_id)
        if source is None or source.url is None or not source.active:
            raise FeedError("feed_unknown", f"no followed feed {source_id}")
        leased = await queries.lease_feed(conn, source_id, now=now, lease_until=now + LEASE)
        if leased is None:
            raise FeedError("feed_busy", "this feed is being fetched")
        await audit_queries.record(conn, actor, "import.feed_fetch", target=source.label, now=now)
    return await fetch_feed(pool, fetcher, env, leased)


def _tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    words = (_TAG_CHARACTERS.sub("", tag)[:64] for tag in tags)
    return tuple(dict.fromkeys(w for w in words if w))[:10]


def _input(feed_event: FeedEvent) -> events.EventInput:
    """The events service's input for one occurrence read from a feed."""
    latitude, longitude = feed_event.latitude, feed_event.longitude
    if latitude is None or longitude is None or point_problem(latitude, longitude) is not None:
        latitude = longitude = None
    return events.EventInput(
        title=feed_event.title,
        starts_at=feed_event.starts_at,
        ends_at=feed_event.ends_at,
        description=as_markdown(feed_event.description),
        timezone=feed_event.timezone,
        all_day=feed_event.all_day,
        tags=_tags(feed_event.tags),
        location=Location(
            place_name=feed_event.place_name,
            street=feed_event.street,
            postal_code=feed_event.postal_code,
            locality=feed_event.locality,
            latitude=latitude,
            longitude=longitude,
            online_url=feed_event.online_url,
        ),
        join_mode="external" if feed_event.url else "free",
        external_url=feed_event.url,
        status="cancelled" if feed_event.cancelled else "confirmed",
        image_url=feed_event.image_url,
    )


async def _place(
    conn: Connection, feed_event: FeedEvent, root: Territory | None, default: Territory | None
) -> Territory | None:
    """The served territory an occurrence happens in: its town by name or postal code when
    the feed gives one, else the owner's territory."""
    for text in (feed_event.locality, feed_event.postal_code):
        if not text or root is None:
            continue
        for match in await territory_queries.search_territories(conn, text, limit=20):
            if match.level == "commune" and await is_served(conn, root, match.id):
                return match
    return default


async def _default_place(
    conn: Connection, owner: Actor, root: Territory | None
) -> Territory | None:
    """The owner's territory when served, else the served territory itself (an organisation
    of this instance acts in it)."""
    for territory_id in (owner.home_territory_id, owner.territory_id):
        if territory_id is not None and await is_served(conn, root, territory_id):
            return await territory_queries.select_territory_by_id(conn, territory_id)
    return root


async def apply_feed(
    conn: Connection, env: FeedEnv, source: ImportSource, owner: Actor, parsed: ParsedFeed
) -> tuple[FetchReport, list[dict[str, Any]]]:
    """Apply what a feed holds, in the caller's transaction; what it did and the rows it left
    out with their reasons."""
    now = env.clock.now()
    root = await served_root(conn, env.territory_level, env.territory_code)
    default = await _default_place(conn, owner, root)
    counts = {"created": 0, "updated": 0, "cancelled": 0, "unchanged": 0}
    skipped = [
        {"position": s.position, "id": s.external_id, "reason": s.reason} for s in parsed.skipped
    ]
    present = {s.external_id for s in parsed.skipped if s.external_id}
    for feed_event in parsed.events:
        if feed_event.external_id in present:
            skipped.append(
                {
                    "position": feed_event.position,
                    "id": feed_event.external_id,
                    "reason": "uid_repeated",
                }
            )
            continue
        present.add(feed_event.external_id)
        known = await queries.select_imported(conn, source.id, feed_event.external_id)
        digest = feed_event.digest()
        event = await _event_of(conn, known.object_id) if known is not None else None
        if known is not None and known.content_hash == digest and event is not None:
            counts["unchanged"] += 1
            continue
        if known is not None and (event is None or event.deleted_at is not None):
            # Deleted here by its organiser: a feed does not bring it back.
            skipped.append(
                {
                    "position": feed_event.position,
                    "id": feed_event.external_id,
                    "reason": "deleted_here",
                }
            )
            continue
        if event is None and feed_event.cancelled:
            continue  # cancelled before we ever saw it: nothing to announce
        data = _input(feed_event)
        place = await _place(conn, feed_event, root, default)
        try:
            async with conn.transaction():  # a savepoint: a refused row leaves nothing behind
                if event is None:
                    stored = await events.create_event(
                        conn,
                        actor=owner,
                        data=data,
                        place=place,
                        root=root,
                        urls=env.urls,
                        clock=env.clock,
                        keygen=env.keygen,
                    )
                    counts["created"] += 1
                else:
                    stored = await events.update_event(
                        conn,
                        actor=owner,
                        event=event,
                        data=data,
                        place=place,
                        root=root,
                        urls=env.urls,
                        clock=env.clock,
                        keygen=env.keygen,
                    )
                    was = event.status == "cancelled"
                    counts["cancelled" if feed_event.cancelled and not was else "updated"] += 1
                await queries.record_provenance(
                    conn,
                    source,
                    "event",
                    stored.id,
                    external_id=feed_event.external_id,
                    row_number=feed_event.position,
                    content_hash=digest,
                    now=now,
                )
        except events.EventError as error:
            skipped.append(
                {
                    "position": feed_event.position,
                    "id": feed_event.external_id,
                    "reason": error.code,
                }
            )
    for row in await queries.select_source_rows(conn, source.id):
        if row.external_id in present or row.object_kind != "event":
            continue
        event = await _event_of(conn, row.object_id)
        if (
            event is None
            or event.deleted_at is not None
            or event.status == "cancelled"
            or (event.ends_at or event.starts_at) < now
        ):
            continue
        place = (
            await territory_queries.select_territory_by_id(conn, event.territory_id)
            if event.territory_id is not None
            else None
        )
        # Its digest is forgotten: should it come back to the feed, it is confirmed again.
        await queries.record_provenance(
            conn,
            source,
            "event",
            event.id,
            external_id=row.external_id,
            row_number=row.row_number,
            content_hash="vanished",
            now=now,
        )
        await events.cancel_event(
            conn,
            actor=owner,
            event=event,
            place=place,
            root=root,
            urls=env.urls,
            clock=env.clock,
            keygen=env.keygen,
        )
        counts["cancelled"] += 1
    report = FetchReport(
        source.id,
        created=counts["created"],
        updated=counts["updated"],
        cancelled=counts["cancelled"],
        unchanged=counts["unchanged"],
        skipped=len(skipped),
    )
    return report, skipped[:_SKIPPED_KEPT]


def _skip(feed_event: FeedEvent, reason: str) -> dict[str, Any]:
    return {"position": feed_event.position, "id": feed_event.external_id, "reason": reason}


async def _event_of(conn: Connection, event_id: int) -> Event | None:
    uri = await queries.select_event_uri(conn, event_id)
    return None if uri is None else await event_queries.select_event(conn, uri)


def feed_env(urls: Urls, clock: Clock, keygen: KeyGenerator, settings: Settings) -> FeedEnv:
    """The env of the worker loop and the commands, from the settings."""
    return FeedEnv(
        urls=urls,
        clock=clock,
        keygen=keygen,
        zone=settings.timezone,
        interval=timedelta(minutes=settings.import_interval_minutes),
        territory_level=settings.territory_level,
        territory_code=settings.territory_code,
    )
