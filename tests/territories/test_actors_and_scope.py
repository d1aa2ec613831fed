"""Territory actors (handles, rows, keys, documents, follows), re-sharing what is located in
served territories, and the scope and radius queries, on the Montreuil/Bagnolet slice.

The slice (tests/territory_helpers.py) is FR > 11 > 93 > Métropole du Grand Paris > Est Ensemble >
Montreuil 93048 and Bagnolet 93006, with Paris 75 beside 93. Instances serve the région 11 or the
commune 93048, prepared as the CLI does at start-up (prepare_serving after the import).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.accounts.service import AccountError
from fedicity.activitypub.keys import KeyPair
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.actors.service import USERNAME_PATTERN, ActorError
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located
from fedicity.located.models import ItemKind, LocatedItem, NewItem
from fedicity.posts import service as posts
from fedicity.posts.models import Post
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.actors import MAX_USERNAME, ensure_actors, handle_for
from fedicity.territories.models import Level, Territory
from fedicity.territories.service import (
    TerritoryError,
    locate_and_announce,
    prepare_served_actors,
    prepare_serving,
    served_root,
    territory_actor,
)
from fedicity.urls import Urls
from fedicity.web.app import AppState, create_app
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.territory_helpers import import_slice

BASE = "http://fedicity.test"
URLS = Urls(BASE)
ACTIVITY_JSON = "application/activity+json"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ALICE = "https://social.invalid/users/alice"
ALICE_KEY = fixed_keypairs()[3]
MONTREUIL_POINT = (48.8638, 2.4485)
BAGNOLET_POINT = (48.8692, 2.4183)
GRAND_PARIS = "200054781"
EST_ENSEMBLE = "200057875"
# Every handle of the slice, by (level, code).
HANDLES = {
    ("country", "FR"): "france",
    ("region", "11"): "ile_de_france",
    ("departement", "93"): "seine_saint_denis",
    ("departement", "75"): "paris",
    ("epci", GRAND_PARIS): "metropole_du_grand_paris",
    ("epci", EST_ENSEMBLE): "est_ensemble",
    ("commune", "93048"): "montreuil",
    ("commune", "93006"): "bagnolet",
}
REGION_11_SUBTREE = {key for key in HANDLES if key != ("country", "FR")}


# --- helpers ---------------------------------------------------------------------------------


def _territory(name: str, code: str, level: Level = "commune") -> Territory:
    """A territory that exists only in memory, for handle_for."""
    return Territory(
        id=1,
        level=level,
        code=code,
        name=name,
        kind=None,
        parent_id=None,
        postal_codes=[],
        population=None,
        zone=None,
        latitude=None,
        longitude=None,
        bbox=None,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def _get(conn: Connection, level: str, code: str) -> Territory:
    found = await territory_queries.select_territory(conn, level, code)
    assert found is not None, (level, code)
    return found


async def _serve(pool: Pool, settings: Settings, level: str, code: str) -> Territory:
    """Configure the served territory and prepare it as `fedicity run` does at start-up."""
    served = dataclasses.replace(settings, territory_level=level, territory_code=code)
    root = await prepare_serving(pool, served)
    assert root is not None
    return root


@dataclass
class Instance:
    """A started app serving a territory of the slice, with its client."""

    app: Quart
    client: TestClientProtocol
    root: Territory

    @property
    def state(self) -> AppState:
        """The app's shared state."""
        found: AppState = self.app.extensions["fedicity"]
        return found


@asynccontextmanager
async def _instance(
    pool: Pool,
    settings: Settings,
    clock: FrozenClock,
    keygen: FixedKeys,
    tmp_path: Path,
    *,
    level: str,
    code: str,
) -> AsyncIterator[Instance]:
    await import_slice(pool, tmp_path)
    served = dataclasses.replace(settings, territory_level=level, territory_code=code)
    root = await prepare_serving(pool, served)
    assert root is not None
    app = create_app(served, pool=pool, clock=clock, keygen=keygen)
    async with app.test_app():
        yield Instance(app, app.test_client(), root)


class CountingKeys:
    """Fixed keys that count how many pairs were made."""

    def __init__(self) -> None:
        self.inner = FixedKeys()
        self.made = 0

    def __call__(self) -> KeyPair:
        self.made += 1
        return self.inner()


