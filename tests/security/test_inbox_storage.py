"""Inbox storage is bounded (security review, step 5, item 7).

Every signed activity used to be kept whole (up to 1 MiB of JSON) and forever: 6.4 MB/s from one
client sending types nothing here handles. Now what nothing handles is kept as a skeleton, a
processed row keeps only its skeleton, processed rows are purged after a retention period, and the
rows one remote domain may have waiting are capped (429 beyond, which Mastodon retries later).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.inbound import queries as inbound_queries
from fedicity.posts import service as posts
from fedicity.settings import Settings, SettingsError, load_settings
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation
from fedicity.workers.inbox import process_batch
from fedicity.workers.loops import default_loops, run_worker
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.peer import running_peer
from tests.security.inbound_http import AS_CONTEXT, post_signed_http

ALICE_KEY, BOB_KEY = fixed_keypairs()[3:5]
BULK = "x" * 500_000


async def _camille_post(instance: Instance, keygen: FixedKeys) -> str:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="long enough", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        post = await posts.create_note(
            conn,
            actor=camille,
            text="Bonjour",
            visibility="public",
            urls=instance.urls,
            clock=instance.clock,
            local_host=instance.settings.host,
            resolved={},
        )
    return post.uri


def _activity(actor: str, kind: str, number: int, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor}/activities/{number}",
        "type": kind,
        "actor": actor,
        "object": target,
        **extra,
    }


async def _rows(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT activity_uri, type, state, last_error, raw, pg_column_size(raw) AS size
                 FROM inbox_items ORDER BY id"""
        )
    return [dict(row) for row in rows]


async def test_what_nothing_handles_and_what_is_processed_is_kept_as_a_skeleton(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(timeout=20) as http,
    ):
        note = await _camille_post(instance, keygen)
        alice = peer.publish_actor("alice", ALICE_KEY)

        async def send(activity: dict[str, Any]) -> httpx.Response:
            return await post_signed_http(
                http,
                instance.base + "/inbox",
                activity,
                key_id=alice + "#main-key",
                keypair=ALICE_KEY,
                now=instance.clock.now(),
            )

        # When Alice sends, over HTTP, 500 kB activities of a type nothing here handles
        ignored = _activity(alice, "View", 1, note, content=BULK)
        for _ in range(2):  # the second time as a duplicate
            response = await send(ignored)
            assert response.status_code == 202, response.text
        # And a Like of camille's post carrying the same bulk
        liked = _activity(alice, "Like", 2, note, content=BULK)
        assert (await send(liked)).status_code == 202

        # Then the Like is processed and keeps only its skeleton
        async def like_done() -> bool:
            return [row["state"] for row in await _rows(pool)] == ["ignored", "done"]

        await eventually(like_done)
        view_row, like_row = await _rows(pool)
        # And the View was stored once, ignored at once, as its id, type, actor and object
        assert view_row["activity_uri"] == ignored["id"]
        assert view_row["last_error"] == "no handler for View"
        assert view_row["raw"] == {
            "id": ignored["id"],
            "type": "View",
            "actor": alice,
            "object": note,
        }
        assert like_row["raw"] == {
            "id": liked["id"],
            "type": "Like",
            "actor": alice,
            "object": note,
        }
        assert view_row["size"] < 1000
        assert like_row["size"] < 1000


async def test_the_rows_one_domain_may_have_waiting_are_capped_with_a_429(
    pool: Pool, settings: Settings, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_peer() as peer,
        running_peer() as other_peer,
        running_instance(pool, tmp_path, keygen, worker=False, inbox_pending_per_domain=3) as a,
        httpx.AsyncClient(timeout=20) as http,
    ):
        note = await _camille_post(a, keygen)
        alice = peer.publish_actor("alice", ALICE_KEY)
        bob = other_peer.publish_actor("bob", BOB_KEY)

        async def send(actor: str, key: Any, activity: dict[str, Any]) -> httpx.Response:
            return await post_signed_http(
                http,
                a.base + "/inbox",
                activity,
                key_id=actor + "#main-key",
                keypair=key,
                now=a.clock.now(),
            )

        # Given Alice's server has 3 activities waiting here, the cap
        for number in range(3):
            response = await send(alice, ALICE_KEY, _activity(alice, "Like", number, note))
            assert response.status_code == 202, response.text
        # When it sends a 4th
        fourth = _activity(alice, "Like", 3, note)
        response = await send(alice, ALICE_KEY, fourth)
        # Then it is told to come back later (Mastodon retries a 429: nothing is lost)
        assert response.status_code == 429, response.text
        assert response.json()["reason"] == "too_many_pending"
        assert int(response.headers["Retry-After"]) > 0
        # And another domain is not held back
        response = await send(bob, BOB_KEY, _activity(bob, "Like", 1, note))
        assert response.status_code == 202, response.text
        # And what nothing handles does not wait, so it is taken too
        response = await send(alice, ALICE_KEY, _activity(alice, "View", 9, note))
        assert response.status_code == 202, response.text
        # When the worker has processed the waiting rows, the retried 4th goes in
        fed = a.federation
        await process_batch(pool, directory=fed.directory, urls=a.urls, clock=a.clock)
        response = await send(alice, ALICE_KEY, fourth)
        assert response.status_code == 202, response.text
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM inbox_items WHERE activity_uri = $1", fourth["id"]
                )
                == 1
            )


