"""One remote activity must not stop the inbound queue (security review, step 5, item 2).

A failing row counts an attempt, ends `failed` after the last attempt of the retry curve, alone,
and never holds back the rows claimed with it, even when recording its failure fails too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.activitypub.retry import MAX_ATTEMPTS
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors.context import InboundContext
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events.models import DEFAULT_TIMEZONE
from fedicity.inbound import queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation
from fedicity.workers.inbox import LEASE, process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.peer import running_peer
from tests.security.inbound_http import AS_CONTEXT, PUBLIC, post_signed_http

ALICE_KEY = fixed_keypairs()[3]


def _event(actor: str, number: int, to: str, **changes: Any) -> dict[str, Any]:
    """A public Create(Event) by `actor`, addressed to a local citizen."""
    event_id = f"{actor}/events/{number}"
    return {
        "@context": AS_CONTEXT,
        "id": event_id + "/activity",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC, to],
        "object": {
            "id": event_id,
            "type": "Event",
            "name": f"Réunion {number}",
            "attributedTo": actor,
            "startTime": "2026-05-02T10:00:00+02:00",
            "to": [PUBLIC, to],
            **changes,
        },
    }


async def test_a_remote_event_with_an_absurd_timezone_is_read_and_blocks_nothing(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with running_peer() as peer, running_instance(pool, tmp_path, keygen) as instance:
        # Given camille here, and Alice on a remote server that publishes her key
        async with pool.acquire() as conn:
            await accounts.register(conn, username="camille", password="long enough", keygen=keygen)
        camille = instance.urls.actor("camille")
        alice = peer.publish_actor("alice", ALICE_KEY)
        bad = _event(alice, 1, camille, timezone="A" * 300)
        good = _event(alice, 2, camille, timezone="America/Montreal")
        # When Alice sends, over HTTP, an Event whose timezone is 300 characters (zoneinfo: "File
        # name too long"), then an ordinary one
        async with httpx.AsyncClient(timeout=10) as http:
            for activity in (bad, good):
                response = await post_signed_http(
                    http,
                    instance.base + "/inbox",
                    activity,
                    key_id=alice + "#main-key",
                    keypair=ALICE_KEY,
                    now=instance.clock.now(),
                )
                assert response.status_code == 202, response.text

        # Then the worker stores both: the absurd zone is ignored, not fatal
        async def both_done() -> bool:
            async with pool.acquire() as conn:
                states = await conn.fetch("SELECT state FROM inbox_items ORDER BY id")
            return [row["state"] for row in states] == ["done", "done"]

        await eventually(both_done)
        async with pool.acquire() as conn:
            first = await event_queries.select_event(conn, bad["object"]["id"])
            second = await event_queries.select_event(conn, good["object"]["id"])
        assert first is not None
        assert first.timezone == DEFAULT_TIMEZONE
        assert second is not None
        assert second.timezone == "America/Montreal"


# --- the worker itself, with handlers that fail -------------------------------------------------


class Handlers:
    """Test handlers: `Fine` is done, `Boom` raises (with text PostgreSQL cannot store), `Kill`
    drops its own database connection once and raises."""

    def __init__(self) -> None:
        self.killed = False
        self.seen: list[str] = []

    def router(self) -> Router[InboundContext]:
        """A routing table of the three types."""
        router: Router[InboundContext] = Router()
        router.register("Fine")(self.fine)
        router.register("Boom")(self.boom)
        router.register("Kill")(self.kill)
        return router

    async def fine(self, ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        """Done."""
        self.seen.append(activity["id"])
        return Outcome.done()

    async def boom(self, ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        """A handler bug whose message quotes remote text (NUL, a lone surrogate)."""
        self.seen.append(activity["id"])
        raise RuntimeError("cannot read \x00 \udcff in the activity")

    async def kill(self, ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        """The first time, lose the connection (so recording the failure fails too)."""
        self.seen.append(activity["id"])
        if not self.killed:
            self.killed = True
            await ctx.conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return Outcome.done()


async def _store(pool: Pool, clock: FrozenClock, kinds: list[str]) -> list[str]:
    ids = []
    async with pool.acquire() as conn:
        for number, kind in enumerate(kinds):
            uri = f"https://remote.invalid/activities/{number}"
            await queries.insert_inbox_item(
                conn,
                activity_uri=uri,
                actor_uri="https://remote.invalid/users/alice",
                type=kind,
                recipient=None,
                raw={"id": uri, "type": kind, "actor": "https://remote.invalid/users/alice"},
                key_id="https://remote.invalid/users/alice#main-key",
                now=clock.now(),
            )
            ids.append(uri)
    return ids


async def _rows(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT activity_uri, state, attempts, last_error, next_attempt_at, locked_until,
                      processed_at
                 FROM inbox_items ORDER BY id"""
        )
    return [dict(row) for row in rows]