async def _territory_actors(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT t.level, t.code, a.username, a.public_key_pem, a.private_key_pem
                 FROM actors a JOIN territories t ON t.id = a.territory_id
                WHERE a.kind = 'territory' ORDER BY a.id"""
        )
    return [dict(row) for row in rows]


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> Actor:
    async with pool.acquire() as conn:
        return await actor_service.create_person(conn, username, keygen=keygen)


async def _note(
    conn: Connection,
    author: Actor,
    clock: FrozenClock,
    *,
    visibility: str = "public",
    audience: str | None = None,
    text: str = "Marché solidaire samedi place Jean-Jaurès",
) -> Post:
    return await posts.create_note(
        conn,
        actor=author,
        text=text,
        visibility=visibility,
        urls=URLS,
        clock=clock,
        local_host="fedicity.test",
        resolved={},
        audience=audience,
    )


def _new_item(
    post: Post,
    territory: Territory,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
) -> NewItem:
    """What the compose form locates for a post."""
    return NewItem(
        object_uri=post.uri,
        kind="post",
        territory_id=territory.id,
        title="",
        summary="Marché solidaire",
        url=post.uri,
        author_uri=post.author_uri,
        origin_host="fedicity.test",
        published=post.published,
        latitude=latitude,
        longitude=longitude,
    )


async def _announces(pool: Pool) -> dict[str, dict[str, Any]]:
    """Every Announce published, by the username of the territory actor that published it."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT a.username, o.raw FROM outbox_activities o JOIN actors a ON a.id = o.actor_id
                WHERE o.type = 'Announce' ORDER BY o.id"""
        )
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row["username"] not in found, f"{row['username']} announced twice"
        found[row["username"]] = row["raw"]
    return found


async def _scope_codes(pool: Pool, object_uri: str) -> set[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT t.level, t.code FROM located_items i
                 JOIN territories t ON t.id = ANY(i.scope_ids)
                WHERE i.object_uri = $1""",
            object_uri,
        )
    return {(row["level"], row["code"]) for row in rows}


BASE_TIME = datetime(2026, 3, 1, 9, 0, 0, 123457, tzinfo=UTC)


def _item(
    uri: str,
    territory: Territory,
    *,
    minutes: int = 0,
    kind: ItemKind = "post",
    point: tuple[float, float] | None = None,
    author: str = BASE + "/actors/camille",
) -> NewItem:
    return NewItem(
        object_uri=BASE + "/notes/" + uri,
        kind=kind,
        territory_id=territory.id,
        title=uri,
        summary=f"about {uri}",
        url=None,
        author_uri=author,
        origin_host="fedicity.test",
        published=BASE_TIME + timedelta(minutes=minutes),
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
    )


def _names(items: list[LocatedItem]) -> list[str]:
    return [item.title for item in items]


# --- handles ---------------------------------------------------------------------------------


def test_handles_are_ascii_names() -> None:
    cases = [
        (_territory("Île-de-France", "11", "region"), "ile_de_france"),
        (_territory("Saint-Denis", "93066"), "saint_denis"),
        (_territory("L'Haÿ-les-Roses", "94038"), "l_hay_les_roses"),
        (_territory("Œuilly", "02566"), "oeuilly"),
        (_territory("Métropole du Grand Paris", GRAND_PARIS, "epci"), "metropole_du_grand_paris"),
    ]
    for territory, expected in cases:
        # Given a territory whose handle is free
        # When its handle is chosen
        handle = handle_for(territory, {"camille"})
        # Then it is its name in lower-case ASCII, words joined by underscores
        assert handle == expected
        assert USERNAME_PATTERN.match(handle)


def test_a_taken_or_reserved_name_gets_the_code() -> None:
    # Given a citizen already called montreuil
    # When Montreuil's handle is chosen, then the code tells them apart
    assert handle_for(_territory("Montreuil", "93048"), {"montreuil"}) == "montreuil_93048"
    # A reserved word gets the code too, and codes are lower-cased ASCII
    assert handle_for(_territory("Territoire", "97502"), set()) == "territoire_97502"
    assert handle_for(_territory("Corse-du-Sud", "2A", "departement"), {"corse_du_sud"}) == (
        "corse_du_sud_2a"
    )
    # A quartier's code holds its commune's: the name is cut to fit 30 characters
    quartier = _territory("Bas-Montreuil", "93048-bas-montreuil", "quartier")
    assert handle_for(quartier, {"bas_montreuil"}) == "bas_montre_93048_bas_montreuil"


