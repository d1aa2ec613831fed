"""An activity id too long for the unique index is bad input: refused by the parser, and 400 (not
500) from the inbox, with nothing stored."""

from __future__ import annotations

import json
from typing import Any

from quart.typing import TestClientProtocol

from fedicity.activitypub.inbox import MAX_ID_LENGTH, Rejected, parse_activity
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.conftest import fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

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
