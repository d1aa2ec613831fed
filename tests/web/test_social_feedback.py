"""The notifications page and count, likes and shares with their state and Undo, unfollowing,
and a post's thread: through the web app as a browser uses it (session, CSRF token)."""

from __future__ import annotations

import re
from typing import Any

from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follow_service
from fedicity.posts import service as post_service
from fedicity.posts.models import Post
from fedicity.urls import Urls
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

URLS = Urls("http://fedicity.test")
PASSWORD = "correct horse battery staple"
ALICE = "https://social.invalid/users/alice"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def citizen(pool: Pool, keygen: FixedKeys, username: str, name: str) -> Actor:
    """A local citizen with an account and a display name."""
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn,
            username=username,
            password=PASSWORD,
            keygen=keygen,
            display_name=name,
            locale="en",
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def log_in(client: TestClientProtocol, username: str) -> str:
    """Log in; the session's CSRF token."""
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    response = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": username, "password": PASSWORD}
    )
    assert response.status_code == 303
    page = await (await client.get("/settings")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    return token.group(1)


async def write(pool: Pool, clock: FrozenClock, author: Actor, text: str, **extra: Any) -> Post:
    """A public note by a local author."""
    async with pool.acquire() as conn:
        return await post_service.create_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
            **extra,
        )


async def page(client: TestClientProtocol, path: str) -> str:
    """A page's HTML, which must open."""
    response = await client.get(path)
    assert response.status_code == 200, path
    return await response.get_data(as_text=True)