async def test_a_raising_handler_fails_its_own_row_only_and_ends_failed(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> None:
    federation = await start_federation(pool, settings, clock=clock, keygen=keygen)
    handlers = Handlers()
    urls = Urls(settings.base_url)

    async def batch() -> int:
        return await process_batch(
            pool,
            directory=federation.directory,
            urls=urls,
            clock=clock,
            keygen=keygen,
            router=handlers.router(),
        )

    try:
        # Given a batch whose first row makes its handler raise, and three ordinary rows
        ids = await _store(pool, clock, ["Boom", "Fine", "Fine", "Fine"])
        # When the worker runs once
        assert await batch() == 4
        # Then the three others are done in that same call
        rows = await _rows(pool)
        assert [row["state"] for row in rows] == ["pending", "done", "done", "done"]
        assert handlers.seen == ids
        # And the bad row counted one attempt, kept the error, and waits for its next try
        bad = rows[0]
        assert bad["attempts"] == 1
        assert bad["last_error"].startswith("RuntimeError: cannot read")
        assert bad["next_attempt_at"] > clock.now()
        assert bad["locked_until"] is None
        # When it fails on every try of the retry curve
        for attempt in range(2, MAX_ATTEMPTS + 1):
            clock.current = bad["next_attempt_at"]
            assert await batch() == 1
            [bad] = (await _rows(pool))[:1]
            assert bad["attempts"] == attempt
        # Then it ends failed after the last attempt, and is claimed no more
        assert bad["state"] == "failed"
        assert bad["processed_at"] == clock.now()
        clock.advance(timedelta(days=30))
        assert await batch() == 0
    finally:
        await federation.close()


async def test_a_row_whose_failure_cannot_be_recorded_holds_nothing_back(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> None:
    federation = await start_federation(pool, settings, clock=clock, keygen=keygen)
    handlers = Handlers()

    async def batch() -> int:
        return await process_batch(
            pool,
            directory=federation.directory,
            urls=Urls(settings.base_url),
            clock=clock,
            keygen=keygen,
            router=handlers.router(),
        )

    try:
        # Given a batch whose first handler loses the database connection under the worker
        await _store(pool, clock, ["Kill", "Fine", "Fine"])
        # When the worker runs
        await batch()
        # Then the rows behind it are done in the same call, on a fresh connection
        rows = await _rows(pool)
        assert [row["state"] for row in rows] == ["pending", "done", "done"]
        # And the row whose failure could not be recorded keeps its lease, nothing more
        assert rows[0]["attempts"] == 0
        assert rows[0]["locked_until"] == clock.now() + LEASE
        # When the lease ends, it is claimed again and (this time) done
        clock.advance(LEASE + timedelta(seconds=1))
        assert await batch() == 1
        assert [row["state"] for row in await _rows(pool)] == ["done", "done", "done"]
    finally:
        await federation.close()


async def test_an_event_form_with_an_absurd_timezone_is_a_form_error(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with running_instance(pool, tmp_path, keygen, worker=False) as instance:
        async with pool.acquire() as conn:
            await accounts.register(conn, username="camille", password="long enough", keygen=keygen)
        async with httpx.AsyncClient(base_url=instance.base, timeout=10) as http:
            # Given camille logged in over HTTP
            token = await _csrf(http, "/login")
            await http.post(
                "/login",
                data={"csrf_token": token, "login": "camille", "password": "long enough"},
            )
            token = await _csrf(http, "/events/new")
            for zone in ("A" * 300, "Europe", "../../etc/passwd", "Nowhere/Land"):
                # When she organises an event with an absurd or unknown time zone
                response = await http.post(
                    "/events",
                    data={
                        "csrf_token": token,
                        "title": "Troc",
                        "starts_at": "2026-05-02T10:00",
                        "timezone": zone,
                    },
                    headers={"Accept": "text/html"},
                )
                # Then the form comes back with its error (as every form error does), not a 500
                assert response.status_code == 200, (zone, response.status_code)
                assert "Fuseau horaire inconnu." in response.text, zone
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def _csrf(http: httpx.AsyncClient, path: str) -> str:
    page = (await http.get(path, headers={"Accept": "text/html"})).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page[:500]
    return found.group(1)
