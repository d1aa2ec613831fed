"""Blocks, mutes, domain blocks and hidden boosts against remote actors on a loopback peer: what
the peer is sent (a signed Block, Undo(Follow), Reject; nothing for a mute), what the instance's
follows become, and what the citizen's feed and notifications show, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from fedicity.db.pool import Pool
from tests.accounts.helpers import assert_signed_by, log_in, register
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import running_instance
from tests.follows.helpers import Remote, add_follow, follow_state, until, value
from tests.peer import running_peer


async def test_blocking_a_remote_actor_federates_and_hides_them(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        me = instance.urls.actor("camille")
        ana = Remote(peer, "ana", fixed_keypairs()[-1])
        await ana.seed(pool)
        # Given camille and ana following each other, and ana's post in camille's feed
        my_follow = await add_follow(pool, me, ana.uri)
        her_follow = await add_follow(pool, ana.uri, me)
        await ana.post(instance, "Bonjour du marché")
        token = await log_in(http, "camille")

        async def in_feed(text: str) -> bool:
            return text in (await http.get("/home")).text

        await until(lambda: in_feed("Bonjour du marché"))

        # When camille blocks ana from the page about her
        page = await http.get("/settings/blocks/actor", params={"uri": ana.uri})
        assert page.status_code == 200
        answer = await http.post(
            "/settings/blocks/actor", data={"csrf_token": token, "uri": ana.uri, "action": "block"}
        )
        assert answer.status_code == 303

        # Then ana's server receives a Block signed by camille, Undo(Follow) of camille's follow
        # and Reject of ana's
        async def told() -> bool:
            return bool(ana.received("Block") and ana.received("Undo") and ana.received("Reject"))

        await until(told)
        [block] = ana.received("Block")
        assert block["actor"] == me
        assert block["object"] == ana.uri
        [undo] = ana.received("Undo")
        assert undo["object"]["type"] == "Follow"
        assert undo["object"]["id"] == my_follow
        [reject] = ana.received("Reject")
        assert reject["object"]["id"] == her_follow
        assert reject["object"]["actor"] == ana.uri
        posted = next(p for p in peer.posted if b'"Block"' in p.body)
        await assert_signed_by(pool, posted, peer, "camille")
        # And the follows are gone both ways, her post left the feed
        assert await follow_state(pool, me, ana.uri) is None
        assert await follow_state(pool, ana.uri, me) is None
        assert not await in_feed("Bonjour du marché")
        assert "Bonjour du marché" not in (await http.get("/home")).text

        # When ana follows camille again: the Follow is answered Reject, no follow is kept
        follow_id = await ana.send(instance, {"type": "Follow", "object": me})

        async def rejected() -> bool:
            return any(r["object"].get("id") == follow_id for r in ana.received("Reject"))

        await until(rejected)
        assert await follow_state(pool, ana.uri, me) is None
        # And her mention of camille, and her reply, notify nobody
        mention = await ana.post(
            instance,
            "@camille regarde",
            to=[me],
            tag=[{"type": "Mention", "href": me, "name": "@camille"}],
        )

        async def stored() -> bool:
            return bool(await value(pool, "SELECT count(*) FROM posts WHERE uri = $1", mention))

        await until(stored)
        assert await value(pool, "SELECT count(*) FROM notifications") == 0

        # When camille unblocks ana: Undo(Block) naming the Block goes to her server
        answer = await http.post(
            "/settings/blocks/actor",
            data={"csrf_token": token, "uri": ana.uri, "action": "unblock"},
        )
        assert answer.status_code == 303

        async def undone() -> bool:
            return any(u["object"].get("type") == "Block" for u in ana.received("Undo"))

        await until(undone)
        undo_block = next(u for u in ana.received("Undo") if u["object"]["type"] == "Block")
        assert undo_block["object"]["id"] == block["id"]
        assert await value(pool, "SELECT count(*) FROM user_blocks") == 0


async def test_a_mute_hides_posts_and_optionally_notifications_and_tells_nobody(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        me = instance.urls.actor("camille")
        ana = Remote(peer, "ana", fixed_keypairs()[-1])
        bruno = Remote(peer, "bruno", fixed_keypairs()[-2])
        for remote in (ana, bruno):
            await remote.seed(pool)
            await add_follow(pool, me, remote.uri)
        token = await log_in(http, "camille")
        sent_before = await value(pool, "SELECT count(*) FROM outbox_activities")

        # When camille mutes ana (with her notifications) and bruno (keeping his)
        for remote, notifications in ((ana, "on"), (bruno, "off")):
            answer = await http.post(
                "/settings/blocks/actor",
                data={
                    "csrf_token": token,
                    "uri": remote.uri,
                    "action": "mute",
                    "notifications": notifications,
                },
            )
            assert answer.status_code == 303
        # Then nothing is sent to anyone, and the follows stand
        assert await value(pool, "SELECT count(*) FROM outbox_activities") == sent_before
        assert await follow_state(pool, me, ana.uri) == "accepted"

        # When both post, mentioning camille
        for remote in (ana, bruno):
            await remote.post(
                instance,
                f"@camille note de {remote.uri[-5:]}",
                to=[me],
                tag=[{"type": "Mention", "href": me, "name": "@camille"}],
            )
        # Then only bruno's mention notifies, and neither post is in her feed
        await until(lambda: _notified(pool, bruno.uri))
        assert (
            await value(pool, "SELECT count(*) FROM posts WHERE content_html LIKE '%note de%'") == 2
        )
        assert (
            await value(pool, "SELECT count(*) FROM notifications WHERE actor_uri = $1", ana.uri)
            == 0
        )
        feed = (await http.get("/home")).text
        assert "note de " not in feed
        notifications = (await http.get("/notifications")).text
        assert notifications.count('id="notification-') == 1
        assert not peer.received


async def _notified(pool: Pool, actor_uri: str) -> bool:
    count = await value(pool, "SELECT count(*) FROM notifications WHERE actor_uri = $1", actor_uri)
    return bool(count)


async def test_a_domain_block_hides_the_domain_and_ends_follows_without_a_block(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as peer,
        running_peer() as elsewhere,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        me = instance.urls.actor("camille")
        ana = Remote(peer, "ana", fixed_keypairs()[-1])
        bruno = Remote(peer, "bruno", fixed_keypairs()[-2])
        chloe = Remote(elsewhere, "chloe", fixed_keypairs()[-3])
        for remote in (ana, bruno, chloe):
            await remote.seed(pool)
        # Given camille following ana and chloe, and bruno following camille
        ana_follow = await add_follow(pool, me, ana.uri)
        await add_follow(pool, me, chloe.uri)
        bruno_follow = await add_follow(pool, bruno.uri, me)
        await ana.post(instance, "Nouvelles du serveur bloqué")
        await chloe.post(instance, "Nouvelles de chez Chloé")
        token = await log_in(http, "camille")

        async def both_shown() -> bool:
            feed = (await http.get("/home")).text
            return "serveur bloqué" in feed and "chez Chloé" in feed

        await until(both_shown)

        # When camille blocks the peer's domain, typed as an address
        answer = await http.post(
            "/settings/blocks/domain",
            data={"csrf_token": token, "domain": f"  HTTP://{peer.host}/about "},
        )
        assert answer.status_code == 303
        lists = (await http.get("/settings/blocks")).text
        assert peer.host in lists

        # Then the follows with its actors end both ways, their servers told with Undo(Follow)
        # and Reject, and no Block is sent
        async def told() -> bool:
            return bool(ana.received("Undo") and bruno.received("Reject"))

        await until(told)
        assert ana.received("Undo")[0]["object"]["id"] == ana_follow
        assert bruno.received("Reject")[0]["object"]["id"] == bruno_follow
        assert not ana.received("Block")
        assert await follow_state(pool, me, ana.uri) is None
        assert await follow_state(pool, bruno.uri, me) is None
        assert await follow_state(pool, me, chloe.uri) == "accepted"
        # And the domain's posts leave the feed; the other server's stay
        feed = (await http.get("/home")).text
        assert "serveur bloqué" not in feed
        assert "chez Chloé" in feed

        # And a Follow from the domain is answered Reject
        follow_id = await bruno.send(instance, {"type": "Follow", "object": me})

        async def rejected() -> bool:
            return any(r["object"].get("id") == follow_id for r in bruno.received("Reject"))

        await until(rejected)
        assert await follow_state(pool, bruno.uri, me) is None

        # When camille lifts the domain block from the list, the domain shows again
        answer = await http.post(
            "/settings/blocks/domain",
            data={"csrf_token": token, "domain": peer.host, "action": "unblock"},
        )
        assert answer.status_code == 303
        assert await value(pool, "SELECT count(*) FROM user_domain_blocks") == 0


async def test_hiding_boosts_removes_announces_and_keeps_own_posts(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        await register(pool, keygen, "dominique")
        me = instance.urls.actor("camille")
        ana = Remote(peer, "ana", fixed_keypairs()[-1])
        await ana.seed(pool)
        await add_follow(pool, me, ana.uri)
        # Given dominique's public post, which ana (followed by camille) boosts, and ana's own
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as dominique:
            token_d = await log_in(dominique, "dominique")
            answer = await dominique.post(
                "/notes",
                data={
                    "csrf_token": token_d,
                    "text": "Le potager ouvre samedi",
                    "visibility": "public",
                },
            )
            assert answer.status_code == 303
        boosted = await value(pool, "SELECT uri FROM posts WHERE content_html LIKE '%potager%'")
        await ana.send(instance, {"type": "Announce", "object": boosted, "to": [ana.uri]})
        await ana.post(instance, "Mon propre message")
        token = await log_in(http, "camille")

        async def boost_shown() -> bool:
            feed = (await http.get("/home")).text
            return "potager" in feed and "Mon propre message" in feed

        await until(boost_shown)

        # When camille hides ana's boosts
        answer = await http.post(
            "/settings/blocks/actor",
            data={"csrf_token": token, "uri": ana.uri, "action": "hide_boosts"},
        )
        assert answer.status_code == 303
        # Then the boost leaves the feed, ana's own post stays, ana is not told
        feed = (await http.get("/home")).text
        assert "potager" not in feed
        assert "Mon propre message" in feed
        assert not ana.received("Block")

        # When she shows them again, the boost is back
        answer = await http.post(
            "/settings/blocks/actor",
            data={"csrf_token": token, "uri": ana.uri, "action": "show_boosts"},
        )
        assert "potager" in (await http.get("/home")).text
