"""Activities relayed by another server (Mastodon forwards replies): never trusted as sent."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

RELAYER = "https://relay.invalid/users/relayer"
AUTHOR = "https://origin.invalid/users/author"


def _create(object_id: str) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": AUTHOR + "/statuses/1/activity",
        "type": "Create",
        "actor": AUTHOR,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": object_id,
            "type": "Note",
            "attributedTo": AUTHOR,
            "content": "<p>forged words</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    }


async def test_a_forwarded_create_is_kept_only_as_a_pointer_to_its_origin(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given a relaying server and an author on another server, both known
    keys = fixed_keypairs()
    await seed_remote_actor(pool, RELAYER, keys[0], clock.now())
    await seed_remote_actor(pool, AUTHOR, keys[1], clock.now())
    # When the relayer forwards the author's Create, signed with the relayer's key
    response = await post_signed(
        client,
        "/inbox",
        _create(AUTHOR + "/statuses/1"),
        key_id=RELAYER + "#main-key",
        keypair=keys[0],
        now=clock.now(),
    )
    # Then it is accepted, but stored with its object reduced to the id: the embedded content
    # is not trusted
    assert response.status_code == 202
    async with pool.acquire() as conn:
        raw = await conn.fetchval("SELECT raw FROM inbox_items")
    assert raw["object"] == AUTHOR + "/statuses/1"
    # And the worker fetches the object from its origin (unreachable here), never storing the
    # relayed words
    state: AppState = app.extensions["fedicity"]
    await process_batch(pool, directory=state.fed.directory, urls=state.urls, clock=clock)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0
        row = await conn.fetchrow("SELECT state, last_error FROM inbox_items")
    assert row is not None
    assert row["state"] == "ignored"


async def test_a_relayed_create_of_an_object_on_another_host_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given the same two servers
    keys = fixed_keypairs()
    await seed_remote_actor(pool, RELAYER, keys[0], clock.now())
    await seed_remote_actor(pool, AUTHOR, keys[1], clock.now())
    # When the relayer claims the author created an object on the relayer's own host
    response = await post_signed(
        client,
        "/inbox",
        _create("https://relay.invalid/notes/9"),
        key_id=RELAYER + "#main-key",
        keypair=keys[0],
        now=clock.now(),
    )
    # Then the signer is not the actor and nothing is stored
    assert response.status_code == 401
    assert (await response.get_json())["reason"] == "signer_not_actor"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0
