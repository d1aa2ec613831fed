"""Listings between two instances on loopback: alice's offer on the commune instance goes out as
a Page, through bob's instance's signed inbox and worker, and is stored, located and listed there
(ours -> ActivityStreams -> ours); its update and deletion follow. Bob answers it with
"Contacter" on his instance: a direct note reaches alice's server and her notifications. Hostile
Pages from the network are refused with their reason; a Page without listingKind stays a post."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import closing
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.listings import queries as listing_queries
from fedicity.listings import service as listings
from fedicity.listings.models import Listing
from fedicity.listings.service import Env, ListingInput
from fedicity.located import queries as located_queries
from fedicity.notifications import queries as notification_queries
from fedicity.posts import queries as post_queries
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.urls import new_token
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, region_follows_commune, running_instance
from tests.territory_helpers import import_slice

PASSWORD = "long enough pw"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(conn, username=username, password=PASSWORD, keygen=keygen)
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


def _env(instance: Instance, keygen: FixedKeys) -> Env:
    return Env(
        urls=instance.urls, clock=instance.clock, keygen=keygen, local_host=instance.settings.host
    )


async def _stored(instance: Instance, uri: str) -> Listing | None:
    async with instance.pool.acquire() as conn:
        return await listing_queries.select_listing(conn, uri)


async def _inbox_outcome(instance: Instance, activity_uri: str) -> tuple[str, str] | None:
    async with instance.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT state, coalesce(last_error, '') AS detail FROM inbox_items
                WHERE activity_uri = $1 AND state <> 'pending'""",
            activity_uri,
        )
    return None if row is None else (row["state"], row["detail"])


