"""Interop with bovine (PyPI), an implementation we did not write, over real HTTP on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from tests.conftest import FixedKeys
from tests.flows.harness import eventually, running_instance
from tests.interop.peers import bovine_peer


async def _received(client: httpx.AsyncClient, peer: str) -> list[dict[str, Any]]:
    response = await client.get(f"{peer}/_received")
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_bovine_follows_a_citizen_and_both_sides_verify(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "instance", keygen) as instance,
        bovine_peer(tmp_path) as peer,
        httpx.AsyncClient(timeout=30) as client,
    ):
        # Given a citizen
        async with pool.acquire() as conn:
            account = await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
            camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        camille_uri = instance.urls.actor("camille")
        buttercup = f"{peer}/actor"

        # When bovine (its own client, draft-cavage signatures) follows her
        answer = (await client.post(f"{peer}/_follow", json={"target": camille_uri})).json()

        # Then our inbox accepts the signed Follow, and bovine receives and verifies our Accept
        assert answer["status"] == 202, answer

        async def accept_verified() -> bool:
            return any(
                entry["type"] == "Accept" and entry["verified"]
                for entry in await _received(client, peer)
            )

        await eventually(accept_verified, within=20)
        async with pool.acquire() as conn:
            follow = await follow_queries.select_follow(conn, buttercup, camille_uri)
        assert follow is not None
        assert follow.state == "accepted"

        # When camille posts publicly, the Create reaches bovine's inbox and verifies
        async with pool.acquire() as conn:
            note = await posts.create_note(
                conn,
                actor=camille,
                text="Bonjour le fédivers #montreuil",
                visibility="public",
                urls=instance.urls,
                clock=instance.clock,
                local_host=instance.settings.host,
                resolved={},
            )

        async def create_verified() -> bool:
            return any(
                entry["type"] == "Create"
                and entry["verified"]
                and entry["body"]["object"]["id"] == note.uri
                for entry in await _received(client, peer)
            )

        await eventually(create_verified, within=20)

        # When bovine sends a signed Create(Note) to camille, it lands in her home feed
        sent = (
            await client.post(
                f"{peer}/_create", json={"target": camille_uri, "content": "<p>Hello camille</p>"}
            )
        ).json()
        assert sent["status"] == 202, sent

        async def in_feed() -> bool:
            async with pool.acquire() as conn:
                feed = await post_queries.select_home_feed(conn, camille_uri, limit=10)
            return any(entry.post.uri == sent["note"] for entry in feed)

        await eventually(in_feed)

        # And a body altered after bovine signed it is refused with 401, nothing stored
        inbox = instance.urls.actor_inbox("camille")
        tampered = await client.post(
            f"{peer}/_send",
            json={
                "inbox": inbox,
                "tamper": True,
                "activity": {
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": f"{buttercup}/like/tampered",
                    "type": "Like",
                    "actor": buttercup,
                    "object": note.uri,
                    "content": "Hello",
                },
            },
        )
        assert tampered.json()["status"] == 401
        unsigned = await client.post(
            inbox,
            content=json.dumps(
                {"id": f"{buttercup}/x", "type": "Like", "actor": buttercup, "object": note.uri}
            ),
            headers={"Content-Type": "application/activity+json"},
        )
        assert unsigned.status_code == 401
        async with pool.acquire() as conn:
            stored = await conn.fetchval(
                """SELECT count(*) FROM inbox_items
                    WHERE activity_uri LIKE '%tampered' OR activity_uri LIKE '%/x'"""
            )
        assert stored == 0
