"""A signature must name this server: a request signed for another server is not valid here.

Over real HTTP: an instance on Hypercorn, a remote actor whose key a fake peer on 127.0.0.1
serves, and requests sent the way an attacker replays them (their Host header included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.activitypub.httpsig import SigningKey, sign_cavage, sign_rfc9421
from fedicity.activitypub.keys import load_private_key
from fedicity.actors import service as actor_service
from fedicity.clock import SystemClock
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import running_instance
from tests.peer import Peer, running_peer
from tests.security.federation_peers import person, problem_reason, signed_get, signed_post

KEY = fixed_keypairs()[3]
AS = "application/activity+json"
CLOCK = SystemClock()


def like(actor: str, number: int) -> bytes:
    """A Like by `actor`, as the bytes of its body."""
    activity: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}#likes/{number}",
        "type": "Like",
        "actor": actor,
        "object": "https://elsewhere.example/notes/1",
    }
    return json.dumps(activity).encode()


async def stored(pool: Pool) -> list[str]:
    """The ids of the activities that reached the mailbox."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT activity_uri FROM inbox_items ORDER BY id")
    return [row["activity_uri"] for row in rows]


def alice_on(peer: Peer) -> str:
    """Alice's actor id on the peer, which serves her document and key."""
    alice = peer.url("/users/alice")
    peer.serve("/users/alice", person(alice, KEY, username="alice"))
    return alice


async def test_delivery_signed_for_another_servers_inbox_is_refused(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        # Given Alice, who sent a correctly signed delivery to another server's inbox
        alice = alice_on(peer)
        body = like(alice, 1)
        headers = signed_post("https://other.example/inbox", body, alice + "#main-key", KEY, CLOCK)
        assert headers["Host"] == "other.example"
        # When someone replays it, headers and all, to our inbox
        replayed = await http.post(instance.base + "/inbox", content=body, headers=headers)
        # Then it is refused with a precise reason, before her key is even fetched
        assert replayed.status_code == 401, replayed.text
        assert problem_reason(replayed) == "signature_wrong_authority"
        assert "other.example" in replayed.json()["detail"]
        assert peer.requests == []
        assert await stored(pool) == []
        # And the same activity signed for our inbox is accepted (only the host was wrong)
        ours = signed_post(instance.base + "/inbox", body, alice + "#main-key", KEY, CLOCK)
        accepted = await http.post(instance.base + "/inbox", content=body, headers=ours)
        assert accepted.status_code == 202, accepted.text
        assert await stored(pool) == [alice + "#likes/1"]


async def test_cavage_signature_without_host_is_refused(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        # Given a delivery whose signature covers the path, date and digest but not host
        alice = alice_on(peer)
        body = like(alice, 2)
        key = SigningKey(alice + "#main-key", load_private_key(KEY.private_pem))
        headers = {"Content-Type": "application/activity+json"}
        headers.update(
            sign_cavage(
                "POST",
                instance.base + "/inbox",
                headers,
                body,
                key,
                CLOCK.now(),
                components=("(request-target)", "date", "digest"),
            )
        )
        # When it is posted to our inbox
        response = await http.post(instance.base + "/inbox", content=body, headers=headers)
        # Then it is refused: such a signature is valid at every server with an /inbox
        assert response.status_code == 401, response.text
        assert problem_reason(response) == "signature_required_component_not_covered"
        assert "host" in response.json()["detail"]
        assert peer.requests == []
        assert await stored(pool) == []


async def test_rfc9421_signature_covering_only_the_path_is_refused(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        alice = alice_on(peer)
        key = SigningKey(alice + "#main-key", load_private_key(KEY.private_pem))
        url = instance.base + "/inbox"
        # Given an RFC 9421 delivery covering @method, @path and content-digest only
        body = like(alice, 3)
        headers = {"Content-Type": "application/activity+json"}
        headers.update(
            sign_rfc9421(
                "POST",
                url,
                headers,
                body,
                key,
                CLOCK.now(),
                components=("@method", "@path", "content-digest"),
            )
        )
        # When it is posted to our inbox
        response = await http.post(url, content=body, headers=headers)
        # Then it is refused: nothing in it names this server
        assert response.status_code == 401, response.text
        assert problem_reason(response) == "signature_required_component_not_covered"
        assert "@authority" in response.json()["detail"]
        assert peer.requests == []
        # And the same delivery signed over @target-uri (Mastodon's choice) is accepted
        body = like(alice, 4)
        headers = {"Content-Type": "application/activity+json"}
        headers.update(sign_rfc9421("POST", url, headers, body, key, CLOCK.now()))
        accepted = await http.post(url, content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        assert await stored(pool) == [alice + "#likes/4"]


async def test_fetch_signed_for_another_server_is_refused_under_authorized_fetch(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, authorized_fetch=True) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        async with pool.acquire() as conn:
            await actor_service.create_person(conn, "camille", keygen=keygen)
        alice = alice_on(peer)
        # Given a signed GET of /actors/camille made for another server
        elsewhere = signed_get(
            "https://other.example/actors/camille", alice + "#main-key", KEY, CLOCK, AS
        )
        # When it is replayed to us
        replayed = await http.get(instance.base + "/actors/camille", headers=elsewhere)
        # Then it is refused before any key fetch
        assert replayed.status_code == 401, replayed.text
        assert problem_reason(replayed) == "signature_wrong_authority"
        assert peer.requests == []
        # And the same GET signed for us is served the full document
        ours = signed_get(instance.base + "/actors/camille", alice + "#main-key", KEY, CLOCK, AS)
        served = await http.get(instance.base + "/actors/camille", headers=ours)
        assert served.status_code == 200, served.text
        assert served.json()["followers"].endswith("/actors/camille/followers")