def test_handles_have_at_most_30_characters() -> None:
    long_name = "Communauté de communes du Pays de Saint-Gilles-Croix-de-Vie"
    epci = _territory(long_name, "200023778", "epci")
    # Given a long name, free or taken
    free = handle_for(epci, set())
    taken = handle_for(epci, {free})
    # Then both handles are valid usernames of at most 30 characters; the taken one ends with
    # the code, which tells it apart
    for handle in (free, taken):
        assert len(handle) <= MAX_USERNAME
        assert USERNAME_PATTERN.match(handle), handle
        assert not handle.endswith("_")
    assert free.startswith("communaute_de_communes_du_pays")
    assert taken.endswith("_200023778")
    # And a quartier whose own code is long, when its name is taken, still fits
    quartier = _territory(
        "Les Hauts de Montreuil Nord", "93048-les-hauts-de-montreuil-nord", "quartier"
    )
    coded = handle_for(quartier, {"les_hauts_de_montreuil_nord"})
    assert len(coded) <= MAX_USERNAME, coded
    assert USERNAME_PATTERN.match(coded), coded
    assert coded != "les_hauts_de_montreuil_nord"


def test_the_coded_handle_is_not_reused_when_it_is_taken_too() -> None:
    # Given citizens who took both montreuil and montreuil_93048
    taken = {"montreuil", "montreuil_93048"}
    # When Montreuil's handle is chosen
    handle = handle_for(_territory("Montreuil", "93048"), taken)
    # Then it is a free, valid username still naming the commune and its code
    assert handle not in taken
    assert USERNAME_PATTERN.match(handle), handle
    assert handle.startswith("montreuil_93048")


# --- territory actor rows --------------------------------------------------------------------


async def test_ensure_actors_is_idempotent_and_gives_one_keyless_actor_each(
    pool: Pool, tmp_path: Path
) -> None:
    # Given the slice, and the région 11 served
    await import_slice(pool, tmp_path)
    async with pool.acquire() as conn:
        region = await _get(conn, "region", "11")
        # When its actors are prepared twice
        first = await prepare_served_actors(conn, region)
        second = await prepare_served_actors(conn, region)
        # And then the whole country's territories are passed to ensure_actors
        everything = await territory_queries.select_subtree(
            conn, (await _get(conn, "country", "FR")).id
        )
        third = await ensure_actors(conn, everything)
    # Then the région and everything below it got one actor each, the country only at the end
    assert (first, second, third) == (7, 0, 1)
    rows = await _territory_actors(pool)
    assert len(rows) == len(HANDLES)
    assert {(row["level"], row["code"]): row["username"] for row in rows} == HANDLES
    # And none has keys yet: they are made when first needed
    assert all(row["public_key_pem"] is None and row["private_key_pem"] is None for row in rows)


