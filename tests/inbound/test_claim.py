"""What the inbox claim reads with each row (issue 12, a lean worker): the actor's restriction,
its first sighting by the content policies and its type, so a row needs no statement of its own
for them; and the worker acting on what the claim read."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.inbound import queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation
from fedicity.workers.inbox import LEASE, process_batch
from tests.conftest import FixedKeys

SEEN = "https://remote.invalid/users/seen"
NEW = "https://remote.invalid/users/new"


async def _store(pool: Pool, clock: FrozenClock, actor: str, number: int) -> None:
    uri = f"https://remote.invalid/activities/{number}"
    async with pool.acquire() as conn:
        await queries.insert_inbox_item(
            conn,
            activity_uri=uri,
            actor_uri=actor,
            type="Like",
            recipient=None,
            raw={"id": uri, "type": "Like", "actor": actor, "object": "https://x.invalid/1"},
            key_id=actor + "#main-key",
            now=clock.now(),
        )


async def test_the_claim_reads_restriction_first_sighting_and_type(
    pool: Pool, clock: FrozenClock
) -> None:
    first = clock.now() - timedelta(days=3)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO remote_actors (uri, domain, type, inbox, raw, fetched_at)
               VALUES ($1, 'remote.invalid', 'Service', $1 || '/inbox', '{}', $2)""",
            SEEN,
            clock.now(),
        )
        await conn.execute(
            "INSERT INTO content_actors_seen (actor_uri, first_seen_at) VALUES ($1, $2)",
            SEEN,
            first,
        )
        await conn.execute(
            """INSERT INTO actor_restrictions (actor_uri, level, created_at)
               VALUES ($1, 'silence', $2)""",
            SEEN,
            clock.now(),
        )
    await _store(pool, clock, SEEN, 1)
    await _store(pool, clock, NEW, 2)
    async with pool.acquire() as conn:
        items = await queries.claim_inbox_items(
            conn, now=clock.now(), lease=LEASE, limit=10, token=uuid4()
        )
    facts = {item.actor_uri: (item.restriction, item.first_seen_at, item.actor_type)
             for item in items}  # fmt: skip
    assert facts == {SEEN: ("silence", first, "Service"), NEW: (None, None, None)}


async def test_a_suspension_read_with_the_claim_ignores_the_row_and_a_first_sighting_is_kept(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO actor_restrictions (actor_uri, level, created_at)
               VALUES ($1, 'suspend', $2)""",
            SEEN,
            clock.now(),
        )
    await _store(pool, clock, SEEN, 1)
    await _store(pool, clock, NEW, 2)
    federation = await start_federation(pool, settings, clock=clock, keygen=keygen)
    try:
        claimed = await process_batch(
            pool,
            directory=federation.directory,
            urls=Urls(settings.base_url),
            clock=clock,
            keygen=keygen,
        )
    finally:
        await federation.close()
    assert claimed == 2
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT actor_uri, state, last_error FROM inbox_items")
        seen = await conn.fetch("SELECT actor_uri, first_seen_at FROM content_actors_seen")
    states = {row["actor_uri"]: (row["state"], row["last_error"]) for row in rows}
    assert states[SEEN] == ("ignored", "its actor is suspended here")
    assert states[NEW][0] in ("done", "ignored")
    # The new actor's first sighting was recorded (no sighting row came with its claim).
    assert {row["actor_uri"]: row["first_seen_at"] for row in seen}.get(NEW) == clock.now()
