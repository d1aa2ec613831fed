"""Followed calendar feeds, served by a real HTTP server on 127.0.0.1: imported as events of a
local organisation through the events service (so the followers get the Create, the Update and
the cancellation), edited and re-imported without duplicates, a 304 changing nothing, failing
servers leaving the source with its reason and the events untouched, the OpenAgenda JSON path,
leases, and hostile feeds read into rows or reasons."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.audit.models import SYSTEM, cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events.models import Event
from fedicity.follows import queries as follow_queries
from fedicity.imports import feeds, queries
from fedicity.imports.ical import parse_ical
from fedicity.imports.models import FeedRefused, ParsedFeed
from fedicity.imports.openagenda import parse_openagenda
from fedicity.imports.text import Window
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import service as organizations
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app
from fedicity.workers.federation import Federation, start_federation
from fedicity.workers.loops import default_loops
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor
from tests.territory_helpers import import_slice
from tests.web.test_accounts_web import _csrf, _log_in, _register

BOB = "https://social.invalid/users/bob"
BOB_INBOX = "https://social.invalid/inbox"  # his shared inbox
WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), "Europe/Paris")


def _calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//asso//x//FR\r\n{body}END:VCALENDAR\r\n"


def _vevent(uid: str, summary: str, start: str, end: str, extra: str = "") -> str:
    lines = [f"UID:{uid}", f"SUMMARY:{summary}", start, end, "LOCATION:Salle des fêtes"]
    return "\r\n".join(lines) + ("\r\n" + extra.strip() if extra.strip() else "")


MARKET = _vevent(
    "market@asso.example",
    "Marché bio",
    "DTSTART;TZID=Europe/Paris:20260110T090000",
    "DTEND;TZID=Europe/Paris:20260110T130000",
    "GEO:48.8638;2.4485\r\nURL:https://asso.example/marche",
)
MEETING = _vevent(
    "meeting@asso.example",
    "Assemblée générale",
    "DTSTART:20260115T180000Z",
    "DTEND:20260115T200000Z",
)
PARTY = _vevent(
    "party@asso.example",
    "Fête de quartier",
    "DTSTART;VALUE=DATE:20260201",
    "DTEND;VALUE=DATE:20260202",
)


@dataclass
class FeedServer:
    """An HTTP server on 127.0.0.1: each path answers a status, a type, a body and an ETag,
    and 304 when asked If-None-Match with that ETag."""

    answers: dict[str, tuple[int, str, bytes, str]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        """An address on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self, path: str, body: str | bytes, *, status: int = 200, kind: str = "text/calendar"
    ) -> None:
        """Answer GET `path` with `body` (its ETag changes with it)."""
        data = body.encode() if isinstance(body, str) else body
        self.answers[path] = (status, kind, data, f'"{hash(data) & 0xFFFFFFFF:x}"')

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        path = head.split(" ", 2)[1]
        headers = {
            line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip()
            for line in head.split("\r\n")[1:]
            if ":" in line
        }
        self.requests.append({"path": path, **headers})
        status, kind, body, etag = self.answers.get(path, (404, "text/plain", b"no", '"0"'))
        if status == 200 and headers.get("if-none-match") == etag:
            status, body = 304, b""
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            f"ETag: {etag}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):  # the client stopped reading a refused body
            await writer.drain()
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    """A feed server, started."""
    running = FeedServer()
    listening = await asyncio.start_server(running._handle, "127.0.0.1", 0)
    running.port = listening.sockets[0].getsockname()[1]
    try:
        yield running
    finally:
        listening.close()
        await listening.wait_closed()


