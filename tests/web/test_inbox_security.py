"""What the inbox refuses, and why: each refusal answers a status and a problem+json `reason`,
and nothing reaches the mailbox (inbox_items).

Peers are either seeded remote actors on `.invalid` hosts (RFC 6761: they never resolve, so a key
refetch fails at once and nothing leaves this machine) or a real HTTP server on 127.0.0.1 started
by the test, which counts the key fetches it answers. The app may fetch from loopback
(allow_private_addresses) so that those fetches are real.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Response
from quart.typing import TestClientProtocol

from fedicity.activitypub.keys import KeyPair
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from fedicity.web.app import create_app
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import free_port
from tests.inbox_helpers import actor_document, post_signed, seed_remote_actor, signed_headers
from tests.peer import Peer

BASE = "http://fedicity.test"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PROBLEM_JSON = "application/problem+json"
REMOTE = "https://social.invalid"
ALICE = REMOTE + "/users/alice"
BOB = REMOTE + "/users/bob"
KEY_1, KEY_2, KEY_3 = fixed_keypairs()[:3]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test instance, allowed to fetch keys from the loopback peers these tests start."""
    return dataclasses.replace(settings, allow_private_addresses=True)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    """A fresh peer on 127.0.0.1."""
    started = Peer()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def like(actor: str, number: int = 1) -> dict[str, Any]:
    """A small, valid activity by `actor` with a unique id."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor}#likes/{number}",
        "type": "Like",
        "actor": actor,
        "object": BASE + "/notes/some-post",
    }


async def stored(pool: Pool) -> int:
    """How many activities reached the mailbox."""
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM inbox_items")
    return count


async def assert_refused(response: Response, pool: Pool, status: int, reason: str | None) -> None:
    """The response is a problem document with this status and reason, and nothing was stored."""
    body = await response.get_data(as_text=True)
    assert response.status_code == status, body
    assert response.mimetype == PROBLEM_JSON, body
    if reason is not None:
        assert json.loads(body)["reason"] == reason, body
    assert await stored(pool) == 0


async def post_as(
    client: TestClientProtocol,
    activity: dict[str, Any] | bytes,
    *,
    signer: str,
    keypair: KeyPair,
    clock: FrozenClock,
) -> Response:
    """POST to the shared inbox, signed now with `keypair` under the keyId `signer#main-key`."""
    return await post_signed(
        client,
        "/inbox",
        activity,
        key_id=signer + "#main-key",
        keypair=keypair,
        now=clock.now(),
    )


# --- the acceptance criterion: forged, altered, stale, unknown key, wrong owner -----------------


async def test_forged_signature_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known with key 1
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    # When someone signs an activity in her name with key 2, which she never published
    response = await post_as(client, like(ALICE), signer=ALICE, keypair=KEY_2, clock=clock)
    # Then it is refused as a bad signature and nothing is stored
    await assert_refused(response, pool, 401, "signature_bad_signature")


async def test_body_altered_after_signing_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, and a request she signed over one body
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    signed_body = json.dumps(like(ALICE)).encode()
    headers = signed_headers(BASE + "/inbox", signed_body, ALICE + "#main-key", KEY_1, clock.now())
    altered = json.dumps({**like(ALICE), "object": BASE + "/notes/another-post"}).encode()
    # When the body is swapped on the way, headers untouched
    response = await client.post("/inbox", data=altered, headers=headers)
    # Then the digest does not match and nothing is stored
    await assert_refused(response, pool, 401, "signature_digest_mismatch")


async def test_date_more_than_12_hours_away_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known with her key
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    for number, skew in enumerate((timedelta(hours=-13), timedelta(hours=13)), start=1):
        # When she signs with a Date 13 h before (or after) the instance's clock
        response = await post_signed(
            client,
            "/inbox",
            like(ALICE, number),
            key_id=ALICE + "#main-key",
            keypair=KEY_1,
            now=clock.now() + skew,
        )
        # Then the clock skew is refused and nothing is stored
        await assert_refused(response, pool, 401, "signature_clock_skew")
    # And a Date 11 h old is still within the window
    response = await post_signed(
        client,
        "/inbox",
        like(ALICE, 3),
        key_id=ALICE + "#main-key",
        keypair=KEY_1,
        now=clock.now() - timedelta(hours=11),
    )
    assert response.status_code == 202, await response.get_data(as_text=True)


async def test_key_that_cannot_be_fetched_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given an actor on a loopback port where nothing listens, so its key cannot be fetched
    ghost = f"http://127.0.0.1:{free_port()}/users/ghost"
    # When it posts a signed activity
    response = await post_as(client, like(ghost), signer=ghost, keypair=KEY_1, clock=clock)
    # Then the key is unavailable and nothing is stored, not even the actor
    await assert_refused(response, pool, 401, "key_unavailable")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM remote_actors") == 0


async def test_activity_signed_by_another_actor_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice and Bob, both known with their own keys
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    await seed_remote_actor(pool, BOB, KEY_2, clock.now())
    # When Alice validly signs an activity whose actor is Bob
    response = await post_as(client, like(BOB), signer=ALICE, keypair=KEY_1, clock=clock)
    # Then the signer is not the actor and nothing is stored
    await assert_refused(response, pool, 401, "signer_not_actor")


# --- the other checks, in the inbox's order --------------------------------------------------


async def test_missing_signature_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    # When an activity in her name comes without any signature
    response = await client.post(
        "/inbox",
        data=json.dumps(like(ALICE)).encode(),
        headers={"Content-Type": "application/activity+json"},
    )
    # Then it is refused and nothing is stored
    await assert_refused(response, pool, 401, "signature_missing_signature")


async def test_unsupported_content_type_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given a correctly signed activity by Alice
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    body = json.dumps(like(ALICE)).encode()
    headers = signed_headers(BASE + "/inbox", body, ALICE + "#main-key", KEY_1, clock.now())
    # When it is labelled text/plain (Content-Type is not covered by the signature)
    headers["Content-Type"] = "text/plain"
    response = await client.post("/inbox", data=body, headers=headers)
    # Then it is refused as an unsupported media type
    await assert_refused(response, pool, 415, "unsupported_media_type")


async def test_malformed_json_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    # When she signs a body that is not JSON
    response = await post_as(
        client, b'{"type": "Like", "actor": ', signer=ALICE, keypair=KEY_1, clock=clock
    )
    # Then it is a bad request and nothing is stored
    await assert_refused(response, pool, 400, "malformed_json")


async def test_body_over_one_mebibyte_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given a valid, signed activity padded past 1 MiB
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    activity = {**like(ALICE), "content": "x" * (1024 * 1024)}
    # When Alice posts it
    response = await post_as(client, activity, signer=ALICE, keypair=KEY_1, clock=clock)
    # Then it is too large and nothing is stored
    await assert_refused(response, pool, 413, None)


async def test_duplicate_activity_is_acknowledged_and_stored_once(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    # When she delivers the same activity twice (a retry)
    first = await post_as(client, like(ALICE), signer=ALICE, keypair=KEY_1, clock=clock)
    second = await post_as(client, like(ALICE), signer=ALICE, keypair=KEY_1, clock=clock)
    # Then both are acknowledged and one row is stored
    assert (first.status_code, second.status_code) == (202, 202)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT activity_uri, actor_uri FROM inbox_items")
    assert [(row["activity_uri"], row["actor_uri"]) for row in rows] == [
        (ALICE + "#likes/1", ALICE)
    ]


async def test_suspended_domain_is_refused_before_any_key_fetch(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, peer: Peer
) -> None:
    # Given a peer that publishes Carol's key, on a host the admin suspended (by name, no port,
    # as `fedicity policy suspend 127.0.0.1` stores it)
    carol = peer.url("/users/carol")
    peer.serve("/users/carol", actor_document(carol, KEY_1))
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "127.0.0.1", "suspend", "spam")
    # When Carol posts a correctly signed activity
    response = await post_as(client, like(carol), signer=carol, keypair=KEY_1, clock=clock)
    # Then the domain is refused, without her key ever being fetched, and nothing is stored
    await assert_refused(response, pool, 403, "domain_refused")
    assert peer.paths == []
    # And once the suspension is lifted the same delivery is accepted (so only policy refused it)
    async with pool.acquire() as conn:
        await moderation_queries.delete_domain_policy(conn, "127.0.0.1")
    response = await post_as(client, like(carol), signer=carol, keypair=KEY_1, clock=clock)
    assert response.status_code == 202, await response.get_data(as_text=True)
    assert peer.paths == ["/users/carol"]


async def test_suspension_covers_subdomains(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given an actor on a subdomain of a suspended domain
    eve = "https://eu.social.invalid/users/eve"
    await seed_remote_actor(pool, eve, KEY_1, clock.now())
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "social.invalid", "suspend", "")
    # When she posts a correctly signed activity
    response = await post_as(client, like(eve), signer=eve, keypair=KEY_1, clock=clock)
    # Then it is refused as well
    await assert_refused(response, pool, 403, "domain_refused")


async def test_allowlist_mode_refuses_domains_not_allowed(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given an instance in allowlist mode that allows only friends.invalid
    friend = "https://friends.invalid/users/frida"
    await seed_remote_actor(pool, ALICE, KEY_1, clock.now())
    await seed_remote_actor(pool, friend, KEY_2, clock.now())
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "friends.invalid", "allow", "")
    application = create_app(
        dataclasses.replace(settings, federation_allowlist=True),
        pool=pool,
        clock=clock,
        keygen=keygen,
    )
    async with application.test_app():
        client = application.test_client()
        # When Alice, whose domain is not on the list, posts a correctly signed activity
        refused = await post_as(client, like(ALICE), signer=ALICE, keypair=KEY_1, clock=clock)
        # Then she is refused and nothing is stored
        await assert_refused(refused, pool, 403, "domain_refused")
        # And an allowed domain still gets in
        admitted = await post_as(client, like(friend), signer=friend, keypair=KEY_2, clock=clock)
        assert admitted.status_code == 202, await admitted.get_data(as_text=True)


async def test_delete_of_actor_whose_key_is_gone_is_acknowledged_and_dropped(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, peer: Peer
) -> None:
    # Given an actor we never knew, whose server answers 410 Gone for it (and so for its key)
    gone = peer.url("/users/gone")
    peer.serve("/users/gone", {"id": gone, "type": "Tombstone"}, status=410)
    delete = {
        "@context": AS_CONTEXT,
        "id": gone + "#delete",
        "type": "Delete",
        "actor": gone,
        "object": gone,
        "to": [AS_CONTEXT + "#Public"],
    }
    # When its server delivers the Delete of that actor
    response = await post_as(client, delete, signer=gone, keypair=KEY_1, clock=clock)
    # Then it is acknowledged, and neither the activity nor the actor is stored
    assert response.status_code == 202, await response.get_data(as_text=True)
    assert await stored(pool) == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM remote_actors") == 0
    # And any other activity from that gone key is still refused
    other = await post_as(client, like(gone), signer=gone, keypair=KEY_1, clock=clock)
    await assert_refused(other, pool, 401, "key_unavailable")


async def test_rotated_key_is_refetched_once(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, peer: Peer
) -> None:
    # Given a real peer publishing Dana's actor with key 1
    dana = peer.url("/users/dana")
    peer.serve("/users/dana", actor_document(dana, KEY_1))

    # When she posts an activity signed with key 1
    first = await post_as(client, like(dana, 1), signer=dana, keypair=KEY_1, clock=clock)
    # Then it is accepted after one fetch of her key
    assert first.status_code == 202, await first.get_data(as_text=True)
    assert peer.paths == ["/users/dana"]
    # And the key is cached: a second activity needs no fetch
    cached = await post_as(client, like(dana, 2), signer=dana, keypair=KEY_1, clock=clock)
    assert cached.status_code == 202, await cached.get_data(as_text=True)
    assert len(peer.requests) == 1

    # When she rotates to key 2 and signs with it
    peer.serve("/users/dana", actor_document(dana, KEY_2))
    rotated = await post_as(client, like(dana, 3), signer=dana, keypair=KEY_2, clock=clock)
    # Then the inbox refetches her key exactly once and accepts the activity
    assert rotated.status_code == 202, await rotated.get_data(as_text=True)
    assert len(peer.requests) == 2
    async with pool.acquire() as conn:
        pem = await conn.fetchval("SELECT public_key_pem FROM remote_actors WHERE uri = $1", dana)
    assert pem == KEY_2.public_pem

    # When an activity comes signed with key 3, which she never published
    forged = await post_as(client, like(dana, 4), signer=dana, keypair=KEY_3, clock=clock)
    # Then it is refused after exactly one more refetch, and not stored
    body = await forged.get_data(as_text=True)
    assert forged.status_code == 401, body
    assert json.loads(body)["reason"] == "signature_bad_signature"
    assert len(peer.requests) == 3
    async with pool.acquire() as conn:
        uris = await conn.fetch("SELECT activity_uri FROM inbox_items ORDER BY id")
    assert [row["activity_uri"] for row in uris] == [f"{dana}#likes/{n}" for n in (1, 2, 3)]
