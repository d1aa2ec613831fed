"""A citizen's data, to keep or to take elsewhere, in the shapes Mastodon users know.

- archive.zip, like Mastodon's "request your archive": outbox.json (an ActivityStreams
  OrderedCollection of every activity they published), actor.json (their actor document), and
  beside them following_accounts.csv, blocked_accounts.csv, muted_accounts.csv,
  blocked_domains.csv (Mastodon's files, which its import form reads) and calendar.ics.
- following_accounts.csv alone, in Mastodon's import format ("Account address,Show boosts,
  Notify on new posts,Languages"), because another server's import form wants that file, not a
  zip (Mastodon offers its CSV lists as separate downloads for the same reason).
- calendar.ics alone: the events they organise and those they take part in, for a calendar app.

The archive is streamed: activities are read a page at a time and written into a zip that is
sent as it grows, so a large account costs a page of memory, not its whole history.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fedicity.accounts import queries
from fedicity.activitypub.vocab import AS_CONTEXT
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events.ical import calendar
from fedicity.urls import Urls

PAGE = 500
# Events in the calendar: organised, and attended, each at most this many (soonest first).
MAX_EVENTS = 5000
CSV_HEADER = ("Account address", "Show boosts", "Notify on new posts", "Languages")
MUTES_HEADER = ("Account address", "Hide notifications")


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what was written until it is taken: zipfile writes into
    it, the response sends what it holds. It cannot seek, so zipfile writes data descriptors."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        """What was written since the last take."""
        chunk = b"".join(self._chunks)
        self._chunks.clear()
        return chunk


async def following_csv(db: Pool, actor: Actor, urls: Urls, host: str) -> bytes:
    """Whom the actor follows, as Mastodon's following_accounts.csv."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    after = 0
    async with db.acquire() as conn:
        while True:
            rows = await queries.select_followed_handles(
                conn, urls.actor(actor.username), urls.actor(""), after_id=after, limit=PAGE
            )
            for _id, local_username, remote_handle in rows:
                handle = f"{local_username}@{host}" if local_username else remote_handle
                if handle:
                    writer.writerow((handle, "true", "false", ""))
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
    return out.getvalue().encode("utf-8")


async def controls_csv(db: Pool, actor: Actor, urls: Urls, host: str, which: str) -> bytes:
    """Whom the actor blocks (`blocks`: Mastodon's blocked_accounts.csv, an address a line) or
    mutes (`mutes`: muted_accounts.csv, with whether notifications are hidden too)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if which == "mutes":
        writer.writerow(MUTES_HEADER)
    after = 0
    async with db.acquire() as conn:
        while True:
            rows = await queries.select_control_handles(
                conn, actor.id, which, urls.actor(""), after_id=after, limit=PAGE
            )
            for _id, local_username, remote_handle, notifications in rows:
                handle = f"{local_username}@{host}" if local_username else remote_handle
                if handle and which == "mutes":
                    writer.writerow((handle, "true" if notifications else "false"))
                elif handle:
                    writer.writerow((handle,))
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
    return out.getvalue().encode("utf-8")


async def blocked_domains_csv(db: Pool, actor: Actor) -> bytes:
    """The domains the actor blocks, as Mastodon's blocked_domains.csv (a domain a line)."""
    lines: list[str] = []
    after = 0
    async with db.acquire() as conn:
        while True:
            rows = await queries.select_blocked_domains(conn, actor.id, after_id=after, limit=PAGE)
            lines.extend(f"{domain}\n" for _id, domain in rows)
            if len(rows) < PAGE:
                break
            after = rows[-1][0]
    return "".join(lines).encode("utf-8")


async def calendar_ics(db: Pool, actor: Actor, urls: Urls, *, stamp: datetime) -> bytes:
    """The events the actor organises and those it takes part in, as one iCalendar."""
    me = urls.actor(actor.username)
    async with db.acquire() as conn:
        organised = await event_queries.select_by_organizer(
            conn, me, limit=MAX_EVENTS, public_only=False
        )
        attended = await event_queries.select_attended(conn, me, limit=MAX_EVENTS)
    seen: set[str] = set()
    events = []
    for event in (*organised, *attended):
        if event.uri not in seen:
            seen.add(event.uri)
            events.append(event)
    events.sort(key=lambda event: event.starts_at)
    return calendar(events, name=actor.name, stamp=stamp)


async def archive(
    db: Pool,
    actor: Actor,
    actor_document: dict[str, Any],
    urls: Urls,
    host: str,
    *,
    stamp: datetime,
) -> AsyncIterator[bytes]:
    """The zip archive, in pieces as it is made."""
    sink = _Sink()
    archive_file = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
    try:
        await asyncio.to_thread(_add, archive_file, "actor.json", _json(actor_document))
        yield sink.take()
        async for piece in _outbox(db, actor, urls, archive_file, sink):
            yield piece
        following = await following_csv(db, actor, urls, host)
        await asyncio.to_thread(_add, archive_file, "following_accounts.csv", following)
        for which, name in (("blocks", "blocked_accounts.csv"), ("mutes", "muted_accounts.csv")):
            listed = await controls_csv(db, actor, urls, host, which)
            await asyncio.to_thread(_add, archive_file, name, listed)
        domains = await blocked_domains_csv(db, actor)
        await asyncio.to_thread(_add, archive_file, "blocked_domains.csv", domains)
        ics = await calendar_ics(db, actor, urls, stamp=stamp)
        await asyncio.to_thread(_add, archive_file, "calendar.ics", ics)
        yield sink.take()
    finally:
        archive_file.close()
    yield sink.take()


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _add(archive_file: zipfile.ZipFile, name: str, data: bytes) -> None:
    with archive_file.open(name, "w") as member:
        member.write(data)


async def _outbox(
    db: Pool, actor: Actor, urls: Urls, archive_file: zipfile.ZipFile, sink: _Sink
) -> AsyncIterator[bytes]:
    """outbox.json written into the archive a page of activities at a time."""
    member = archive_file.open("outbox.json", "w")
    try:
        head = {
            "@context": AS_CONTEXT,
            "id": "outbox.json",
            "type": "OrderedCollection",
            "attributedTo": urls.actor(actor.username),
        }
        opening = json.dumps(head, ensure_ascii=False)[:-1] + ', "orderedItems": [\n'
        await asyncio.to_thread(member.write, opening.encode("utf-8"))
        after, count = 0, 0
        while True:
            async with db.acquire() as conn:
                rows = await queries.select_own_activities(
                    conn, actor.id, after_id=after, limit=PAGE
                )
            if rows:
                text = ",\n".join(json.dumps(raw, ensure_ascii=False) for _id, raw in rows)
                separator = ",\n" if count else ""
                await asyncio.to_thread(member.write, (separator + text).encode("utf-8"))
                count += len(rows)
                after = rows[-1][0]
                yield sink.take()
            if len(rows) < PAGE:
                break
        closing = f'\n], "totalItems": {count}}}\n'
        await asyncio.to_thread(member.write, closing.encode("utf-8"))
    finally:
        member.close()
    yield sink.take()