@dataclass
class World:
    """An instance serving Montreuil, an association that follows feeds, Bob following it."""

    pool: Pool
    federation: Federation
    env: feeds.FeedEnv
    clock: FrozenClock
    asso: Actor

    async def events(self) -> list[Event]:
        """The association's events, by start."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT uri FROM events WHERE local_actor_id = $1 ORDER BY starts_at, id",
                self.asso.id,
            )
            found = [await event_queries.select_event(conn, r["uri"]) for r in rows]
        return [e for e in found if e is not None]

    async def queued_to_bob(self) -> list[str]:
        """The types of the activities queued for Bob, in order."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT o.type, o.raw FROM deliveries d
                     JOIN outbox_activities o ON o.id = d.activity_id
                    WHERE d.inbox = $1 ORDER BY d.id""",
                BOB_INBOX,
            )
        return [
            "Cancel" if r["raw"]["object"].get("ical:status") == "CANCELLED" else r["type"]
            for r in rows
            if r["raw"]["object"].get("type") == "Event"
        ]

    async def source(self, source_id: int) -> Any:
        """The source as stored."""
        async with self.pool.acquire() as conn:
            return await queries.select_source(conn, source_id)

    async def due(self) -> int:
        """Run the worker's step as the loop does."""
        return await feeds.fetch_due(self.pool, self.federation.fetcher, self.env)