async def outbox(pool: Pool) -> list[dict[str, Any]]:
    """Every activity stored to send, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT raw FROM outbox_activities ORDER BY id")
    return [row["raw"] for row in rows]


async def test_notifications_page_lists_by_name_marks_read_and_counts(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given Camille's post, liked and shared by Dominique, who also follows her
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    post = await write(pool, clock, camille, "Marché samedi")
    async with pool.acquire() as conn:
        await follow_service.follow(
            conn, actor=dominique, target=URLS.actor("camille"), urls=URLS, clock=clock
        )
        for kind in ("like", "announce"):
            await post_service.interact(
                conn, actor=dominique, post=post, kind=kind, urls=URLS, clock=clock
            )
    await log_in(client, "camille")
    # Then the header counts three unread
    assert "Notifications (3)" in await page(client, "/home")
    # When she opens her notifications
    html = await page(client, "/notifications")
    # Then each is a sentence with Dominique's name, newest first, linking to the object
    shared = html.index("Dominique Petit shared your post")
    liked = html.index("Dominique Petit liked your post")
    follows = html.index("Dominique Petit follows you")
    assert shared < liked < follows
    assert f'<a href="{post.uri}">Dominique Petit liked your post' in html
    assert f'<a href="{URLS.profile("dominique")}">Dominique Petit follows you' in html
    # And they are now read: the header shows no count
    html = await page(client, "/home")
    assert "Notifications (" not in html
    assert ">Notifications<" in html


async def test_notifications_are_paged_by_keyset_and_french_by_default(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given 31 posts by Camille, each liked by Dominique, and Camille reading in French
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE accounts SET locale = 'fr'")
    for number in range(31):
        post = await write(pool, clock, camille, f"Post {number}")
        async with pool.acquire() as conn:
            await post_service.interact(
                conn, actor=dominique, post=post, kind="like", urls=URLS, clock=clock
            )
    await log_in(client, "camille")
    # When she opens her notifications
    html = await page(client, "/notifications")
    # Then 30 show, in French, with a link to the older one
    assert html.count("Dominique Petit a aimé votre publication") == 30
    older = re.search(r'href="(/notifications\?before=\d+)"', html)
    assert older is not None
    # And the older page shows the last one, and nothing after it
    html = await page(client, older.group(1).replace("&amp;", "&"))
    assert html.count("Dominique Petit a aimé votre publication") == 1
    assert "before=" not in html
    # And a cursor that is not one is a 400, not a 500
    assert (await client.get("/notifications?before=abc")).status_code == 400


async def test_notifications_page_needs_a_login(client: TestClientProtocol) -> None:
    response = await client.get("/notifications")
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]


async def test_like_and_share_show_their_state_and_are_undone_with_undo(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given Camille's post, seen by Dominique on Camille's post page
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    post = await write(pool, clock, camille, "Marché samedi")
    token = await log_in(client, "dominique")
    path = post.uri.removeprefix("http://fedicity.test")
    html = await page(client, path)
    assert 'aria-pressed="false">Like</button> <span class="count like-count">0' in html
    for kind, done, undo in (("like", "Like", "Unlike"), ("announce", "Share", "Unshare")):
        # When she presses the button
        form = {"csrf_token": token, "uri": post.uri, "kind": kind, "next": path}
        response = await client.post("/posts/interact", form=form)
        # Then she is back on the page, the button pressed and the count 1
        assert response.status_code == 303
        assert response.headers["Location"] == path
        html = await page(client, path)
        assert f'aria-pressed="true">{undo}</button> <span class="count {kind}-count">1' in html
        # When she presses it again
        response = await client.post("/posts/interact", form={**form, "undo": "1"})
        assert response.status_code == 303
        # Then it is released, the count 0
        html = await page(client, path)
        assert f'aria-pressed="false">{done}</button> <span class="count {kind}-count">0' in html
        # And an Undo embedding her activity went out
        sent = await outbox(pool)
        undone, undo_activity = sent[-2], sent[-1]
        assert undo_activity["type"] == "Undo"
        assert undo_activity["object"]["id"] == undone["id"]
        assert undo_activity["object"]["type"] == ("Like" if kind == "like" else "Announce")
        assert undo_activity["actor"] == URLS.actor("dominique")


async def test_next_never_leaves_the_site(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    post = await write(pool, clock, camille, "Marché samedi")
    token = await log_in(client, "camille")
    for target in ("//evil.invalid/", "https://evil.invalid/", "/\\evil.invalid"):
        form = {"csrf_token": token, "uri": post.uri, "kind": "like", "next": target}
        response = await client.post("/posts/interact", form=form)
        assert response.headers["Location"] == "/home"


async def test_unfollow_from_the_profile_queues_undo_follow(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given Dominique following Camille (local) and Alice (remote)
    await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    await seed_remote_actor(pool, ALICE, fixed_keypairs()[3], clock.now())
    async with pool.acquire() as conn:
        for target in (URLS.actor("camille"), ALICE):
            await follow_service.follow(
                conn, actor=dominique, target=target, urls=URLS, clock=clock
            )
        await follow_queries.accept_follow(
            conn,
            (await follow_queries.select_follow(conn, URLS.actor("dominique"), ALICE)).id,  # type: ignore[union-attr]
            clock.now(),
        )
    token = await log_in(client, "dominique")
    # Then Camille's profile offers to cancel the request, with no Follow button
    html = await page(client, "/@camille")
    assert "Cancel the request" in html
    assert ">Follow</button>" not in html
    # When Dominique unfollows Alice
    response = await client.post(
        "/unfollow", form={"csrf_token": token, "uri": ALICE, "next": "/@camille"}
    )
    assert response.status_code == 303
    # Then the follow is gone and an Undo of her Follow is queued to Alice's inbox
    async with pool.acquire() as conn:
        assert await follow_queries.select_follow(conn, URLS.actor("dominique"), ALICE) is None
        row = await conn.fetchrow(
            """SELECT o.raw, d.inbox FROM deliveries d
                 JOIN outbox_activities o ON o.id = d.activity_id
                WHERE o.type = 'Undo'"""
        )
    assert row is not None
    assert row["inbox"] == "https://social.invalid/inbox"
    assert row["raw"]["object"]["type"] == "Follow"
    assert row["raw"]["object"]["object"] == ALICE


async def test_profile_of_an_account_i_follow_offers_unfollow(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await citizen(pool, keygen, "camille", "Camille Martin")
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=URLS.actor("dominique"),
            followee=URLS.actor("camille"),
            activity_uri=URLS.activity("f1"),
            accepted=True,
            now=clock.now(),
        )
    await log_in(client, "dominique")
    html = await page(client, "/@camille")
    assert "You follow this account." in html
    assert ">Unfollow</button>" in html


async def test_post_page_shows_its_parent_and_replies(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given a post, a reply to it, and two replies to that reply
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    first = await write(pool, clock, camille, "Premier message")
    middle = await write(pool, clock, dominique, "Réponse du milieu", in_reply_to=first)
    await write(pool, clock, camille, "Première réponse", in_reply_to=middle)
    await write(pool, clock, dominique, "Deuxième réponse", in_reply_to=middle)
    # When anyone opens the middle post
    html = await page(client, middle.uri.removeprefix("http://fedicity.test"))
    # Then its parent comes first, then it, then its replies in order
    order = [
        html.index(text)
        for text in ("Premier message", "Réponse du milieu", "Première réponse", "Deuxième")
    ]
    assert order == sorted(order)