async def test_prepare_serving_finds_the_root_and_creates_its_actors(
    pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    await import_slice(pool, tmp_path)
    # Given no served territory, or one that is not imported, nothing is served
    assert await prepare_serving(pool, settings) is None
    unknown = dataclasses.replace(settings, territory_level="commune", territory_code="75056")
    assert await prepare_serving(pool, unknown) is None
    assert await _territory_actors(pool) == []
    # When the région 11 is served, at two successive start-ups
    root = await _serve(pool, settings, "region", "11")
    again = await _serve(pool, settings, "region", "11")
    # Then it is the root, and the région and all below it have exactly one actor each
    assert (root.level, root.code, root.name) == ("region", "11", "Île-de-France")
    assert again == root
    rows = await _territory_actors(pool)
    assert {(row["level"], row["code"]) for row in rows} == REGION_11_SUBTREE
    assert len(rows) == len(REGION_11_SUBTREE)
    async with pool.acquire() as conn:
        assert await served_root(conn, "region", "11") == root
        assert await served_root(conn, "region", "") is None


async def test_citizen_and_territory_names_never_clash(
    pool: Pool, settings: Settings, tmp_path: Path, keygen: FixedKeys
) -> None:
    # Given a citizen called montreuil before the instance served anything
    await import_slice(pool, tmp_path)
    await _citizen(pool, keygen, "montreuil")
    # When the région 11 is served
    await _serve(pool, settings, "region", "11")
    # Then the commune's actor takes its name and code
    handles = {(r["level"], r["code"]): r["username"] for r in await _territory_actors(pool)}
    assert handles[("commune", "93048")] == "montreuil_93048"
    assert handles[("commune", "93006")] == "bagnolet"
    # And nobody can sign up with a served territory's handle, in any case
    async with pool.acquire() as conn:
        for name in ("bagnolet", "Est_Ensemble", "ILE_DE_FRANCE"):
            with pytest.raises(AccountError) as refused:
                await accounts.register(
                    conn, username=name, password="long enough pw", keygen=keygen
                )
            assert refused.value.code == "username_taken"
        with pytest.raises(ActorError) as refused_actor:
            await actor_service.create_person(conn, "seine_saint_denis", keygen=keygen)
        assert refused_actor.value.code == "username_taken"


async def test_a_squatted_coded_handle_still_leaves_the_territory_an_actor(
    pool: Pool, settings: Settings, tmp_path: Path, keygen: FixedKeys
) -> None:
    # Given citizens who took both montreuil and montreuil_93048 before the commune was served
    await import_slice(pool, tmp_path)
    await _citizen(pool, keygen, "montreuil")
    await _citizen(pool, keygen, "montreuil_93048")
    # When the commune is served
    root = await _serve(pool, settings, "commune", "93048")
    # Then it still has its own actor, with keys when needed
    async with pool.acquire() as conn:
        actor = await territory_actor(conn, root, keygen=keygen)
    assert actor.territory_id == root.id
    assert actor.username not in {"montreuil", "montreuil_93048"}
    assert USERNAME_PATTERN.match(actor.username)


async def test_territory_actor_makes_keys_once(
    pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    # Given the région 11 served, its actors without keys
    await import_slice(pool, tmp_path)
    await _serve(pool, settings, "region", "11")
    counting = CountingKeys()
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        # When Montreuil's actor is needed twice
        first = await territory_actor(conn, montreuil, keygen=counting)
        second = await territory_actor(conn, montreuil, keygen=counting)
        # And the country's, which had no actor, once
        country = await territory_actor(conn, await _get(conn, "country", "FR"), keygen=counting)
    # Then one key pair was made for Montreuil, kept, and one for the country's new actor
    assert counting.made == 2
    assert first.public_key_pem is not None
    assert first.private_key_pem is not None
    assert (second.public_key_pem, second.private_key_pem) == (
        first.public_key_pem,
        first.private_key_pem,
    )
    assert (first.username, first.kind) == ("montreuil", "territory")
    assert country.username == "france"
    assert country.public_key_pem is not None
    rows = {r["username"]: r for r in await _territory_actors(pool)}
    assert rows["bagnolet"]["public_key_pem"] is None


# --- territory actor documents, WebFinger, follows --------------------------------------------


async def test_territory_actor_document_of_a_region_instance(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with _instance(
        pool, settings, clock, keygen, tmp_path, level="region", code="11"
    ) as instance:
        # When a server fetches Montreuil's actor
        response = await instance.client.get("/actors/montreuil", headers={"Accept": ACTIVITY_JSON})
        # Then it is a Group standing for the commune
        assert response.status_code == 200
        assert response.content_type.startswith(ACTIVITY_JSON)
        document: dict[str, Any] = json.loads(await response.get_data(as_text=True))
        actor_id = BASE + "/actors/montreuil"
        assert document["id"] == actor_id
        assert document["type"] == "Group"
        assert document["preferredUsername"] == "montreuil"
        assert document["name"] == "Montreuil"
        assert (document["territoryCode"], document["level"]) == ("93048", "commune")
        assert document["url"] == BASE + "/territoires/commune/93048"
        assert document["inbox"] == actor_id + "/inbox"
        assert document["followers"] == actor_id + "/followers"
        assert document["manuallyApprovesFollowers"] is False
        # With its parents from the country down, ids only for those this instance serves
        parents = document["territoryParents"]
        assert [(p["level"], p["territoryCode"]) for p in parents] == [
            ("country", "FR"),
            ("region", "11"),
            ("departement", "93"),
            ("epci", GRAND_PARIS),
            ("epci", EST_ENSEMBLE),
        ]
        assert [p.get("id") for p in parents] == [
            None,
            BASE + "/actors/ile_de_france",
            BASE + "/actors/seine_saint_denis",
            BASE + "/actors/metropole_du_grand_paris",
            BASE + "/actors/est_ensemble",
        ]
        # With a place and postal address, and a public key it owns
        location = document["location"]
        assert location["type"] == "Place"
        assert (location["latitude"], location["longitude"]) == MONTREUIL_POINT
        assert location["address"]["type"] == "PostalAddress"
        assert location["address"]["postalCode"] == "93100"
        assert location["address"]["addressLocality"] == "Montreuil"
        key = document["publicKey"]
        assert key["id"] == actor_id + "#main-key"
        assert key["owner"] == actor_id
        assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
        # And the région's own document has the country as its only, unserved, parent
        region = await instance.client.get(
            "/actors/ile_de_france", headers={"Accept": ACTIVITY_JSON}
        )
        region_document: dict[str, Any] = json.loads(await region.get_data(as_text=True))
        assert region_document["territoryParents"] == [
            {"level": "country", "territoryCode": "FR", "name": "France"}
        ]
        assert "address" not in region_document["location"]
        # And the unserved country has no actor here
        country = await instance.client.get("/actors/france", headers={"Accept": ACTIVITY_JSON})
        assert country.status_code == 404


async def test_commune_instance_actor_webfinger_and_browser_redirect(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with _instance(
        pool, settings, clock, keygen, tmp_path, level="commune", code="93048"
    ) as instance:
        # When a server fetches Montreuil's actor from a commune instance
        response = await instance.client.get("/actors/montreuil", headers={"Accept": ACTIVITY_JSON})
        document: dict[str, Any] = json.loads(await response.get_data(as_text=True))
        # Then no parent is served here, so none has an id
        assert [p["territoryCode"] for p in document["territoryParents"]] == [
            "FR",
            "11",
            "93",
            GRAND_PARIS,
            EST_ENSEMBLE,
        ]
        assert all("id" not in parent for parent in document["territoryParents"])
        # When someone looks the handle up
        finger = await instance.client.get(
            "/.well-known/webfinger", query_string={"resource": "acct:montreuil@fedicity.test"}
        )
        # Then WebFinger resolves it to the actor
        assert finger.status_code == 200
        jrd: dict[str, Any] = json.loads(await finger.get_data(as_text=True))
        assert jrd["subject"] == "acct:montreuil@fedicity.test"
        assert {link["href"] for link in jrd["links"] if link["rel"] == "self"} == {
            BASE + "/actors/montreuil"
        }
        # When a browser opens the actor URL
        page = await instance.client.get("/actors/montreuil", headers={"Accept": BROWSER})
        # Then it is sent to the territory page
        assert page.status_code == 303
        assert page.headers["Location"].endswith("/territoires/commune/93048")
        # And a neighbouring commune, not served, has no actor
        bagnolet = await instance.client.get("/actors/bagnolet", headers={"Accept": ACTIVITY_JSON})
        assert bagnolet.status_code == 404


async def test_a_remote_follow_of_a_territory_is_accepted_automatically(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with _instance(
        pool, settings, clock, keygen, tmp_path, level="commune", code="93048"
    ) as instance:
        # Given a remote citizen known with her key
        await seed_remote_actor(pool, ALICE, ALICE_KEY, clock.now())
        follow = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": ALICE + "#follows/montreuil",
            "type": "Follow",
            "actor": ALICE,
            "object": BASE + "/actors/montreuil",
        }
        # When she follows Montreuil through its inbox, and the inbox worker runs
        response = await post_signed(
            instance.client,
            "/actors/montreuil/inbox",
            follow,
            key_id=ALICE + "#main-key",
            keypair=ALICE_KEY,
            now=clock.now(),
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        handled = await process_batch(
            pool,
            directory=instance.state.fed.directory,
            urls=instance.state.urls,
            clock=clock,
            keygen=keygen,
        )
        assert handled == 1
    # Then the follow is accepted at once
    async with pool.acquire() as conn:
        found = await follow_queries.select_follow(conn, ALICE, BASE + "/actors/montreuil")
        deliveries = await conn.fetch(
            """SELECT o.raw, d.inbox, a.username FROM deliveries d
                 JOIN outbox_activities o ON o.id = d.activity_id
                 JOIN actors a ON a.id = o.actor_id
                WHERE o.type = 'Accept'"""
        )
        state = await conn.fetchval(
            "SELECT state FROM inbox_items WHERE activity_uri = $1", follow["id"]
        )
    assert state == "done"
    assert found is not None
    assert found.state == "accepted"
    # And an Accept from Montreuil is queued for her server
    assert len(deliveries) == 1
    (accept,) = deliveries
    assert accept["username"] == "montreuil"
    assert accept["inbox"].startswith("https://social.invalid/")
    assert accept["raw"]["actor"] == BASE + "/actors/montreuil"
    object_id = accept["raw"]["object"]
    assert (object_id["id"] if isinstance(object_id, dict) else object_id) == follow["id"]


# --- locating and announcing -----------------------------------------------------------------


async def test_a_public_post_in_montreuil_is_announced_by_each_served_ancestor(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given a région instance, a citizen, and a remote follower of the département's actor
    await import_slice(pool, tmp_path)
    root = await _serve(pool, settings, "region", "11")
    camille = await _citizen(pool, keygen)
    await seed_remote_actor(pool, ALICE, ALICE_KEY, clock.now())
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=ALICE,
            followee=BASE + "/actors/seine_saint_denis",
            activity_uri=ALICE + "#follows/93",
            accepted=True,
            now=clock.now(),
        )
        montreuil = await _get(conn, "commune", "93048")
        # When she posts publicly in Montreuil, as the compose form does
        async with conn.transaction():
            post = await _note(conn, camille, clock, audience=BASE + "/actors/montreuil")
            item = await locate_and_announce(
                conn,
                item=_new_item(post, montreuil, latitude=48.8638, longitude=2.4485),
                activity_uri=post.uri + "/activity",
                root=root,
                urls=URLS,
                clock=clock,
                keygen=keygen,
            )
        create = await conn.fetchval(
            "SELECT raw FROM outbox_activities WHERE uri = $1", post.uri + "/activity"
        )
    # Then the post is located in Montreuil, in scope of each territory above it
    assert item is not None
    assert (item.object_uri, item.territory_id) == (post.uri, montreuil.id)
    assert await _scope_codes(pool, post.uri) == {
        ("commune", "93048"),
        ("epci", EST_ENSEMBLE),
        ("epci", GRAND_PARIS),
        ("departement", "93"),
        ("region", "11"),
        ("country", "FR"),
    }
    # And every served territory it is in announces it once: not Paris, not the country
    announces = await _announces(pool)
    assert set(announces) == {
        "montreuil",
        "est_ensemble",
        "metropole_du_grand_paris",
        "seine_saint_denis",
        "ile_de_france",
    }
    inner = {key: value for key, value in create.items() if key != "@context"}
    for username, announce in announces.items():
        actor_id = BASE + "/actors/" + username
        # Whose object is the Create unchanged, addressed publicly with the territory as audience
        assert announce["type"] == "Announce"
        assert announce["actor"] == actor_id
        assert announce["object"] == inner
        assert announce["audience"] == actor_id
        assert announce["to"] == [PUBLIC]
        assert announce["cc"] == [actor_id + "/followers"]
    assert inner["object"]["audience"] == BASE + "/actors/montreuil"
    # And only the département's follower gets a delivery of the département's Announce
    async with pool.acquire() as conn:
        delivered = await conn.fetch(
            """SELECT a.username, d.inbox FROM deliveries d
                 JOIN outbox_activities o ON o.id = d.activity_id
                 JOIN actors a ON a.id = o.actor_id
                WHERE o.type = 'Announce'"""
        )
    assert [row["username"] for row in delivered] == ["seine_saint_denis"]


async def test_a_commune_instance_announces_only_by_the_commune(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given a commune instance and a citizen
    await import_slice(pool, tmp_path)
    root = await _serve(pool, settings, "commune", "93048")
    camille = await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        bagnolet = await _get(conn, "commune", "93006")
        post = await _note(conn, camille, clock)
        # When a public post is located in Montreuil
        await locate_and_announce(
            conn,
            item=_new_item(post, montreuil),
            activity_uri=post.uri + "/activity",
            root=root,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        # Then only Montreuil announces it
        assert set(await _announces(pool)) == {"montreuil"}
        # When another is located in Bagnolet, outside the served commune, or with no root
        elsewhere = await _note(conn, camille, clock, text="Fête de quartier à Bagnolet")
        for served in (root, None):
            with pytest.raises(TerritoryError) as refused:
                await locate_and_announce(
                    conn,
                    item=_new_item(elsewhere, bagnolet),
                    activity_uri=elsewhere.uri + "/activity",
                    root=served,
                    urls=URLS,
                    clock=clock,
                    keygen=keygen,
                )
            # Then it is refused as not served, and neither located nor announced
            assert refused.value.code == "not_served"
        assert await located.select_item(conn, elsewhere.uri) is None
    assert set(await _announces(pool)) == {"montreuil"}


async def test_a_followers_only_post_is_neither_located_nor_announced(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given a région instance and a citizen's followers-only post
    await import_slice(pool, tmp_path)
    root = await _serve(pool, settings, "region", "11")
    camille = await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        post = await _note(conn, camille, clock, visibility="followers")
        # When it is located in Montreuil
        item = await locate_and_announce(
            conn,
            item=_new_item(post, montreuil),
            activity_uri=post.uri + "/activity",
            root=root,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        # Then it is not located (territory pages are public), and no territory announces it
        assert item is None
        assert await located.select_item(conn, post.uri) is None
    assert await _announces(pool) == {}
    # And no territory actor needed keys for it
    assert all(row["public_key_pem"] is None for row in await _territory_actors(pool))


# --- scope queries ---------------------------------------------------------------------------


async def test_scope_queries_follow_the_tree_and_the_kind(pool: Pool, tmp_path: Path) -> None:
    # Given items in both communes, of several kinds
    await import_slice(pool, tmp_path)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        bagnolet = await _get(conn, "commune", "93006")
        region = await _get(conn, "region", "11")
        paris = await _get(conn, "departement", "75")
        for new in (
            _item("m-post", montreuil, minutes=1),
            _item("m-event", montreuil, minutes=2, kind="event"),
            _item("b-post", bagnolet, minutes=3),
            _item("b-proposal", bagnolet, minutes=4, kind="proposal"),
            _item("m-late", montreuil, minutes=5),
        ):
            await located.upsert_item(conn, new)
        # When the région, each commune and Paris are asked, newest first
        in_region = await located.select_in_scope(conn, region.id, limit=20)
        in_bagnolet = await located.select_in_scope(conn, bagnolet.id, limit=20)
        in_montreuil = await located.select_in_scope(conn, montreuil.id, limit=20)
        in_paris = await located.select_in_scope(conn, paris.id, limit=20)
        region_posts = await located.select_in_scope(conn, region.id, limit=20, kind="post")
        bagnolet_events = await located.select_in_scope(conn, bagnolet.id, limit=20, kind="event")
        montreuil_events = await located.select_in_scope(conn, montreuil.id, limit=20, kind="event")
    # Then the région holds both communes' items, each commune only its own, Paris none
    assert _names(in_region) == ["m-late", "b-proposal", "b-post", "m-event", "m-post"]
    assert _names(in_bagnolet) == ["b-proposal", "b-post"]
    assert _names(in_montreuil) == ["m-late", "m-event", "m-post"]
    assert in_paris == []
    # And the kind filter keeps only that kind
    assert _names(region_posts) == ["m-late", "b-post", "m-post"]
    assert bagnolet_events == []
    assert _names(montreuil_events) == ["m-event"]


async def test_keyset_paging_returns_every_item_once_in_order(pool: Pool, tmp_path: Path) -> None:
    # Given eleven items in Montreuil, several published at the same instant
    await import_slice(pool, tmp_path)
    minutes = [0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5]
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        region = await _get(conn, "region", "11")
        stored = [
            await located.upsert_item(conn, _item(f"n{i}", montreuil, minutes=m))
            for i, m in enumerate(minutes)
        ]
        # When the région's scope is read three at a time, each page after the last one's key
        seen: list[LocatedItem] = []
        before: tuple[datetime, int] | None = None
        for _ in range(10):
            page = await located.select_in_scope(conn, region.id, limit=3, before=before)
            seen += page
            if len(page) < 3:
                break
            before = (page[-1].published, page[-1].id)
    # Then every item came exactly once, newest first, ties by id
    expected = sorted(stored, key=lambda item: (item.published, item.id), reverse=True)
    assert [item.id for item in seen] == [item.id for item in expected]
    assert len({item.id for item in seen}) == len(minutes)


async def test_deleted_items_leave_every_scope(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    # Given two located items, one of them a citizen's located post
    await import_slice(pool, tmp_path)
    root = await _serve(pool, settings, "region", "11")
    camille = await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        region = await _get(conn, "region", "11")
        gone = await located.upsert_item(conn, _item("gone", montreuil, point=MONTREUIL_POINT))
        kept = await located.upsert_item(conn, _item("kept", montreuil, point=MONTREUIL_POINT))
        post = await _note(conn, camille, clock)
        await locate_and_announce(
            conn,
            item=_new_item(post, montreuil, latitude=48.8638, longitude=2.4485),
            activity_uri=post.uri + "/activity",
            root=root,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        assert len(await located.select_in_scope(conn, region.id, limit=10)) == 3
        # When one item is marked deleted (twice), and the post is deleted by its author
        assert await located.mark_deleted(conn, gone.object_uri, clock.now()) is True
        assert await located.mark_deleted(conn, gone.object_uri, clock.now()) is False
        await posts.delete_note(conn, actor=camille, post=post, urls=URLS, clock=clock)
        # Then only the other item is left, in scope and around the point
        for territory in (montreuil, region):
            remaining = await located.select_in_scope(conn, territory.id, limit=10)
            assert [item.id for item in remaining] == [kept.id]
        near = await located.select_near(conn, *MONTREUIL_POINT, 1.0, limit=10)
        assert [item.id for item in near] == [kept.id]
        assert await located.select_item(conn, gone.object_uri) is None
        assert await located.select_item(conn, post.uri) is None


async def test_only_the_author_can_move_an_item(pool: Pool, tmp_path: Path) -> None:
    # Given an item of Camille's in Montreuil
    await import_slice(pool, tmp_path)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        bagnolet = await _get(conn, "commune", "93006")
        original = await located.upsert_item(conn, _item("moving", montreuil))
        # When someone else stores the same object in Bagnolet
        hijack = await located.upsert_item(
            conn, _item("moving", bagnolet, author="https://social.invalid/users/mallory")
        )
        # Then nothing changes
        assert hijack == original
        assert await located.select_in_scope(conn, bagnolet.id, limit=10) == []
        # When Camille moves it to Bagnolet herself
        moved = await located.upsert_item(conn, _item("moving", bagnolet))
        # Then it is in Bagnolet's scope and no longer in Montreuil's
        assert (moved.id, moved.territory_id) == (original.id, bagnolet.id)
        assert [i.id for i in await located.select_in_scope(conn, bagnolet.id, limit=10)] == [
            original.id
        ]
        assert await located.select_in_scope(conn, montreuil.id, limit=10) == []


async def test_select_near_finds_items_within_the_radius(pool: Pool, tmp_path: Path) -> None:
    # Given items at Montreuil's and Bagnolet's points (about 2.3 km apart), and one with none
    await import_slice(pool, tmp_path)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        bagnolet = await _get(conn, "commune", "93006")
        for new in (
            _item("m-post", montreuil, minutes=1, point=MONTREUIL_POINT),
            _item("m-event", montreuil, minutes=2, kind="event", point=MONTREUIL_POINT),
            _item("b-post", bagnolet, minutes=3, point=BAGNOLET_POINT),
            _item("nowhere", montreuil, minutes=4),
        ):
            await located.upsert_item(conn, new)
        # When asked around Montreuil's point within 1 km, 5 km, and 5 km for events
        within_1 = await located.select_near(conn, *MONTREUIL_POINT, 1.0, limit=10)
        within_5 = await located.select_near(conn, *MONTREUIL_POINT, 5.0, limit=10)
        events = await located.select_near(conn, *MONTREUIL_POINT, 5.0, limit=10, kind="event")
        # And around Bagnolet within 2 km, then paged one at a time within 5 km
        around_bagnolet = await located.select_near(conn, *BAGNOLET_POINT, 2.0, limit=10)
        first = await located.select_near(conn, *MONTREUIL_POINT, 5.0, limit=1)
        second = await located.select_near(
            conn, *MONTREUIL_POINT, 5.0, limit=1, before=(first[0].published, first[0].id)
        )
    # Then 1 km finds only Montreuil's items, 5 km both communes', never one without a point
    assert _names(within_1) == ["m-event", "m-post"]
    assert _names(within_5) == ["b-post", "m-event", "m-post"]
    assert _names(events) == ["m-event"]
    assert _names(around_bagnolet) == ["b-post"]
    assert _names(first + second) == ["b-post", "m-event"]


def test_bounding_box_is_symmetric_and_wider_in_longitude_further_north() -> None:
    # Given 10 km around a point on the equator and around one at 60° north
    for latitude, longitude in ((0.0, 10.0), (60.0, 10.0), (-45.0, -3.0)):
        min_lat, max_lat, min_lon, max_lon = located.bounding_box(latitude, longitude, 10.0)
        # Then the box is centred on the point
        assert latitude - min_lat == pytest.approx(max_lat - latitude)
        assert longitude - min_lon == pytest.approx(max_lon - longitude)
        # And 10 km is about 0.09° of latitude everywhere
        assert max_lat - latitude == pytest.approx(10 / 111.195, rel=1e-3)
    _, _, equator_min, equator_max = located.bounding_box(0.0, 10.0, 10.0)
    _, _, north_min, north_max = located.bounding_box(60.0, 10.0, 10.0)
    # And at 60° a degree of longitude is half as long, so the box is twice as wide
    assert north_max - north_min == pytest.approx(2 * (equator_max - equator_min), rel=1e-6)
    # And at the pole the box spans every longitude instead of dividing by zero
    _, _, pole_min, pole_max = located.bounding_box(90.0, 0.0, 10.0)
    assert (pole_min, pole_max) == (-180.0, 180.0)