async def test_a_listing_goes_to_another_instance_and_is_answered_by_direct_message(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    await import_slice(pool, tmp_path / "a")
    await import_slice(pool_b, tmp_path / "b")
    async with (
        running_instance(
            pool, tmp_path / "commune", keygen, territory_level="commune", territory_code="93048"
        ) as commune,
        running_instance(
            pool_b, tmp_path / "dept", keygen, territory_level="departement", territory_code="93"
        ) as dept,
        httpx.AsyncClient(timeout=30, follow_redirects=False) as browser,
    ):
        # Given bob, on the département's instance, following alice of the commune's instance
        alice = await _citizen(commune, "alice", keygen)
        bob = await _citizen(dept, "bob", keygen)
        alice_uri = commune.urls.actor("alice")
        assert not isinstance(await dept.federation.directory.actor(alice_uri), str)
        async with dept.pool.acquire() as conn:
            await follows.follow(
                conn, actor=bob, target=alice_uri, urls=dept.urls, clock=dept.clock
            )

        async def following() -> bool:
            async with dept.pool.acquire() as conn:
                found = await follow_queries.select_follow(conn, dept.urls.actor("bob"), alice_uri)
            return found is not None and found.state == "accepted"

        await eventually(following, within=20)

        # When alice offers a service in Montreuil
        env = _env(commune, keygen)
        async with commune.pool.acquire() as conn:
            montreuil = await territory_queries.select_territory(conn, "commune", "93048")
            assert montreuil is not None
            root = await territory_service.served_root(conn, "commune", "93048")
            listing = await listings.create_listing(
                conn,
                author=alice,
                by=alice,
                data=ListingInput(
                    kind="ressource",
                    section="offer",
                    category="skill",
                    title="Cours de guitare",
                    description="Débutants *bienvenus*.",
                    price=Decimal("12.50"),
                    currency="G1",
                ),
                place=montreuil,
                root=root,
                env=env,
            )

        # Then bob's instance stores it from its signed inbox, located in Montreuil, and lists it
        async def arrived() -> bool:
            return await _stored(dept, listing.uri) is not None

        await eventually(arrived, within=20)
        stored = await _stored(dept, listing.uri)
        assert stored is not None
        assert (stored.kind, stored.section, stored.category) == ("ressource", "offer", "skill")
        assert (stored.price, stored.currency) == (Decimal("12.50"), "G1")
        assert stored.expires_at == listing.expires_at
        assert stored.author_uri == alice_uri
        assert stored.token is None
        assert "<em>bienvenus</em>" in stored.description_html
        async with dept.pool.acquire() as conn:
            dept_montreuil = await territory_queries.select_territory(conn, "commune", "93048")
            assert dept_montreuil is not None
            assert stored.territory_id == dept_montreuil.id
            seine = await territory_queries.select_territory(conn, "departement", "93")
            assert seine is not None
            in_scope = await located_queries.select_in_scope(
                conn, seine.id, limit=10, kind="listing"
            )
        assert [(i.title, i.url) for i in in_scope] == [("Cours de guitare", listing.uri)]
        listed = (await browser.get(f"{dept.base}/listings?territory=departement:93")).text
        assert "Cours de guitare" in listed
        assert "12,50\u00a0Ğ1" in listed

        # When alice changes the price, bob's instance follows
        async with commune.pool.acquire() as conn:
            await listings.update_listing(
                conn,
                listing=listing,
                by=alice,
                data=ListingInput(
                    kind="ressource",
                    section="offer",
                    category="skill",
                    title="Cours de guitare",
                    price=Decimal(0),
                    currency="EUR",
                ),
                place=montreuil,
                root=root,
                env=env,
            )

        async def updated() -> bool:
            found = await _stored(dept, listing.uri)
            return found is not None and found.price == 0

        await eventually(updated, within=20)

        # When bob answers with "Contacter" on his instance's page
        login = await browser.get(f"{dept.base}/login")
        token = _CSRF.search(login.text)
        assert token is not None
        logged = await browser.post(
            f"{dept.base}/login",
            data={"csrf_token": token.group(1), "login": "bob", "password": PASSWORD},
        )
        assert logged.status_code == 303
        contact_page = await browser.get(
            f"{dept.base}/listings/contact", params={"listing": listing.uri}
        )
        assert contact_page.status_code == 200
        assert "Gratuit" in contact_page.text
        csrf = _CSRF.search(contact_page.text)
        assert csrf is not None
        sent = await browser.post(
            f"{dept.base}/listings/contact",
            data={
                "csrf_token": csrf.group(1),
                "listing": listing.uri,
                "text": "Bonjour, le mardi soir ?",
            },
        )
        assert sent.status_code == 303, sent.text

        # Then alice's server receives a direct note mentioning her only, linking the listing,
        # and she is notified
        async def notified() -> list[Any]:
            async with commune.pool.acquire() as conn:
                found = await notification_queries.select_page(conn, alice.id, limit=10)
            return [
                n for n in found if n.actor_uri == dept.urls.actor("bob") and n.kind == "mention"
            ]

        await eventually(notified, within=20)
        notice = (await notified())[0]
        async with commune.pool.acquire() as conn:
            note = await post_queries.select_post(conn, notice.object_uri)
        assert note is not None
        assert note.visibility == "direct"
        assert list(note.to_uris) == [alice_uri]
        assert not note.cc_uris
        assert "Bonjour, le mardi soir ?" in note.content_html
        assert listing.uri in note.content_html

        # When alice's server sends hostile Pages, each is refused with its reason; a Page
        # without listingKind is not a listing and stays a post
        base_page: dict[str, Any] = {
            "type": "Page",
            "attributedTo": alice_uri,
            "name": "Vélo",
            "content": "<p>Vélo</p>",
            "listingKind": "classified",
            "section": "for_sale",
            "category": "vehicles",
            "validThrough": (commune.clock.now() + timedelta(days=5)).isoformat(),
            "location": {"type": "Place", "level": "commune", "territoryCode": "93048"},
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [commune.urls.actor_followers("alice")],
        }
        hostile: dict[str, tuple[dict[str, Any], str]] = {
            "price": ({"price": "NaN", "priceCurrency": "EUR"}, "the price is refused"),
            "currency": ({"price": 5, "priceCurrency": "X" * 5000}, "priceCurrency is one of"),
            "expired": ({"validThrough": "2020-01-01T00:00:00Z"}, "has expired"),
            "elsewhere": (
                {"location": {"type": "Place", "level": "commune", "territoryCode": "75056"}},
                "not located in a territory served here",
            ),
            "url": ({"url": "javascript:alert(1)"}, "the url is not an http(s) address"),
        }
        sent_ids: dict[str, str] = {}
        activities: dict[str, str] = {}
        async with commune.pool.acquire() as conn:
            for name, (changes, _reason) in hostile.items():
                uri = commune.urls.listing(new_token())
                sent_ids[name] = uri
                activities[name] = await _publish(
                    commune, alice, {**base_page, **changes, "id": uri}, conn
                )
            plain = commune.urls.listing(new_token())
            page = {k: v for k, v in base_page.items() if k not in ("listingKind",)}
            await _publish(commune, alice, {**page, "id": plain}, conn)

        for name, (_changes, reason) in hostile.items():

            async def refused(uri: str = activities[name]) -> bool:
                return await _inbox_outcome(dept, uri) is not None

            await eventually(refused, within=20)
            outcome = await _inbox_outcome(dept, activities[name])
            assert outcome is not None
            assert outcome[0] == "ignored", (name, outcome)
            assert reason in outcome[1], (name, outcome)
            assert await _stored(dept, sent_ids[name]) is None

        # And what no JSON store can hold is refused at the inbox's door, before any handler
        page_json = '{"type": "Page", "listingKind": "classified", "name": "V", "price": %s}'
        for body, reason in (
            ('{"type": "Create", "object": ' + page_json % "NaN" + "}", "json_not_finite"),
            ('{"type": "Create", "object": ' + page_json % "1e999" + "}", "json_not_finite"),
            ('{"type": "Create", "object": ' + page_json % '"\\u0000"' + "}", "json_bad_string"),
            ('{"type": "Create", "object": ' + "[" * 5000 + "]" * 5000 + "}", "json_too_deep"),
        ):
            answer = await browser.post(
                f"{dept.base}/inbox",
                content=body.encode(),
                headers={"Content-Type": "application/activity+json"},
            )
            assert answer.status_code == 400, (reason, answer.status_code, answer.text)
            assert reason in answer.text, (reason, answer.text)

        async def kept_as_post() -> bool:
            async with dept.pool.acquire() as conn:
                return await post_queries.select_post(conn, plain) is not None

        await eventually(kept_as_post, within=20)
        assert await _stored(dept, plain) is None

        # When alice deletes the listing, it leaves bob's instance's lists and scope
        async with commune.pool.acquire() as conn:
            current = await listing_queries.select_listing(conn, listing.uri)
            assert current is not None
            await listings.delete_listing(conn, listing=current, by=alice, root=root, env=env)

        async def deleted() -> bool:
            found = await _stored(dept, listing.uri)
            return found is not None and found.deleted_at is not None

        await eventually(deleted, within=20)
        async with dept.pool.acquire() as conn:
            assert await located_queries.select_item(conn, listing.uri) is None
        assert "Cours de guitare" not in (await browser.get(f"{dept.base}/listings")).text

        # When alice posts again, then closes her account, her Delete takes the listing there too
        async with commune.pool.acquire() as conn:
            again = await listings.create_listing(
                conn,
                author=alice,
                by=alice,
                data=ListingInput(
                    kind="ressource", section="need", category="material", title="Une échelle"
                ),
                place=montreuil,
                root=root,
                env=env,
            )
            account = await account_queries.select_account_by_login(conn, "alice")
        assert account is not None

        async def again_arrived() -> bool:
            return await _stored(dept, again.uri) is not None

        await eventually(again_arrived, within=20)
        await closing.close_account(
            commune.pool,
            account,
            urls=commune.urls,
            clock=commune.clock,
            data_dir=commune.settings.data_dir,
        )

        async def forgotten() -> bool:
            found = await _stored(dept, again.uri)
            return found is not None and found.deleted_at is not None

        await eventually(forgotten, within=20)


async def _publish(instance: Instance, author: Actor, page: dict[str, Any], conn: Any) -> str:
    """What a server that does not check its own listings would send: a Create of `page`;
    the activity's id."""
    activity_uri = instance.urls.activity(new_token())
    await publish(
        conn,
        actor=author,
        activity={
            "@context": ["https://www.w3.org/ns/activitystreams", instance.urls.context],
            "id": activity_uri,
            "type": "Create",
            "actor": instance.urls.actor(author.username),
            "to": page["to"],
            "cc": page["cc"],
            "object": page,
        },
        audience=Audience(followers=True),
        urls=instance.urls,
        clock=instance.clock,
    )
    return activity_uri


async def test_a_region_instance_aggregates_a_communes_listing_and_answers_its_author(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    await import_slice(pool, tmp_path / "a")
    await import_slice(pool_b, tmp_path / "b")
    async with (
        running_instance(
            pool, tmp_path / "commune", keygen, territory_level="commune", territory_code="93048"
        ) as commune,
        running_instance(
            pool_b, tmp_path / "region", keygen, territory_level="region", territory_code="11"
        ) as region,
        httpx.AsyncClient(timeout=30, follow_redirects=False) as browser,
    ):
        # Given the région instance's territory actor following the commune's @montreuil (and
        # nobody there following alice)
        aggregation = await region_follows_commune(commune, region, keygen)
        montreuil = aggregation.montreuil
        montreuil_uri = aggregation.montreuil_uri

        # When alice posts a job offer in Montreuil
        alice = await _citizen(commune, "alice", keygen)
        await _citizen(region, "bob", keygen)
        async with commune.pool.acquire() as conn:
            listing = await listings.create_listing(
                conn,
                author=alice,
                by=alice,
                data=ListingInput(
                    kind="job", section="offer", category="internship", title="Stage au jardin"
                ),
                place=montreuil,
                root=montreuil,
                env=_env(commune, keygen),
            )

        # Then the région instance keeps it as a listing (not a post), located in Montreuil,
        # through the territory's announce
        async def aggregated() -> bool:
            return await _stored(region, listing.uri) is not None

        await eventually(aggregated, within=20)
        async with region.pool.acquire() as conn:
            assert await post_queries.select_post(conn, listing.uri) is None
            item = await located_queries.select_item(conn, listing.uri)
        assert item is not None
        assert (item.kind, item.via) == ("listing", montreuil_uri)
        assert item.author_uri == commune.urls.actor("alice")
        listed = (await browser.get(f"{region.base}/listings?kind=job")).text
        assert "Stage au jardin" in listed

        # And alice's edit reaches it through the territory's announce too
        async with commune.pool.acquire() as conn:
            await listings.update_listing(
                conn,
                listing=listing,
                by=alice,
                data=ListingInput(
                    kind="job", section="offer", category="internship", title="Stage au verger"
                ),
                place=montreuil,
                root=montreuil,
                env=_env(commune, keygen),
            )

        async def edited() -> bool:
            found = await _stored(region, listing.uri)
            return found is not None and found.title == "Stage au verger"

        await eventually(edited, within=20)

        # When bob, on the région instance, answers it (alice was never fetched there)
        login = await browser.get(f"{region.base}/login")
        token = _CSRF.search(login.text)
        assert token is not None
        await browser.post(
            f"{region.base}/login",
            data={"csrf_token": token.group(1), "login": "bob", "password": PASSWORD},
        )
        page = await browser.get(f"{region.base}/listings/contact", params={"listing": listing.uri})
        csrf = _CSRF.search(page.text)
        assert csrf is not None
        sent = await browser.post(
            f"{region.base}/listings/contact",
            data={"csrf_token": csrf.group(1), "listing": listing.uri, "text": "Encore libre ?"},
        )
        assert sent.status_code == 303, sent.text

        # Then alice is notified of the direct message
        async def notified() -> bool:
            async with commune.pool.acquire() as conn:
                found = await notification_queries.select_page(conn, alice.id, limit=10)
            return any(
                n.kind == "mention" and n.actor_uri == region.urls.actor("bob") for n in found
            )

        await eventually(notified, within=20)

        # When alice deletes it, the territory announces the Delete and the région forgets it
        async with commune.pool.acquire() as conn:
            current = await listing_queries.select_listing(conn, listing.uri)
            assert current is not None
            await listings.delete_listing(
                conn, listing=current, by=alice, root=montreuil, env=_env(commune, keygen)
            )

        async def forgotten() -> bool:
            found = await _stored(region, listing.uri)
            return found is not None and found.deleted_at is not None

        await eventually(forgotten, within=20)
        async with region.pool.acquire() as conn:
            assert await located_queries.select_item(conn, listing.uri) is None
