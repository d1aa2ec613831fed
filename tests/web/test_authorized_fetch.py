"""Authorized fetch (FEDICITY_AUTHORIZED_FETCH=true): ActivityStreams GETs need a valid signature
from a domain that is not suspended. The instance actor, WebFinger, NodeInfo and HTML pages stay
public, and an unsigned GET of an actor gets only Mastodon's minimal document (id, inbox, key), so
that two servers that both require signatures can still fetch each other's keys.

Signers are remote actors seeded on `.invalid` hosts (RFC 6761), so their keys come from the
database cache and nothing leaves this machine.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

BASE = "http://fedicity.test"
ACTIVITY_JSON = "application/activity+json"
ALICE = "https://social.invalid/users/alice"
MALLORY = "https://spam.invalid/users/mallory"
KEY_A, KEY_M, KEY_OTHER = fixed_keypairs()[3:6]
# What Mastodon (and fedicity) show an unsigned fetch of an actor under authorized fetch.
MINIMAL_ACTOR_KEYS = frozenset(
    {
        "@context",
        "id",
        "type",
        "preferredUsername",
        "inbox",
        "outbox",
        "endpoints",
        "publicKey",
        "url",
    }
)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance that requires signed fetches."""
    return dataclasses.replace(settings, authorized_fetch=True)


@pytest.fixture
async def camille(pool: Pool, keygen: FixedKeys) -> None:
    """A local citizen whose actor document is asked for."""
    async with pool.acquire() as conn:
        await actor_service.create_person(
            conn, "camille", keygen=keygen, display_name="Camille Martin"
        )


def signed_get(path: str, key_id: str, keypair: KeyPair, clock: FrozenClock) -> dict[str, str]:
    """Headers of a GET signed the way Mastodon signs fetches (covering accept)."""
    headers = {"Accept": ACTIVITY_JSON}
    headers.update(
        sign_cavage(
            "GET",
            BASE + path,
            headers,
            None,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            clock.now(),
        )
    )
    return headers


async def test_unsigned_activitypub_get_of_collections_is_refused(
    client: TestClientProtocol, camille: None
) -> None:
    # Given Camille, on an instance that requires signed fetches
    for path in (
        "/actors/camille/outbox",
        "/actors/camille/followers",
        "/actors/camille/following",
    ):
        # When a server GETs one of Camille's collections as ActivityStreams without a signature
        response = await client.get(path, headers={"Accept": ACTIVITY_JSON})
        # Then it must sign first
        body = await response.get_data(as_text=True)
        assert response.status_code == 401, (path, body)
        assert response.mimetype == "application/problem+json", path
        assert json.loads(body)["reason"] == "unsigned", path


async def test_unsigned_get_of_actor_gets_only_the_minimal_key_document(
    client: TestClientProtocol, camille: None
) -> None:
    # Given Camille, on an instance that requires signed fetches
    # When a server GETs Camille's actor as ActivityStreams without a signature (to fetch her key)
    response = await client.get("/actors/camille", headers={"Accept": ACTIVITY_JSON})
    # Then it gets Mastodon's minimal document: who she is and her key, nothing of her profile
    assert response.status_code == 200, await response.get_data(as_text=True)
    document: dict[str, Any] = await response.get_json(force=True)
    assert document["id"] == BASE + "/actors/camille"
    assert document["publicKey"]["id"] == BASE + "/actors/camille#main-key"
    assert document["inbox"] == BASE + "/actors/camille/inbox"
    assert set(document) <= MINIMAL_ACTOR_KEYS
    assert "name" not in document


async def test_get_signed_by_known_actor_is_served(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, camille: None
) -> None:
    # Given Alice, known with her key
    await seed_remote_actor(pool, ALICE, KEY_A, clock.now())
    # When her server GETs Camille's actor, signed with Alice's key
    response = await client.get(
        "/actors/camille", headers=signed_get("/actors/camille", ALICE + "#main-key", KEY_A, clock)
    )
    # Then it gets the ActivityStreams document
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.mimetype == ACTIVITY_JSON
    document: dict[str, Any] = await response.get_json(force=True)
    assert document["id"] == BASE + "/actors/camille"
    # And the whole of it, profile included, not the minimal one unsigned fetches get
    assert document["name"] == "Camille Martin"
    assert document["followers"] == BASE + "/actors/camille/followers"


async def test_get_signed_with_a_key_the_actor_does_not_publish_is_refused(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, camille: None
) -> None:
    # Given Alice, known with her key
    await seed_remote_actor(pool, ALICE, KEY_A, clock.now())
    # When a GET names her key but is signed with another one
    response = await client.get(
        "/actors/camille",
        headers=signed_get("/actors/camille", ALICE + "#main-key", KEY_OTHER, clock),
    )
    # Then it is refused as a bad signature
    body = await response.get_data(as_text=True)
    assert response.status_code == 401, body
    assert json.loads(body)["reason"] == "signature_bad_signature"


async def test_get_signed_by_suspended_domain_is_forbidden(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, camille: None
) -> None:
    # Given Mallory, known with her key, on a domain the admin suspended
    await seed_remote_actor(pool, MALLORY, KEY_M, clock.now())
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, "spam.invalid", "suspend", "spam")
    # When her server GETs Camille's actor with a valid signature
    response = await client.get(
        "/actors/camille",
        headers=signed_get("/actors/camille", MALLORY + "#main-key", KEY_M, clock),
    )
    # Then it is forbidden
    body = await response.get_data(as_text=True)
    assert response.status_code == 403, body
    assert json.loads(body)["reason"] == "domain_refused"


async def test_instance_actor_and_discovery_stay_public(
    client: TestClientProtocol, camille: None
) -> None:
    # Given Camille, on an instance that requires signed fetches
    # When a server fetches the instance actor unsigned (it needs its key to verify our fetches)
    for accept in (
        ACTIVITY_JSON,
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    ):
        response = await client.get("/actor", headers={"Accept": accept})
        # Then it is served
        assert response.status_code == 200, (accept, await response.get_data(as_text=True))
        document: dict[str, Any] = await response.get_json(force=True)
        assert document["id"] == BASE + "/actor"
        assert document["publicKey"]["id"] == BASE + "/actor#main-key"
    # And WebFinger and NodeInfo answer without a signature
    webfinger = await client.get(
        "/.well-known/webfinger", query_string={"resource": "acct:camille@fedicity.test"}
    )
    assert webfinger.status_code == 200, await webfinger.get_data(as_text=True)
    nodeinfo = await client.get("/nodeinfo/2.1", headers={"Accept": "application/json"})
    assert nodeinfo.status_code == 200, await nodeinfo.get_data(as_text=True)


async def test_browsers_still_get_the_profile_page(
    client: TestClientProtocol, camille: None
) -> None:
    # Given Camille, on an instance that requires signed fetches
    # When a browser opens Camille's actor URL, unsigned
    response = await client.get("/actors/camille", headers={"Accept": BROWSER})
    # Then it gets her HTML profile
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "Camille Martin" in await response.get_data(as_text=True)
