"""A delivery whose POST raises something that is not an HTTP error counts as an attempt and is
scheduled again, instead of staying leased and coming back forever."""

from __future__ import annotations

from fedicity.activitypub.fetch import IPAddress
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import create_person
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.urls import Urls
from fedicity.workers.delivery import deliver_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

URLS = Urls("http://fedicity.test")


async def test_a_delivery_that_crashes_counts_an_attempt_instead_of_looping(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given an activity queued for a remote inbox
    async with pool.acquire() as conn:
        sender = await create_person(conn, "camille", keygen=keygen)
    recipient = await seed_remote_actor(
        pool, "http://crash.test:9/users/ana", fixed_keypairs()[-1], clock.now()
    )
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": URLS.base + "/activities/crash",
        "type": "Create",
        "actor": URLS.actor(sender.username),
        "to": [recipient.uri],
        "object": {"id": URLS.base + "/notes/crash", "type": "Note", "content": "hi"},
    }
    async with pool.acquire() as conn, conn.transaction():
        await publish(
            conn,
            actor=sender,
            activity=activity,
            audience=Audience(actors=frozenset({recipient.uri})),
            urls=URLS,
            clock=clock,
        )

    # When posting it raises something that is not an HTTP error
    async def explode(host: str, port: int) -> list[IPAddress]:
        raise RuntimeError("boom")

    async with new_delivery_client(allow_private_addresses=True, resolve=explode) as http:
        handled = await deliver_batch(pool, http, urls=URLS, clock=clock)

    # Then the attempt is recorded and scheduled again, not left leased to come back forever
    assert handled == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, attempts, last_error, locked_until, next_attempt_at FROM deliveries"
        )
    assert row is not None
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "RuntimeError: boom"
    assert row["locked_until"] is None
    assert row["next_attempt_at"] > clock.now()
