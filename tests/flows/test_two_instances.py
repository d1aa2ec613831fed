"""Two fedicity instances on loopback: follow, accept, post, reply, like, unfollow, delete."""

from __future__ import annotations

from pathlib import Path

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def test_follow_accept_post_reaches_the_followers_feed(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
    ):
        # Given camille on A and the mairie's account on B
        camille = await _citizen(a, "camille", keygen)
        mairie = await _citizen(b, "mairie_b", keygen)
        mairie_uri = b.urls.actor("mairie_b")
        camille_uri = a.urls.actor("camille")
        stored = await a.federation.directory.actor(mairie_uri)
        assert not isinstance(stored, str)

        # When camille follows the mairie
        async with a.pool.acquire() as conn:
            await follows.follow(conn, actor=camille, target=mairie_uri, urls=a.urls, clock=a.clock)

        # Then B records the follower and A receives B's signed Accept
        async def accepted() -> bool:
            async with a.pool.acquire() as conn:
                found = await follow_queries.select_follow(conn, camille_uri, mairie_uri)
            return found is not None and found.state == "accepted"

        await eventually(accepted)
        async with b.pool.acquire() as conn:
            assert await follow_queries.count_followers(conn, mairie_uri) == 1

        # When the mairie posts publicly
        async with b.pool.acquire() as conn:
            post = await posts.create_note(
                conn,
                actor=mairie,
                text="Conseil municipal jeudi à 19 h #conseil",
                visibility="public",
                urls=b.urls,
                clock=b.clock,
                local_host=b.settings.host,
                resolved={},
            )

        # Then it appears in camille's home feed on A
        async def in_feed() -> bool:
            async with a.pool.acquire() as conn:
                feed = await post_queries.select_home_feed(conn, camille_uri, limit=10)
            return any(entry.post.uri == post.uri for entry in feed)

        await eventually(in_feed)

        # When camille replies mentioning the mairie, the reply reaches B
        async with a.pool.acquire() as conn:
            reply_parent = await post_queries.select_post(conn, post.uri)
            assert reply_parent is not None
            reply = await posts.create_note(
                conn,
                actor=camille,
                text="@mairie_b merci, j'y serai",
                visibility="public",
                urls=a.urls,
                clock=a.clock,
                local_host=a.settings.host,
                resolved={
                    ("mairie_b", b.settings.host): Mention(
                        f"@mairie_b@{b.settings.host}", mairie_uri, b.urls.profile("mairie_b")
                    )
                },
                in_reply_to=reply_parent,
            )

        async def reply_arrived() -> bool:
            async with b.pool.acquire() as conn:
                return await post_queries.select_post(conn, reply.uri) is not None

        await eventually(reply_arrived)

        # When camille likes the post, B counts the like
        async with a.pool.acquire() as conn:
            assert reply_parent is not None
            await posts.interact(
                conn, actor=camille, post=reply_parent, kind="like", urls=a.urls, clock=a.clock
            )

        async def liked() -> bool:
            async with b.pool.acquire() as conn:
                return await post_queries.count_interactions(conn, post.uri, "like") == 1

        await eventually(liked)

        # When the mairie deletes its post, A tombstones it
        async with b.pool.acquire() as conn:
            await posts.delete_note(conn, actor=mairie, post=post, urls=b.urls, clock=b.clock)

        async def gone() -> bool:
            async with a.pool.acquire() as conn:
                return await post_queries.select_post(conn, post.uri) is None

        await eventually(gone)

        # When camille unfollows, B forgets the follower
        async with a.pool.acquire() as conn:
            assert await follows.unfollow(
                conn, actor=camille, target=mairie_uri, urls=a.urls, clock=a.clock
            )

        async def unfollowed() -> bool:
            async with b.pool.acquire() as conn:
                return await follow_queries.count_followers(conn, mairie_uri) == 0

        await eventually(unfollowed)
