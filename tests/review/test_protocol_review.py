"""Regression tests for the protocol review: inbox input bounds and delivery crash accounting."""

from __future__ import annotations

import json
from typing import Any

import httpx
from quart.typing import TestClientProtocol

from fedicity.activitypub.inbox import MAX_ID_LENGTH, Rejected, parse_activity
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import create_person
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.urls import Urls
from fedicity.workers.delivery import deliver_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

URLS = Urls("http://fedicity.test")
ACTOR = "https://remote.example/users/ana"


def test_parse_activity_refuses_an_id_too_long_to_index() -> None:
    body = json.dumps(
        {"id": ACTOR + "/" + "x" * MAX_ID_LENGTH, "type": "Like", "actor": ACTOR, "object": ACTOR}
    ).encode()
    result = parse_activity(body, "application/activity+json")
    assert isinstance(result, Rejected)
    assert (result.status, result.reason) == (400, "bad_id")


async def test_inbox_answers_400_not_500_to_a_huge_activity_id(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given a known remote actor
    keypair = fixed_keypairs()[0]
    await seed_remote_actor(pool, ACTOR, keypair, clock.now())
    # When it sends an activity whose id (on its own host) is far too long for the unique index
    activity: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": ACTOR + "/likes/" + "".join(f"{n:08x}" for n in range(1000)),
        "type": "Like",
        "actor": ACTOR,
        "object": "http://fedicity.test/notes/1",
    }
    response = await post_signed(
        client, "/inbox", activity, key_id=ACTOR + "#main-key", keypair=keypair, now=clock.now()
    )
    # Then it is refused as bad input, and nothing is stored
    assert response.status_code == 400, await response.get_data(as_text=True)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0


async def test_a_delivery_that_crashes_counts_an_attempt_instead_of_looping(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given an activity queued for a remote inbox
    async with pool.acquire() as conn:
        sender = await create_person(conn, "camille", keygen=keygen)
    recipient = await seed_remote_actor(
        pool, "http://127.0.0.1:9/users/ana", fixed_keypairs()[-1], clock.now()
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
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("boom")

    async with httpx.AsyncClient(transport=httpx.MockTransport(explode)) as http:
        handled = await deliver_batch(
            pool, http, urls=URLS, clock=clock, allow_private_addresses=True
        )

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