async def _insert(pool: Pool, uri: str, clock: FrozenClock) -> None:
    async with pool.acquire() as conn:
        await inbound_queries.insert_inbox_item(
            conn,
            activity_uri=uri,
            actor_uri="https://remote.invalid/users/alice",
            type="Like",
            recipient=None,
            raw={"id": uri, "type": "Like"},
            key_id="https://remote.invalid/users/alice#main-key",
            now=clock.now(),
        )


async def test_processed_rows_are_purged_after_the_retention_period(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> None:
    federation = await start_federation(pool, settings, clock=clock, keygen=keygen)
    try:
        # Given rows processed 8 days ago (done, ignored, failed), one still pending from then,
        # and one processed yesterday
        for name in ("done", "ignored", "failed", "pending", "recent"):
            await _insert(pool, f"https://remote.invalid/{name}", clock)
        async with pool.acquire() as conn:
            for name in ("done", "ignored", "failed"):
                await conn.execute(
                    """UPDATE inbox_items SET state = $2, processed_at = $3
                        WHERE activity_uri = $1""",
                    f"https://remote.invalid/{name}",
                    name,
                    clock.now(),
                )
        clock.advance(timedelta(days=7))
        async with pool.acquire() as conn:
            await conn.execute(
                """UPDATE inbox_items SET state = 'done', processed_at = $1
                    WHERE activity_uri = 'https://remote.invalid/recent'""",
                clock.now(),
            )
        clock.advance(timedelta(days=1))
        # When the worker runs its loops with a retention of 7 days
        loops = default_loops(
            federation, Urls(settings.base_url), clock, inbox_retention=timedelta(days=7)
        )
        assert "inbox-purge" in [loop.name for loop in loops]
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(pool, stop, loops))

        async def purged() -> bool:
            async with pool.acquire() as conn:
                rows = await conn.fetch("SELECT activity_uri FROM inbox_items ORDER BY id")
            return [row["activity_uri"].rpartition("/")[2] for row in rows] == [
                "pending",
                "recent",
            ]

        try:
            # Then what was processed over 7 days ago is gone; the rest stays
            await eventually(purged)
        finally:
            stop.set()
            await worker
    finally:
        await federation.close()


def test_the_retention_and_cap_settings_are_read_and_checked() -> None:
    base = {"FEDICITY_SECRET_KEY": "x" * 20}
    defaults = load_settings(base, persist_secret=False)
    assert defaults.inbox_retention_days == 7
    assert defaults.inbox_pending_per_domain == 1000
    chosen = load_settings(
        base | {"FEDICITY_INBOX_RETENTION_DAYS": "30", "FEDICITY_INBOX_PENDING_PER_DOMAIN": "50"},
        persist_secret=False,
    )
    assert (chosen.inbox_retention_days, chosen.inbox_pending_per_domain) == (30, 50)
    # Dedupe must outlive Mastodon's retries (about 2-3 days): fewer than 3 days is refused
    for bad in ("2", "0", "many"):
        with pytest.raises(SettingsError, match="FEDICITY_INBOX_RETENTION_DAYS"):
            load_settings(base | {"FEDICITY_INBOX_RETENTION_DAYS": bad}, persist_secret=False)
    with pytest.raises(SettingsError, match="FEDICITY_INBOX_PENDING_PER_DOMAIN"):
        load_settings(base | {"FEDICITY_INBOX_PENDING_PER_DOMAIN": "0"}, persist_secret=False)