@pytest.fixture
async def world(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[World]:
    """The instance, its association and Bob, the fetcher allowed to reach loopback."""
    await import_slice(pool, tmp_path)
    config = replace(
        settings,
        territory_level="commune",
        territory_code="93048",
        allow_private_addresses=True,
    )
    await prepare_serving(pool, config)
    urls = Urls(config.base_url)
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="correct horse", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        asso = await organizations.create(
            conn,
            creator=camille,
            username="asso",
            organization_kind="association",
            keygen=keygen,
            env=organizations.Env(urls=urls, clock=clock),
        )
        await follow_queries.upsert_follow(
            conn,
            follower=BOB,
            followee=urls.actor("asso"),
            activity_uri=None,
            accepted=True,
            now=clock.now(),
        )
    await seed_remote_actor(pool, BOB, fixed_keypairs()[4], clock.now())
    federation = await start_federation(pool, config, clock=clock, keygen=keygen)
    env = feeds.feed_env(urls, clock, keygen, config)
    try:
        yield World(pool, federation, env, clock, asso)
    finally:
        await federation.close()


async def test_a_feed_is_imported_edited_and_reimported_without_duplicates(
    world: World, server: FeedServer
) -> None:
    # Given an association's calendar of three events, followed for the association
    server.serve("/agenda.ics", _calendar(MARKET, MEETING, PARTY))
    async with world.pool.acquire() as conn:
        source = await feeds.add_feed(
            conn, world.env, actor=cli_actor(), owner=world.asso, url=server.url("/agenda.ics")
        )
        with pytest.raises(feeds.FeedError) as twice:
            await feeds.add_feed(
                conn, world.env, actor=cli_actor(), owner=world.asso, url=source.label
            )
        assert twice.value.code == "feed_exists"
        with pytest.raises(feeds.FeedError) as script:
            await feeds.add_feed(
                conn, world.env, actor=cli_actor(), owner=world.asso, url="javascript:alert(1)"
            )
        assert script.value.code == "feed_url_invalid"
        actions = await conn.fetch("SELECT action, target FROM audit_log ORDER BY id")
    assert [(a["action"], a["target"]) for a in actions] == [("import.feed_add", source.label)]
    assert source.detect_format
    # When the worker's step runs
    assert await world.due() == 1
    assert await world.due() == 0  # fetched, and not due again before the interval
    events = await world.events()
    assert [e.title for e in events] == ["Marché bio", "Assemblée générale", "Fête de quartier"]
    market, meeting, party = events
    assert market.timezone == "Europe/Paris"
    assert market.starts_at == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    assert (market.location.latitude, market.location.longitude) == (48.8638, 2.4485)
    assert market.external_url == "https://asso.example/marche"
    assert market.territory_id is not None  # located in the owner's served territory
    assert meeting.starts_at == datetime(2026, 1, 15, 18, 0, tzinfo=UTC)
    assert party.all_day
    assert party.starts_at == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert await world.queued_to_bob() == ["Create", "Create", "Create"]
    fetched = await world.source(source.id)
    assert fetched.last_error is None
    assert fetched.etag is not None
    assert fetched.next_fetch_at == world.clock.now() + timedelta(minutes=60)
    assert fetched.last_report["created"] == 3
    async with world.pool.acquire() as conn:
        (origin,) = await queries.provenance_of(conn, "event", market.id)
    assert (origin.external_id, origin.source_label) == ("market@asso.example", source.label)

    # An unchanged feed answers 304 to the conditional GET: nothing changes, nothing is sent
    world.clock.advance(timedelta(minutes=61))
    assert await world.due() == 1
    assert server.requests[-1]["if-none-match"] == fetched.etag
    assert (await world.source(source.id)).last_report["not_modified"] is True
    assert await world.queued_to_bob() == ["Create", "Create", "Create"]

    # The feed is edited: the market moves, the meeting is removed, the party stays; a new
    # SEQUENCE alone changes nothing
    moved = MARKET.replace("T090000", "T100000").replace("Marché bio", "Marché bio et local")
    server.serve("/agenda.ics", _calendar(moved, PARTY.replace("UID:", "SEQUENCE:3\r\nUID:")))
    world.clock.advance(timedelta(minutes=61))
    assert await world.due() == 1
    after = await world.events()
    assert [e.id for e in after] == [market.id, meeting.id, party.id]  # none duplicated
    assert after[0].title == "Marché bio et local"
    assert after[0].starts_at == datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    assert after[1].status == "cancelled"
    assert after[2].status == "confirmed"
    assert await world.queued_to_bob() == ["Create", "Create", "Create", "Update", "Cancel"]
    report = (await world.source(source.id)).last_report
    assert (report["updated"], report["cancelled"], report["unchanged"]) == (1, 1, 1)

    # The same content again (a server without validators): no Update is sent
    server.serve("/agenda.ics", _calendar(moved, PARTY) + "\r\n")
    world.clock.advance(timedelta(minutes=61))
    assert await world.due() == 1
    assert await world.queued_to_bob() == ["Create", "Create", "Create", "Update", "Cancel"]
    assert (await world.source(source.id)).last_report["unchanged"] == 2

    # The meeting comes back to the feed: it is confirmed again, with an Update
    server.serve("/agenda.ics", _calendar(moved, MEETING, PARTY))
    world.clock.advance(timedelta(minutes=61))
    assert await world.due() == 1
    assert (await world.events())[1].status == "confirmed"
    assert (await world.queued_to_bob())[-1] == "Update"

    # STATUS:CANCELLED cancels the party
    server.serve("/agenda.ics", _calendar(moved, PARTY + "\r\nSTATUS:CANCELLED"))
    world.clock.advance(timedelta(minutes=61))
    assert await world.due() == 1
    assert (await world.events())[2].status == "cancelled"
    assert (await world.queued_to_bob())[-1] == "Cancel"


async def test_failures_keep_the_source_with_its_reason_and_the_events_untouched(
    world: World, server: FeedServer, settings: Settings, keygen: FixedKeys
) -> None:
    world_settings = settings
    server.serve("/agenda.ics", _calendar(MARKET, MEETING))
    async with world.pool.acquire() as conn:
        source = await feeds.add_feed(
            conn,
            world.env,
            actor=cli_actor(),
            owner=world.asso,
            url=server.url("/agenda.ics"),
            format="ical",
        )
    report = await feeds.fetch_now(
        world.pool, world.federation.fetcher, world.env, actor=cli_actor(), source_id=source.id
    )
    assert report.created == 2
    before = await world.events()

    async def fails_with(expected: str) -> None:
        world.clock.advance(timedelta(hours=2))
        assert await world.due() == 1
        failed = await world.source(source.id)
        assert failed.last_error.startswith(expected), failed.last_error
        assert failed.active
        assert world.clock.now() < failed.next_fetch_at <= world.clock.now() + timedelta(hours=1)
        assert failed.locked_until is None
        assert await world.events() == before

    server.serve("/agenda.ics", "oops", status=500)
    await fails_with("http_error")
    assert (await world.source(source.id)).attempts == 1
    server.serve("/agenda.ics", b"BEGIN:VCALENDAR\r\n" + b"X" * (10 * 1024 * 1024))
    await fails_with("too_large")
    server.serve("/agenda.ics", "BEGIN:VCALENDAR\r\ngarbage no colon\r\n")
    await fails_with("unreadable")
    too_many = [
        _vevent(f"n{i}", "x", "DTSTART:20260110T090000Z", "DTEND:20260110T100000Z")
        for i in range(2001)
    ]
    server.serve("/agenda.ics", _calendar(*too_many))
    await fails_with("too_many_events")
    assert (await world.source(source.id)).attempts == 4
    # A refused connection: the server's port is closed
    async with world.pool.acquire() as conn:
        await conn.execute(
            "UPDATE import_sources SET url = $2 WHERE id = $1",
            source.id,
            "http://127.0.0.1:9/agenda.ics",
        )
    await fails_with("connection_error")

    # A leased source is not claimed by a second worker; an ended lease is
    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE import_sources SET next_fetch_at = $1", world.clock.now())
        now = world.clock.now()
        first = await queries.claim_due_feed(conn, now=now, lease_until=now + feeds.LEASE)
        second = await queries.claim_due_feed(conn, now=now, lease_until=now + feeds.LEASE)
        later = now + feeds.LEASE + timedelta(seconds=1)
        again = await queries.claim_due_feed(conn, now=later, lease_until=later + feeds.LEASE)
    assert first is not None
    assert first.id == source.id
    assert second is None
    assert again is not None
    assert again.id == source.id
    with pytest.raises(feeds.FeedError):
        await feeds.fetch_now(
            world.pool, world.federation.fetcher, world.env, actor=SYSTEM, source_id=source.id
        )

    # Without FEDICITY_ALLOW_PRIVATE_ADDRESSES the address policy refuses a loopback feed
    async with world.pool.acquire() as conn:
        await conn.execute(
            "UPDATE import_sources SET url = $2, locked_until = NULL WHERE id = $1",
            source.id,
            server.url("/agenda.ics"),
        )
        closed = await queries.select_source(conn, source.id)
    assert closed is not None
    strict = await start_federation(
        world.pool,
        replace(world_settings, allow_private_addresses=False),
        clock=world.clock,
        keygen=keygen,
    )
    try:
        refused = await feeds.fetch_feed(world.pool, strict.fetcher, world.env, closed)
    finally:
        await strict.close()
    assert refused.error.startswith("blocked_address"), refused
    assert await world.events() == before

    # The worker process runs this step as its "import-feeds" loop
    loops = default_loops(world.federation, world.env.urls, world.clock)
    assert "import-feeds" in [loop.name for loop in loops]

    # A suspended owner's feed is paused, with its reason
    async with world.pool.acquire() as conn:
        await moderation_queries.upsert_restriction(
            conn,
            actor_uri=world.env.urls.actor("asso"),
            local_actor_id=world.asso.id,
            level="suspend",
            reason="test",
            now=world.clock.now(),
        )
        await conn.execute("UPDATE import_sources SET locked_until = NULL")
    world.clock.advance(timedelta(hours=2))
    assert await world.due() == 1
    paused = await world.source(source.id)
    assert not paused.active
    assert paused.last_error.startswith("owner_suspended")
    assert await world.due() == 0
    assert await world.events() == before


async def test_an_openagenda_export_takes_the_same_path(world: World, server: FeedServer) -> None:
    document = {
        "events": [
            {
                "uid": 4242,
                "title": {"fr": "Atelier vélo", "en": "Bike workshop"},
                "description": {"fr": "Réparez votre vélo"},
                "longDescription": {"fr": "<p>Venez <b>réparer</b></p><script>x()</script>"},
                "keywords": {"fr": ["vélo", "atelier participatif"]},
                "timings": [
                    {"begin": "2026-01-20T14:00:00+0100", "end": "2026-01-20T17:00:00+0100"},
                    {"begin": "2026-01-27T14:00:00+0100", "end": "2026-01-27T17:00:00+0100"},
                ],
                "location": {
                    "name": "La Maison",
                    "address": "1 rue de Paris",
                    "city": "Montreuil",
                    "postalCode": "93100",
                    "latitude": 48.86,
                    "longitude": 2.44,
                },
                "image": "javascript:alert(1)",
                "registration": [{"type": "link", "value": "https://asso.example/inscription"}],
            },
            {"uid": 7, "title": {"fr": "Annulé"}, "status": 6, "timings": []},
        ]
    }
    server.serve("/oa.json", json.dumps(document), kind="application/json")
    async with world.pool.acquire() as conn:
        source = await feeds.add_feed(
            conn, world.env, actor=cli_actor(), owner=world.asso, url=server.url("/oa.json")
        )
    assert await world.due() == 1
    stored = await world.source(source.id)
    assert stored.kind == "openagenda"  # "auto" read it from the answer
    first, second = await world.events()
    assert first.title == second.title == "Atelier vélo"
    assert first.starts_at == datetime(2026, 1, 20, 13, 0, tzinfo=UTC)
    assert first.location.locality == "Montreuil"
    assert first.image_url is None
    assert first.external_url == "https://asso.example/inscription"
    assert "<script>" not in first.description_html
    assert "x()" not in first.description_html
    assert "réparer" in first.description_html
    assert set(first.tags) == {"vélo", "atelierparticipatif"}
    assert stored.last_report["skipped_rows"] == [
        {"position": 2, "id": "7", "reason": "timings_missing"}
    ]
    # The second timing is dropped: that occurrence is cancelled, the first is unchanged
    document["events"][0]["timings"] = document["events"][0]["timings"][:1]  # type: ignore[index]
    server.serve("/oa.json", json.dumps(document), kind="application/json")
    world.clock.advance(timedelta(hours=2))
    assert await world.due() == 1
    assert [e.status for e in await world.events()] == ["confirmed", "cancelled"]


def _parsed(result: ParsedFeed | FeedRefused) -> ParsedFeed:
    assert isinstance(result, ParsedFeed), result
    return result


def test_hostile_ical_rows_are_skipped_with_their_reason() -> None:
    huge = "A" * (10 * 1024 * 1024)
    feed = _calendar(
        _vevent(
            "ok",
            "Bal\x00 masqué",
            "DTSTART:20260110T200000",
            "DTEND:20260110T230000",
            "URL:javascript:alert(1)\r\nDESCRIPTION:<img src=x onerror=alert(1)>Hello",
        ),
        _vevent("old", "Très vieux", "DTSTART:00010110T200000Z", "DTEND:00010110T230000Z"),
        _vevent("far", "Très loin", "DTSTART:99991231T200000Z", "DTEND:99991231T230000Z"),
        _vevent("back", "À rebours", "DTSTART:20260110T200000Z", "DTEND:20260109T230000Z"),
        _vevent("u" * 1001, "Trop long", "DTSTART:20260110T200000Z", ""),
        "SUMMARY:Sans UID\r\nDTSTART:20260110T200000Z",
        _vevent("big", "Grand texte", "DTSTART:20260111T200000Z", "", f"DESCRIPTION:{huge}"),
        _vevent(
            "weekly",
            "Chorale",
            "DTSTART;TZID=Europe/Paris:20260105T190000",
            "DTEND;TZID=Europe/Paris:20260105T210000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
        ),
        _vevent("spam", "Chaque seconde", "DTSTART:20260105T190000Z", "", "RRULE:FREQ=SECONDLY"),
    ).replace(
        "END:VCALENDAR",
        "BEGIN:X-GARBAGE\r\nBEGIN:VEVENT\r\nUID:nested\r\n"
        "SUMMARY:Niché\r\nDTSTART:20260112T100000Z\r\nLOCATION:Ici\r\nEND:VEVENT\r\n"
        "END:X-GARBAGE\r\nEND:VCALENDAR",
    )
    parsed = _parsed(parse_ical(feed, window=WINDOW))
    by_id = {e.external_id: e for e in parsed.events}
    ok = by_id["ok"]
    assert ok.title == "Bal masqué"
    assert ok.url is None
    assert ok.description == "Hello"
    # A floating time is in FEDICITY_TIMEZONE
    assert ok.starts_at == datetime(2026, 1, 10, 19, 0, tzinfo=UTC)
    assert len(by_id["big"].description) <= 10_000
    assert "nested" in by_id
    chorale = sorted(e.starts_at for e in parsed.events if e.external_id.startswith("weekly#"))
    # Expanded weekly over the next six months, from the first Monday
    assert chorale[0] == datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    assert 25 <= len(chorale) <= 28
    reasons = {s.external_id or f"#{s.position}": s.reason for s in parsed.skipped}
    assert reasons["old"] == "date_out_of_range"
    assert reasons["far"] in ("start_unreadable", "date_out_of_range", "too_far_ahead")
    assert reasons["back"] == "ends_before_start"
    assert "uid_too_long" in reasons.values()
    assert "uid_missing" in reasons.values()
    assert reasons["spam"] == "recurrence_too_frequent"

    # Twenty thousand nested components around a VEVENT: read, not a crash
    nested = (
        "BEGIN:VCALENDAR\r\n"
        + "BEGIN:X-A\r\n" * 20_000
        + _calendar(MEETING).split("\r\n", 3)[3].replace("END:VCALENDAR\r\n", "")
        + "END:X-A\r\n" * 20_000
        + "END:VCALENDAR\r\n"
    )
    assert [e.external_id for e in _parsed(parse_ical(nested, window=WINDOW)).events] == [
        "meeting@asso.example"
    ]
    refused = parse_ical("garbage\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT", window=WINDOW)
    assert isinstance(refused, FeedRefused)
    assert refused.code == "not_icalendar"
    for hostile in ("{}", '{"events": 3}', "[" * 100_000, '{"events": [1, "x", null]}'):
        result = parse_openagenda(hostile, window=WINDOW)
        if isinstance(result, ParsedFeed):
            assert result.events == ()
            assert [s.reason for s in result.skipped] == ["not_an_object"] * 3
        else:
            assert result.code in ("unreadable", "not_openagenda")
    assert feeds.detect_format("BEGIN:VCALENDAR\r\n") == "ical"
    assert feeds.detect_format('{"events": []}') == "openagenda"
    assert feeds.detect_format("<html>") is None


async def test_admins_follow_fetch_and_stop_feeds_and_the_event_page_says_where_it_came_from(
    world: World, server: FeedServer, settings: Settings, keygen: FixedKeys
) -> None:
    server.serve("/agenda.ics", _calendar(MARKET))
    config = replace(settings, allow_private_addresses=True, territory_code="93048")
    app = create_app(config, pool=world.pool, clock=world.clock, keygen=keygen)
    async with app.test_app():
        client = app.test_client()
        await _register(world.pool, keygen, "root_admin", is_admin=True)
        await _register(world.pool, keygen, "someone")
        await _log_in(client, "someone")
        assert (await client.get("/admin/imports")).status_code == 403
        client = app.test_client()
        await _log_in(client, "root_admin")
        token = await _csrf(client, "/admin/imports")
        form = {"csrf_token": token, "url": server.url("/agenda.ics"), "format": "auto"}
        # Refusals are precise 400s, never a 500
        for changes, words in (
            ({"owner": "nobody"}, "Aucun compte"),
            ({"owner": "asso", "url": "javascript:alert(1)"}, "adresse web"),
            ({"owner": "asso", "format": "rss"}, "Choisissez un format"),
            ({"owner": "asso", "url": "x" * 5000}, "adresse web"),
        ):
            refused = await client.post("/admin/imports", form={**form, **changes})
            assert refused.status_code == 400
            text = await refused.get_data(as_text=True)
            assert words in text, text[text.find("<main") :][:1500]
        added = await client.post("/admin/imports", form={**form, "owner": "asso"})
        assert added.status_code == 303
        page = await (await client.get("/admin/imports")).get_data(as_text=True)
        assert server.url("/agenda.ics") in page
        assert "1 nouveaux" in page
        (event,) = await world.events()
        shown = await (await client.get(f"/events/{event.token}")).get_data(as_text=True)
        assert "Importé depuis" in shown
        assert f'href="{server.url("/agenda.ics")}"' in shown
        async with world.pool.acquire() as conn:
            (source, count, owner) = (await queries.select_feeds(conn))[0]
        assert (count, owner) == (1, "asso")
        fetched = await client.post(f"/admin/imports/{source.id}/fetch", form={"csrf_token": token})
        assert fetched.status_code == 303
        for path in (
            "/admin/imports/99/fetch",
            "/admin/imports/x1/fetch",
            "/admin/imports/1e9/stop",
        ):
            assert (await client.post(path, form={"csrf_token": token})).status_code == 404
        stopped = await client.post(f"/admin/imports/{source.id}/stop", form={"csrf_token": token})
        assert stopped.status_code == 303
        assert not (await world.source(source.id)).active
        async with world.pool.acquire() as conn:
            actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log")]
        assert actions == [
            "import.feed_add",
            "import.feed_fetch",
            "import.feed_fetch",
            "import.feed_stop",
        ]
        # An admin of the organisation follows a calendar from its page; the worker fetches it
        camille = app.test_client()
        await _log_in(camille, "camille")
        org_token = await _csrf(camille, "/organizations/asso")
        server.serve("/club.ics", _calendar(MEETING))
        followed = await camille.post(
            "/organizations/asso/feed",
            form={"csrf_token": org_token, "url": server.url("/club.ics"), "format": "ical"},
        )
        assert followed.status_code == 303
        refused = await camille.post(
            "/organizations/asso/feed",
            form={"csrf_token": org_token, "url": "javascript:x", "format": "ical"},
        )
        assert "error=feed_url_invalid" in refused.headers["Location"]
        assert await world.due() == 1
        org_page = await (await camille.get("/organizations/asso")).get_data(as_text=True)
        assert server.url("/club.ics") in org_page
        assert "Agendas importés" in org_page
        async with world.pool.acquire() as conn:
            club = (await queries.select_feeds(conn))[0][0]
        assert club.url == server.url("/club.ics")
        assert len(await world.events()) == 2
        # Someone else's calendar cannot be stopped from this page
        foreign = await camille.post(
            "/organizations/asso/feed_stop", form={"csrf_token": org_token, "source": "99"}
        )
        assert "error=feed_unknown" in foreign.headers["Location"]
        ended = await camille.post(
            "/organizations/asso/feed_stop", form={"csrf_token": org_token, "source": str(club.id)}
        )
        assert ended.status_code == 303
        assert not (await world.source(club.id)).active
        # Nobody else may follow calendars for the organisation
        await _register(world.pool, keygen, "outsider")
        outsider = app.test_client()
        await _log_in(outsider, "outsider")
        out_token = await _csrf(outsider, "/organizations/asso")
        denied = await outsider.post(
            "/organizations/asso/feed",
            form={"csrf_token": out_token, "url": server.url("/x.ics"), "format": "ical"},
        )
        assert "error=" in denied.headers["Location"]
        async with world.pool.acquire() as conn:
            assert len(await queries.select_feeds(conn)) == 2
        # A person follows a calendar for themselves from their settings
        mine = await _csrf(camille, "/settings")
        own = await camille.post(
            "/settings/calendars",
            form={"csrf_token": mine, "url": server.url("/mine.ics"), "format": "auto"},
        )
        assert own.status_code == 303
        bad = await camille.post(
            "/settings/calendars", form={"csrf_token": mine, "url": "ftp://x", "format": "auto"}
        )
        assert "error=feed_url_invalid" in bad.headers["Location"]
        shown_error = await camille.get(bad.headers["Location"].split("#")[0])
        assert "adresse web" in await shown_error.get_data(as_text=True)
        async with world.pool.acquire() as conn:
            camille_id = await conn.fetchval("SELECT id FROM actors WHERE username = 'camille'")
            (own_feed,) = await queries.select_feeds(conn, owner_actor_id=camille_id)
        settings_page = await (await camille.get("/settings")).get_data(as_text=True)
        assert server.url("/mine.ics") in settings_page
        other = await camille.post(f"/settings/calendars/{club.id}/stop", form={"csrf_token": mine})
        assert "error=feed_unknown" in other.headers["Location"]
        await camille.post(f"/settings/calendars/{own_feed[0].id}/stop", form={"csrf_token": mine})
        assert not (await world.source(own_feed[0].id)).active
