"""The per-domain inbox rate between two fedicity instances on loopback: the receiver answers
429 with Retry-After past the rate, the sender's real delivery worker waits that long and tries
again, and every activity is stored once in the end. Both instances read one frozen clock, so the
windows pass when the test moves it, not in real minutes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from fedicity.posts.models import Post
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.inbox_helpers import signed_headers

RATE = 3
POSTS = 8


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _deliveries(instance: Instance) -> list[dict[str, object]]:
    async with instance.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT d.state, d.attempts, d.last_status, d.last_error, d.next_attempt_at,
                      o.uri
                 FROM deliveries d JOIN outbox_activities o ON o.id = d.activity_id
                WHERE o.type = 'Create' ORDER BY d.id"""
        )
    return [dict(row) for row in rows]


async def _forge(b: Instance, camille_key: str, other_key_pem: str) -> httpx.Response:
    """A delivery naming camille's key but signed with another: a forger's."""
    body = json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "http://forged.example/activity",
            "type": "Like",
            "actor": camille_key.split("#")[0],
            "object": b.urls.actor("mairie_b"),
        }
    ).encode()
    forged_pair = next(p for p in fixed_keypairs() if p.public_pem != other_key_pem)
    headers = signed_headers(b.base + "/inbox", body, camille_key, forged_pair, b.clock.now())
    async with httpx.AsyncClient() as http:
        return await http.post(b.base + "/inbox", content=body, headers=headers)


async def test_past_the_domain_rate_the_peer_waits_for_retry_after_and_nothing_is_lost(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen, clock=clock) as a,
        running_instance(
            pool_b, tmp_path / "b", keygen, clock=clock, inbox_rate_per_domain=RATE
        ) as b,
    ):
        # Given the mairie on B following camille on A (A's Accept is B's first delivery from A,
        # in the minute that starts now)
        camille = await _citizen(a, "camille", keygen)
        mairie = await _citizen(b, "mairie_b", keygen)
        camille_uri = a.urls.actor("camille")
        assert not isinstance(await b.federation.directory.actor(camille_uri), str)
        async with b.pool.acquire() as conn:
            await follows.follow(conn, actor=mairie, target=camille_uri, urls=b.urls, clock=clock)

        async def accepted() -> bool:
            async with b.pool.acquire() as conn:
                found = await follow_queries.select_follow(
                    conn, b.urls.actor("mairie_b"), camille_uri
                )
            return found is not None and found.state == "accepted"

        await eventually(accepted)
        start = clock.now()

        # And forged deliveries naming camille's key, refused (401) without spending A's budget
        assert camille.public_key_pem is not None
        for _ in range(RATE + 2):
            forged = await _forge(b, a.urls.actor_key("camille"), camille.public_key_pem)
            assert forged.status_code == 401, forged.text

        # When camille publishes eight posts at once
        written: list[Post] = []
        async with a.pool.acquire() as conn:
            for n in range(POSTS):
                written.append(
                    await posts.create_note(
                        conn,
                        actor=camille,
                        text=f"Compte rendu du conseil, partie {n}",
                        visibility="public",
                        urls=a.urls,
                        clock=clock,
                        local_host=a.settings.host,
                        resolved={},
                    )
                )

        async def all_tried_once() -> bool:
            rows = await _deliveries(a)
            return len(rows) == POSTS and all(int(str(row["attempts"])) >= 1 for row in rows)

        await eventually(all_tried_once)
        # Then B took what was left of A's minute (the Accept used one) and answered the rest
        # 429 with a Retry-After to the minute's end: 60 s, which A's worker waits, though its
        # own curve would have tried again after 16 s
        rows = await _deliveries(a)
        delivered = [row for row in rows if row["state"] == "delivered"]
        refused = [row for row in rows if row["state"] == "pending"]
        assert len(delivered) == RATE - 1
        assert len(refused) == POSTS - (RATE - 1)
        for row in refused:
            assert row["last_status"] == 429
            assert "retry in 60 s" in str(row["last_error"])
            assert row["next_attempt_at"] == start + timedelta(seconds=60)

        # When the minute has passed, A tries again: B takes three more, refuses the rest
        clock.advance(timedelta(seconds=61))

        async def second_round_done() -> bool:
            rows = await _deliveries(a)
            return all(row["state"] == "delivered" or row["attempts"] == 2 for row in rows)

        await eventually(second_round_done)
        rows = await _deliveries(a)
        assert sum(row["state"] == "delivered" for row in rows) == 2 * RATE - 1
        again = [row for row in rows if row["state"] == "pending"]
        for row in again:
            # Retry-After (60 s) again wins over the curve's second delay (31 to 39 s)
            assert row["next_attempt_at"] == clock.now() + timedelta(seconds=60)

        # And after another minute the last ones arrive
        clock.advance(timedelta(seconds=61))

        async def all_delivered() -> bool:
            return all(row["state"] == "delivered" for row in await _deliveries(a))

        await eventually(all_delivered)

        # Then every post is on B, each stored once
        async def all_stored() -> bool:
            async with b.pool.acquire() as conn:
                found = [await post_queries.select_post(conn, post.uri) for post in written]
            return all(post is not None for post in found)

        await eventually(all_stored)
        creates = [str(row["uri"]) for row in await _deliveries(a)]
        async with b.pool.acquire() as conn:
            received = await conn.fetch(
                "SELECT activity_uri FROM inbox_items WHERE activity_uri = ANY($1::text[])",
                creates,
            )
            # (the unique activity id makes a second copy impossible; none was even needed)
            stored = await post_queries.count_author_posts(conn, camille_uri)
        assert sorted(row["activity_uri"] for row in received) == sorted(creates)
        assert stored == POSTS
