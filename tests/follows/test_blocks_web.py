"""Blocks between local citizens and the /settings/blocks pages, through the web app as a
browser uses it (session, CSRF token): what a blocked neighbour can no longer do, what the
blocker no longer sees, the lists with their pages and undo buttons, and bad input refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from quart.typing import TestClientProtocol

from fedicity.activitypub.accessors import host_of
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import blocks
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follow_service
from fedicity.follows.blocks import BlockError, normalized_domain
from fedicity.notifications.service import notify
from fedicity.posts.service import PostError
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor
from tests.search import helpers as search_helpers
from tests.web.test_social_feedback import URLS, citizen, log_in, page, write

CAMILLE = URLS.actor("camille")
DOMINIQUE = URLS.actor("dominique")


async def test_a_blocked_neighbour_cannot_follow_or_answer_and_is_not_seen(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    # Given dominique following camille, answering her post and liking it
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=DOMINIQUE,
            followee=CAMILLE,
            activity_uri=None,
            accepted=True,
            now=clock.now(),
        )
    first = await write(pool, clock, camille, "Premier message")
    await write(pool, clock, dominique, "Réponse de Dominique", in_reply_to=first)
    token = await log_in(client, "camille")
    assert "Notifications (1)" in await page(client, "/home")
    thread_path = first.uri.removeprefix("http://fedicity.test")
    assert "Réponse de Dominique" in await page(client, thread_path)
    unread_before = await _notifications(pool)
    assert unread_before == 1

    # When camille blocks dominique from his profile's link
    profile = await page(client, "/@dominique")
    link = re.search(r'href="(/settings/blocks/actor\?[^"]+)"', profile)
    assert link is not None
    choices = await page(client, link.group(1).replace("&amp;", "&"))
    assert "Dominique Petit" in choices
    answer = await client.post(
        "/settings/blocks/actor",
        form={"csrf_token": token, "uri": DOMINIQUE, "action": "block", "next": "/@dominique"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/@dominique"

    # Then his follow is gone and no activity went out (both are local)
    async with pool.acquire() as conn:
        assert await follow_queries.select_follow(conn, DOMINIQUE, CAMILLE) is None
        assert (
            await conn.fetchval("SELECT count(*) FROM outbox_activities WHERE type = 'Block'") == 0
        )
    # And his reply is gone from the thread she reads (others still see it), his notification too
    assert "Réponse de Dominique" not in await page(client, thread_path)
    assert "Notifications (" not in await page(client, "/home")
    # And he can neither follow her again nor answer her
    async with pool.acquire() as conn:
        with pytest.raises(follow_service.FollowError) as raised:
            await follow_service.follow(
                conn, actor=dominique, target=CAMILLE, urls=URLS, clock=clock
            )
        assert raised.value.code == "follow_blocked"
    with pytest.raises(PostError) as refused:
        await write(pool, clock, dominique, "Encore moi", in_reply_to=first)
    assert refused.value.code == "reply_blocked"
    # Nor notify her by any other path
    async with pool.acquire() as conn:
        added = await notify(
            conn,
            recipient=CAMILLE,
            kind="like",
            actor_uri=DOMINIQUE,
            object_uri=first.uri,
            urls=URLS,
            clock=clock,
        )
    assert added is False
    # And she cannot follow him while she blocks him
    async with pool.acquire() as conn:
        with pytest.raises(follow_service.FollowError) as raised:
            await follow_service.follow(
                conn, actor=camille, target=DOMINIQUE, urls=URLS, clock=clock
            )
        assert raised.value.code == "follow_blocked"

    # When she unblocks him from the list, his reply shows again
    lists = await page(client, "/settings/blocks")
    assert "Dominique Petit" in lists
    answer = await client.post(
        "/settings/blocks/actor",
        form={
            "csrf_token": token,
            "uri": DOMINIQUE,
            "action": "unblock",
            "next": "/settings/blocks",
        },
    )
    assert answer.status_code == 303
    assert "Réponse de Dominique" in await page(client, thread_path)
    assert "Dominique Petit" not in await page(client, "/settings/blocks")


async def _notifications(pool: Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM notifications")
    return count


async def test_the_lists_are_paged_each_on_its_own(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    keypair = fixed_keypairs()[0]
    # Given 23 remote accounts camille mutes and 2 domains she blocks
    async with pool.acquire() as conn:
        for n in range(23):
            uri = f"https://social{n}.invalid/users/voisin{n}"
            await seed_remote_actor(pool, uri, keypair, datetime.now(UTC))
            clock.advance(timedelta(seconds=1))
            await blocks.mute(
                conn, owner=camille, target=uri, notifications=n % 2 == 0, urls=URLS, clock=clock
            )
        for domain in ("spam.invalid", "bruit.invalid"):
            await blocks.block_domain(conn, owner=camille, typed=domain, urls=URLS, clock=clock)
    await log_in(client, "camille")
    # When she opens her lists: 20 mutes, newest first, and a link to the rest
    html = await page(client, "/settings/blocks")
    assert html.count("Unmute") == 20 or html.count("Ne plus masquer") == 20
    assert "social22.invalid" in html
    assert "social2.invalid/" not in html
    more = re.search(r'href="(/settings/blocks\?mutes_before=[0-9]+)#mutes"', html)
    assert more is not None
    rest = await page(client, more.group(1))
    assert "social2.invalid/" in rest
    assert "social0.invalid/" in rest
    assert "social22.invalid" not in rest
    assert "spam.invalid" in html
    assert "bruit.invalid" in html
    # And a cursor it never gave is refused
    assert (await client.get("/settings/blocks?mutes_before=abc")).status_code == 400


async def test_bad_input_is_refused_precisely(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await citizen(pool, keygen, "camille", "Camille Martin")
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    assert (await client.get("/settings/blocks")).status_code == 303
    token = await log_in(client, "camille")

    async def domain(typed: str) -> tuple[int, str]:
        answer = await client.post(
            "/settings/blocks/domain", form={"csrf_token": token, "domain": typed}
        )
        return answer.status_code, await answer.get_data(as_text=True)

    # A domain that is none: the form again, the reason by the field, what was typed kept
    for typed in ("javascript:alert(1)", "<b>x</b>", "a" * 5000, "", "exa mple.org", "x..y"):
        status, html = await domain(typed)
        assert status == 400, typed
        assert 'id="domain-error"' in html
        assert "<b>x</b>" not in html
    status, html = await domain("fedicity.test")
    assert status == 400
    assert 'id="domain-error"' in html
    assert (await domain("bad\x00.org"))[0] == 400
    # An actor we do not know, or oneself: 404; an unknown action or no uri: 400
    for uri in ("javascript:alert(1)", "https://nowhere.invalid/users/x", CAMILLE):
        assert (
            await client.get("/settings/blocks/actor", query_string={"uri": uri})
        ).status_code == 404
    for form, status in (
        ({"uri": "https://nowhere.invalid/users/x", "action": "block"}, 404),
        ({"uri": CAMILLE, "action": "block"}, 400),
        ({"uri": DOMINIQUE, "action": "explode"}, 400),
        ({"uri": "", "action": "block"}, 400),
        ({"uri": "x" * 5000, "action": "mute"}, 400),
    ):
        answer = await client.post("/settings/blocks/actor", form={"csrf_token": token, **form})
        assert answer.status_code == status, form
    # A form without the session's token is refused, and nothing was recorded
    answer = await client.post("/settings/blocks/actor", form={"uri": DOMINIQUE, "action": "block"})
    assert answer.status_code in (400, 403)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM user_blocks") == 0
        assert await conn.fetchval("SELECT count(*) FROM user_domain_blocks") == 0
    # An open redirect is not one, however it is spelt (a browser drops the tab, reads the
    # backslash as a slash)
    for hostile in ("//evil.example/", "/\t/evil.example", "/\\evil.example", "/x\\..\\"):
        answer = await client.post(
            "/settings/blocks/actor",
            form={"csrf_token": token, "uri": DOMINIQUE, "action": "mute", "next": hostile},
        )
        assert answer.headers["Location"].startswith("/settings/blocks/actor?uri="), hostile


def test_domains_are_read_as_host_of_compares_them() -> None:
    assert normalized_domain(" Example.ORG ") == "example.org"
    assert normalized_domain("https://social.example.org/@ana") == "social.example.org"
    assert normalized_domain("@ana@Social.Example.org") == "social.example.org"
    assert normalized_domain("example.org:443") == "example.org"
    assert normalized_domain("127.0.0.1:8080") == "127.0.0.1:8080"
    assert normalized_domain("bücher.example") == "xn--bcher-kva.example"
    for bad in ("", "javascript:alert(1)", "a b", "-a.org", "a" * 300, "x..y", "ex_ample.org"):
        with pytest.raises(BlockError) as raised:
            normalized_domain(bad)
        assert raised.value.code == "domain_invalid"


async def test_uri_authority_in_sql_agrees_with_host_of(pool: Pool) -> None:
    uris = [
        "https://Social.Example.org/users/ana",
        "https://social.example.org:443/users/ana",
        "http://social.example.org:80/users/ana",
        "https://social.example.org:8443/users/ana",
        "http://127.0.0.1:39685/users/ana",
        "https://user@social.example.org/users/ana",
        "https://social.example.org?x=1",
        "https://social.example.org#frag",
    ]
    async with pool.acquire() as conn:
        for uri in uris:
            assert await conn.fetchval("SELECT uri_authority($1)", uri) == host_of(uri), uri


async def test_the_hashtag_page_leaves_out_whom_the_viewer_blocks_mutes_or_domain_blocks(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given tagged public posts by four authors: two neighbours, a remote account, and one kept
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    emile = await citizen(pool, keygen, "emile", "Émile Roux")
    fanny = await citizen(pool, keygen, "fanny", "Fanny Blanc")
    await write(pool, clock, dominique, "Bloqué #jardin")
    await write(pool, clock, emile, "Masqué #jardin")
    await write(pool, clock, fanny, "Gardé #jardin")
    loud = "https://bruit.invalid/users/loud"
    await search_helpers.remote_actor(pool, fixed_keypairs()[0], loud, "loud", "Loud")
    remote = await search_helpers.post(pool, "Domaine bloqué", author=loud)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO post_tags (post_id, tag) VALUES ($1, 'jardin')", remote.id)
        # When camille blocks dominique, mutes émile and blocks the remote domain
        await blocks.block(conn, owner=camille, target=DOMINIQUE, urls=URLS, clock=clock)
        await blocks.mute(
            conn,
            owner=camille,
            target=URLS.actor("emile"),
            notifications=False,
            urls=URLS,
            clock=clock,
        )
        await blocks.block_domain(
            conn, owner=camille, typed="bruit.invalid", urls=URLS, clock=clock
        )
    # Then an anonymous visitor still sees every post
    anonymous = await page(client, "/tags/jardin")
    for text in ("Bloqué", "Masqué", "Gardé", "Domaine bloqué"):
        assert text in anonymous, text
    # And camille, logged in, sees only the one she hides nothing of
    await log_in(client, "camille")
    html = await page(client, "/tags/jardin")
    assert "Gardé" in html
    for text in ("Bloqué", "Masqué", "Domaine bloqué"):
        assert text not in html, text
    # And once she lifts them, they are back on the next request
    async with pool.acquire() as conn:
        await blocks.unblock(conn, owner=camille, target=DOMINIQUE, urls=URLS, clock=clock)
        await blocks.unmute(conn, owner=camille, target=URLS.actor("emile"))
        await blocks.unblock_domain(conn, owner=camille, domain="bruit.invalid")
    html = await page(client, "/tags/jardin")
    for text in ("Bloqué", "Masqué", "Gardé", "Domaine bloqué"):
        assert text in html, text


async def test_the_profile_of_an_account_i_block_says_so_instead_of_its_posts(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given dominique's posts, and camille blocking him
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    await write(pool, clock, dominique, "Mon potager en mars")
    async with pool.acquire() as conn:
        await blocks.block(conn, owner=camille, target=DOMINIQUE, urls=URLS, clock=clock)
    # Then a visitor still reads his posts on his profile
    assert "Mon potager en mars" in await page(client, "/@dominique")
    # And camille is told she blocks him, with the way to unblock, and not his posts
    token = await log_in(client, "camille")
    profile = await page(client, "/@dominique")
    assert "You block this account." in profile
    assert "Mon potager en mars" not in profile
    link = re.search(
        r'class="blocked-note">[^<]*<a href="(/settings/blocks/actor\?[^"]+)"', profile
    )
    assert link is not None
    choices = await page(client, link.group(1).replace("&amp;", "&"))
    assert 'value="unblock"' in choices
    # When she unblocks him from there, his posts are back on his profile
    answer = await client.post(
        "/settings/blocks/actor",
        form={"csrf_token": token, "uri": DOMINIQUE, "action": "unblock", "next": "/@dominique"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/@dominique"
    profile = await page(client, "/@dominique")
    assert "Mon potager en mars" in profile
    assert "You block this account." not in profile
    # And her own profile never says it
    assert "You block this account." not in await page(client, "/@camille")
