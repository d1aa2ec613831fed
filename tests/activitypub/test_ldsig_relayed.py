"""Relayed activities through the inbox and the worker's Linked Data signature check: hostile
copies each give a reason, never a 500, and the row is processed as a pointer (nothing lost)."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.activitypub import ldsig
from fedicity.activitypub.inbox import LD_PENDING
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.actors.ldsig_check import Settled, settle
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

RELAYER = "https://relay.invalid/users/relayer"
AUTHOR = "https://origin.invalid/users/author"
OTHER = "https://origin.invalid/users/other"
RELAYER_KEY, AUTHOR_KEY, OTHER_KEY = fixed_keypairs()[:3]
UNKNOWN_CONTEXT = "https://unknown.invalid/ns/v1"


def _create(number: int, content: str = "<p>the author's words</p>") -> dict[str, Any]:
    note = f"{AUTHOR}/statuses/{number}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": note + "/activity",
        "type": "Create",
        "actor": AUTHOR,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": AUTHOR,
            "content": content,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    }


def _sign(
    activity: dict[str, Any],
    keypair: KeyPair = AUTHOR_KEY,
    creator: str = AUTHOR + "#main-key",
    loader: ldsig.DocumentLoader | None = None,
) -> dict[str, Any]:
    signed = ldsig.sign(
        activity,
        load_private_key(keypair.private_pem),
        creator=creator,
        created="2026-12-05T20:00:00Z",
        loader=loader or ldsig.offline_loader(),
    )
    assert isinstance(signed, dict), signed
    return signed


async def _seed(pool: Pool, clock: FrozenClock) -> None:
    await seed_remote_actor(pool, RELAYER, RELAYER_KEY, clock.now())
    await seed_remote_actor(pool, AUTHOR, AUTHOR_KEY, clock.now())
    await seed_remote_actor(pool, OTHER, OTHER_KEY, clock.now())


async def _relay(
    client: TestClientProtocol, clock: FrozenClock, activity: dict[str, Any]
) -> dict[str, Any]:
    """Forward the activity as the relayer; the row the inbox stored."""
    response = await post_signed(
        client,
        "/inbox",
        activity,
        key_id=RELAYER + "#main-key",
        keypair=RELAYER_KEY,
        now=clock.now(),
    )
    assert response.status_code == 202, await response.get_data()
    return activity


async def _stored_raw(pool: Pool, object_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        raw: dict[str, Any] = await conn.fetchval(
            "SELECT raw FROM inbox_items WHERE raw->>'object' = $1", object_id
        )
    return raw


async def _settled(app: Quart, pool: Pool, object_id: str) -> Settled:
    state: AppState = app.extensions["fedicity"]
    return await settle(await _stored_raw(pool, object_id), AUTHOR, state.fed.directory)


async def test_an_authors_signature_makes_the_relayed_copy_the_activity(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    await _seed(pool, clock)
    signed = _sign(_create(1))
    await _relay(client, clock, signed)
    # The inbox stored the pointer, with the whole copy kept for the worker
    raw = await _stored_raw(pool, AUTHOR + "/statuses/1")
    assert raw["object"] == AUTHOR + "/statuses/1"
    assert raw[LD_PENDING] == signed
    # The worker's check takes the copy as the author sent it
    settled = await _settled(app, pool, AUTHOR + "/statuses/1")
    assert settled.verified
    assert settled.reason is None
    assert settled.activity["object"]["content"] == "<p>the author's words</p>"


async def test_each_hostile_copy_falls_back_to_the_pointer_with_its_reason(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    await _seed(pool, clock)
    # Given copies a relayer could send
    tampered = _sign(_create(2))
    tampered["object"] = {**tampered["object"], "content": "<p>forged</p>"}
    by_another_actor = _sign(_create(3), OTHER_KEY, OTHER + "#main-key")
    foreign = _create(4)
    foreign["@context"] = [*foreign["@context"], UNKNOWN_CONTEXT]
    unknown_context = _sign(
        foreign, loader=ldsig.offline_loader({UNKNOWN_CONTEXT: {"@context": {"x": "http://x/#"}}})
    )
    huge = _sign(_create(5))
    huge["object"] = {
        **huge["object"],
        "tag": [f"https://origin.invalid/tags/{i}" for i in range(ldsig.MAX_VALUES)],
    }
    deep = _sign(_create(6))
    nested: dict[str, Any] = {"type": "Note"}
    for _ in range(ldsig.MAX_DEPTH):
        nested = {"type": "Note", "inReplyTo": nested}
    deep["object"] = {**deep["object"], "inReplyTo": nested}
    cases = {
        2: (tampered, "ld_bad_signature"),
        3: (by_another_actor, "ld_creator_not_actor"),
        4: (unknown_context, "ld_unknown_context"),
        5: (huge, "ld_too_large"),
        6: (deep, "ld_too_deep"),
    }
    # When each is relayed (accepted: the relayer's HTTP signature holds)
    for activity, _reason in cases.values():
        await _relay(client, clock, activity)
    # Then the check refuses each copy, saying why, and leaves the pointer
    for number, (_activity, reason) in cases.items():
        object_id = f"{AUTHOR}/statuses/{number}"
        settled = await _settled(app, pool, object_id)
        assert not settled.verified
        assert settled.reason is not None
        assert settled.reason.startswith(reason), (number, settled.reason)
        assert settled.activity["object"] == object_id
        assert LD_PENDING not in settled.activity
    # And the worker processes every row as before (the origin is unreachable here: ignored
    # with the fetch's reason), none failing and none stored from a relayed copy
    state: AppState = app.extensions["fedicity"]
    await process_batch(pool, directory=state.fed.directory, urls=state.urls, clock=clock)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT state, last_error FROM inbox_items")
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0
    assert [row["state"] for row in rows] == ["ignored"] * len(cases)


async def test_a_nul_character_is_refused_at_the_inbox_with_its_reason(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    await _seed(pool, clock)
    signed = _sign(_create(7, "<p>a\u0000b</p>"))
    response = await post_signed(
        client,
        "/inbox",
        signed,
        key_id=RELAYER + "#main-key",
        keypair=RELAYER_KEY,
        now=clock.now(),
    )
    assert response.status_code == 400
    assert (await response.get_json())["reason"] == "json_bad_string"


async def test_a_signature_from_the_relayers_host_is_not_kept_for_checking(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    await _seed(pool, clock)
    # The relayer signing the author's activity itself: nothing the worker could accept
    await _relay(client, clock, _sign(_create(8), RELAYER_KEY, RELAYER + "#main-key"))
    raw = await _stored_raw(pool, AUTHOR + "/statuses/8")
    assert LD_PENDING not in raw


async def test_a_mark_sent_by_a_peer_is_dropped(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    await _seed(pool, clock)
    # The author's own delivery carrying a made-up mark: stored without it
    activity = {**_create(9), LD_PENDING: _sign(_create(10))}
    response = await post_signed(
        client,
        "/inbox",
        activity,
        key_id=AUTHOR + "#main-key",
        keypair=AUTHOR_KEY,
        now=clock.now(),
    )
    assert response.status_code == 202
    async with pool.acquire() as conn:
        raw = await conn.fetchval("SELECT raw FROM inbox_items")
    assert LD_PENDING not in raw
    assert raw["object"]["id"] == AUTHOR + "/statuses/9"
