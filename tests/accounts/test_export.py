"""Download my data: a zip streamed as it is made (outbox.json, actor.json, the follows as
Mastodon's CSV, the events as iCalendar), and the CSV and the calendar alone; only the owner's."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import icalendar

from fedicity.actors import queries as actor_queries
from fedicity.actors.parse import parse_remote_actor
from fedicity.db.pool import Pool
from fedicity.delivery import queries as delivery_queries
from fedicity.follows import queries as follow_queries
from tests.accounts.helpers import csrf_in, log_in, register
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.inbox_helpers import actor_document, seed_remote_actor

EVENT = {
    "title": "Repair café",
    "description": "On répare ensemble.",
    "starts_at": "2031-03-14T18:30",
    "ends_at": "2031-03-14T21:00",
    "timezone": "Europe/Paris",
    "place_name": "Maison de quartier",
    "join_mode": "free",
}


async def _event(http: httpx.AsyncClient, token: str, title: str) -> str:
    answer = await http.post("/events", data={"csrf_token": token, **EVENT, "title": title})
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


async def test_the_archive_holds_outbox_actor_follows_and_calendar(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with running_instance(pool, tmp_path, keygen) as instance:
        await register(pool, keygen, "camille", display_name="Camille")
        await register(pool, keygen, "dominique")
        me = instance.urls.actor("camille")
        # Given dominique's event, in which camille takes part
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as other:
            token = await log_in(other, "dominique")
            theirs = await _event(other, token, "Fête des voisins")
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as http:
            token = await log_in(http, "camille")
            # And camille's posts, her own event, her participation and her follows
            for text in ("Premier message", "Deuxième message, « avec des guillemets »"):
                answer = await http.post(
                    "/notes", data={"csrf_token": token, "text": text, "visibility": "public"}
                )
                assert answer.status_code == 303
            await _event(http, token, "Repair café")
            answer = await http.post(theirs + "/participate", data={"csrf_token": token})
            assert answer.status_code == 303, answer.text
            answer = await http.post(
                "/follow",
                data={"csrf_token": token, "handle": f"@dominique@{instance.settings.host}"},
            )
            assert answer.status_code == 303
            assert "follow_sent" in answer.headers["location"], answer.headers["location"]

            async def accepted() -> bool:
                async with pool.acquire() as conn:
                    found = await follow_queries.select_follow(
                        conn, me, instance.urls.actor("dominique")
                    )
                return found is not None and found.state == "accepted"

            # The worker accepts it, as it would a remote Follow
            await eventually(accepted)
            remote = "http://social.example/users/ana"
            await seed_remote_actor(pool, remote, fixed_keypairs()[-1], datetime.now(UTC))
            async with pool.acquire() as conn:
                await follow_queries.upsert_follow(
                    conn,
                    follower=me,
                    followee=remote,
                    activity_uri=None,
                    accepted=True,
                    now=datetime.now(UTC),
                )
                await follow_queries.upsert_follow(
                    conn,
                    follower=me,
                    followee="http://social.example/users/pending",
                    activity_uri=None,
                    accepted=False,
                    now=datetime.now(UTC),
                )
                # She blocks one account, mutes two (one with its notifications shown) and
                # blocks a server
                owner_id = await conn.fetchval("SELECT id FROM actors WHERE username = 'camille'")
                now = datetime.now(UTC)
                await follow_queries.insert_user_block(
                    conn,
                    owner_id=owner_id,
                    target="http://social.example/users/troll",
                    activity_uri="http://x.invalid/blocks/1",
                    now=now,
                )
                await follow_queries.upsert_user_mute(
                    conn, owner_id=owner_id, target=remote, notifications=False, now=now
                )
                await follow_queries.upsert_user_mute(
                    conn,
                    owner_id=owner_id,
                    target=instance.urls.actor("dominique"),
                    notifications=True,
                    now=now,
                )
                await follow_queries.insert_user_domain_block(
                    conn, owner_id=owner_id, domain="spam.example", now=now
                )
            troll = actor_document(
                "http://social.example/users/troll", fixed_keypairs()[-2], username="troll"
            )
            async with pool.acquire() as conn:
                await actor_queries.upsert_remote_actor(conn, parse_remote_actor(troll, now))
            settings_page = (await http.get("/settings")).text
            assert 'href="/settings/export/archive.zip"' in settings_page

            # When she downloads her archive
            answer = await http.get("/settings/export/archive.zip")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/zip"
        assert answer.headers["content-disposition"].startswith('attachment; filename="camille-')
        assert answer.headers["cache-control"] == "no-store"
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == [
            "actor.json",
            "blocked_accounts.csv",
            "blocked_domains.csv",
            "calendar.ics",
            "following_accounts.csv",
            "muted_accounts.csv",
            "outbox.json",
        ]
        # And her blocks, mutes and blocked servers are in Mastodon's files
        assert archive.read("blocked_accounts.csv").decode() == "troll@social.example\n"
        assert archive.read("muted_accounts.csv").decode().splitlines() == [
            "Account address,Hide notifications",
            "someone@social.example,false",
            f"dominique@{instance.settings.host},true",
        ]
        assert archive.read("blocked_domains.csv").decode() == "spam.example\n"
        # Then outbox.json is an ActivityStreams collection of what she published
        outbox = json.loads(archive.read("outbox.json"))
        assert outbox["type"] == "OrderedCollection"
        assert outbox["totalItems"] == len(outbox["orderedItems"])
        kinds = [item["type"] for item in outbox["orderedItems"]]
        assert kinds.count("Create") >= 3  # two notes and an event
        contents = json.dumps(outbox, ensure_ascii=False)
        assert "« avec des guillemets »" in contents
        assert "Repair café" in contents
        assert all(item["actor"] == me for item in outbox["orderedItems"])
        # And actor.json is her actor document
        actor = json.loads(archive.read("actor.json"))
        assert actor["id"] == me
        assert actor["name"] == "Camille"
        # And the follows are Mastodon's import CSV, accepted ones only
        rows = list(csv.reader(io.StringIO(archive.read("following_accounts.csv").decode())))
        assert rows[0] == ["Account address", "Show boosts", "Notify on new posts", "Languages"]
        assert sorted(row[0] for row in rows[1:]) == [
            f"dominique@{instance.settings.host}",
            "someone@social.example",
        ]
        assert all(row[1:] == ["true", "false", ""] for row in rows[1:])
        # And the calendar holds the event she organises and the one she attends
        calendar = icalendar.Calendar.from_ical(archive.read("calendar.ics"))
        titles = sorted(str(event["summary"]) for event in calendar.walk("VEVENT"))
        assert titles == ["Fête des voisins", "Repair café"]
        # In the event's own zone, as the page shows it
        assert "DTSTART;TZID=Europe/Paris:20310314T183000" in archive.read("calendar.ics").decode()


async def test_the_csv_and_the_calendar_download_alone_and_only_for_the_owner(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with running_instance(pool, tmp_path, keygen) as instance:
        await register(pool, keygen, "camille")
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as visitor:
            for path in (
                "/settings/export/archive.zip",
                "/settings/export/following_accounts.csv",
                "/settings/export/calendar.ics",
            ):
                answer = await visitor.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/login")
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as http:
            await log_in(http, "camille")
            listing = await http.get("/settings/export/following_accounts.csv")
            assert listing.status_code == 200
            assert listing.headers["content-type"] == "text/csv; charset=utf-8"
            assert listing.text == "Account address,Show boosts,Notify on new posts,Languages\n"
            agenda = await http.get("/settings/export/calendar.ics")
            assert agenda.headers["content-type"] == "text/calendar; charset=utf-8"
            assert agenda.text.startswith("BEGIN:VCALENDAR")


async def test_a_large_history_is_streamed_in_pieces(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with running_instance(pool, tmp_path, keygen) as instance:
        account = await register(pool, keygen, "camille")
        me = instance.urls.actor("camille")
        # Given 3000 published activities (six pages of the export)
        async with pool.acquire() as conn:
            actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert actor is not None
            for n in range(3000):
                await delivery_queries.insert_activity(
                    conn,
                    uri=f"{me}/activities/{n}",
                    actor_id=actor.id,
                    type="Create",
                    object_uri=f"{me}/notes/{n}",
                    raw={
                        "id": f"{me}/activities/{n}",
                        "type": "Create",
                        "actor": me,
                        "object": {"type": "Note", "content": "x" * 300 + str(n)},
                    },
                    public=True,
                    now=datetime.now(UTC),
                )
        async with httpx.AsyncClient(base_url=instance.base, timeout=60) as http:
            await log_in(http, "camille")
            pieces = []
            async with http.stream("GET", "/settings/export/archive.zip") as answer:
                assert answer.status_code == 200
                assert "content-length" not in answer.headers
                async for piece in answer.aiter_raw():
                    pieces.append(piece)
        # Then it came in several pieces and reads back whole
        assert len(pieces) > 3
        outbox = json.loads(zipfile.ZipFile(io.BytesIO(b"".join(pieces))).read("outbox.json"))
        assert outbox["totalItems"] == 3000
        assert [item["id"] for item in outbox["orderedItems"][:2]] == [
            f"{me}/activities/0",
            f"{me}/activities/1",
        ]


async def test_the_settings_form_token_is_not_needed_to_read_but_a_login_is(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Downloads are GETs: a link from the settings page; another citizen gets their own data.
    async with running_instance(pool, tmp_path, keygen) as instance:
        await register(pool, keygen, "camille", display_name="Camille")
        await register(pool, keygen, "dominique", display_name="Dominique")
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as http:
            await log_in(http, "dominique")
            answer = await http.get("/settings/export/archive.zip")
            actor = json.loads(zipfile.ZipFile(io.BytesIO(answer.content)).read("actor.json"))
            assert actor["name"] == "Dominique"
            assert csrf_in((await http.get("/settings")).text)
