"""Points of interest between two instances on loopback (ours -> ActivityStreams -> ours): a
commune instance's citizen adds a place; a région instance aggregating the commune keeps it from
the territory's Announces (its Create, then its Update), shows it on its map and places page;
the author's deletion reaches a follower's instance through its signed inbox; hostile Places
are refused with reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Pool
from fedicity.located import queries as located_queries
from fedicity.poi import queries as poi_queries
from fedicity.poi import service as places
from fedicity.poi.models import Address, Photo, Place
from fedicity.poi.service import PlaceInput
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.urls import new_token
from tests.conftest import FixedKeys
from tests.flows.harness import (
    Instance,
    eventually,
    follow_and_wait,
    region_follows_commune,
    running_instance,
)
from tests.flows.test_territories import _citizen
from tests.territory_helpers import import_slice


async def _stored(instance: Instance, uri: str, check: Any) -> Place:
    found: list[Place] = []

    async def arrived() -> bool:
        async with instance.pool.acquire() as conn:
            place = await poi_queries.select_place(conn, uri)
        if place is not None and check(place):
            found.append(place)
            return True
        return False

    await eventually(arrived, within=20)
    return found[0]


async def _outcome(instance: Instance, activity_uri: str) -> tuple[str, str]:
    """The state and reason the worker recorded for a received activity."""
    result: list[tuple[str, str]] = []

    async def processed() -> bool:
        async with instance.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1", activity_uri
            )
        if row is not None and row["state"] != "pending":
            result.append((row["state"], row["last_error"] or ""))
            return True
        return False

    await eventually(processed, within=20)
    return result[0]


async def _refused_at_the_door(sender: Instance, activity_uri: str) -> str:
    """The reason of the 400 a delivery of `activity_uri` got."""
    found: list[str] = []

    async def answered() -> bool:
        async with sender.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT d.last_status, d.last_error FROM deliveries d"
                " JOIN outbox_activities o ON o.id = d.activity_id WHERE o.uri = $1",
                activity_uri,
            )
        if row is not None and row["last_status"] == 400:
            found.append(json.loads(row["last_error"])["reason"])
            return True
        return False

    await eventually(answered, within=20)
    return found[0]


async def test_a_place_travels_to_a_region_instance_and_hostile_places_are_refused(
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
        httpx.AsyncClient(timeout=30) as http,
    ):
        # Given the région's territory actor aggregating the commune's @montreuil
        aggregation = await region_follows_commune(commune, region, keygen)
        montreuil = aggregation.montreuil
        montreuil_uri = aggregation.montreuil_uri
        ile_de_france = aggregation.ile_de_france
        async with commune.pool.acquire() as conn:
            root = await territory_service.served_root(conn, "commune", "93048")

        # When a citizen of the commune adds a compost point with a photo
        camille = await _citizen(commune, "camille", keygen)
        photo = Photo(commune.urls.media("a" * 64 + ".png"), "image/png", 800, 600)
        data = PlaceInput(
            kind="compost_point",
            name="Composteur du square",
            description="Ouvert *le samedi*.",
            latitude=48.8611,
            longitude=2.4431,
            address=Address("Square Patriarche", "93100", "Montreuil"),
            photos=(photo,),
        )
        async with commune.pool.acquire() as conn:
            ours = await places.create_place(
                conn,
                actor=camille,
                data=data,
                territory=montreuil,
                root=root,
                urls=commune.urls,
                clock=commune.clock,
                keygen=keygen,
            )

        # Then the région keeps it from the territory's Announce, in Montreuil, as it was
        theirs = await _stored(region, ours.uri, lambda p: True)
        assert (theirs.kind, theirs.name, theirs.local) == ("compost_point", ours.name, False)
        assert (theirs.latitude, theirs.longitude) == (48.8611, 2.4431)
        assert theirs.address == Address("Square Patriarche", "93100", "Montreuil")
        assert theirs.photos == (photo,)
        assert "<em>le samedi</em>" in theirs.description_html
        assert theirs.via == montreuil_uri
        assert theirs.author_uri == commune.urls.actor("camille")
        async with region.pool.acquire() as conn:
            region_montreuil = await territory_queries.select_territory(conn, "commune", "93048")
            assert region_montreuil is not None
            assert theirs.territory_id == region_montreuil.id
            items = await located_queries.select_in_scope(
                conn, ile_de_france.id, kind="place", limit=10
            )
        assert [(i.object_uri, i.via) for i in items] == [(ours.uri, montreuil_uri)]
        # And shows it on its map and its places page
        features = (await http.get(f"{region.base}/map/features.geojson")).json()["features"]
        shown = next(f for f in features if f["properties"]["url"] == ours.uri)
        assert shown["properties"]["placeKind"] == "compost_point"
        assert shown["properties"]["placeKindLabel"] == "Point de compost"
        page = await http.get(f"{region.base}/territoires/commune/93048/places")
        assert "Composteur du square" in page.text

        # When the author renames it, the territory's Announce of the Update renames it there
        async with commune.pool.acquire() as conn:
            await places.update_place(
                conn,
                editor=camille,
                is_admin=False,
                place=ours,
                data=PlaceInput(**{**data.__dict__, "name": "Composteur partagé"}),
                territory=montreuil,
                root=root,
                urls=commune.urls,
                clock=commune.clock,
                keygen=keygen,
            )
        await _stored(region, ours.uri, lambda p: p.name == "Composteur partagé")

        # Given a citizen of the région instance following the author
        yanis = await _citizen(region, "yanis", keygen)
        await follow_and_wait(region, yanis, commune.urls.actor("camille"))

        # When the author sends hostile Places, each is refused with its reason
        base = ours.uri.rsplit("/", 1)[0]
        good = {
            "type": "Place",
            "name": "Lieu",
            "latitude": 48.86,
            "longitude": 2.44,
            "attributedTo": commune.urls.actor("camille"),
            "audience": montreuil_uri,
        }
        hostile: list[tuple[dict[str, Any], str]] = [
            ({"latitude": 95.5}, "latitude is not between -90 and 90"),
            ({"longitude": -1e300}, "json_number_too_long"),
            ({"longitude": "2.44"}, "longitude is not a number"),
            ({"latitude": True}, "latitude is not a number"),
            ({"placeKind": "javascript:alert(1)"}, "placeKind is not one of"),
            ({"name": "x" * 5000}, "name is longer than 200"),
            ({"address": {"streetAddress": {"deep": [[[["x"]]]]}}}, "streetAddress is not a text"),
            ({"attributedTo": region.urls.actor("yanis")}, "attributedTo is not the activity"),
            ({"audience": None, "address": {"postalCode": "75001"}}, "no territory this instance"),
        ]
        sent = []
        async with commune.pool.acquire() as conn, conn.transaction():
            for changes, _reason in hostile:
                activity_uri = commune.urls.activity(new_token())
                document = {**good, "id": f"{base}/{new_token()}", **changes}
                await publish(
                    conn,
                    actor=camille,
                    activity={
                        "@context": "https://www.w3.org/ns/activitystreams",
                        "id": activity_uri,
                        "type": "Create",
                        "actor": commune.urls.actor("camille"),
                        "object": {k: v for k, v in document.items() if v is not None},
                        "to": ["https://www.w3.org/ns/activitystreams#Public"],
                    },
                    audience=Audience(followers=True),
                    urls=commune.urls,
                    clock=commune.clock,
                )
                sent.append(activity_uri)
        for activity_uri, (changes, reason) in zip(sent, hostile, strict=True):
            if reason == "json_number_too_long":
                # An absurd number is refused at the inbox's door (400), before any row exists
                assert await _refused_at_the_door(commune, activity_uri) == reason
                continue
            state, detail = await _outcome(region, activity_uri)
            assert state == "ignored", (changes, detail)
            assert reason in detail, (changes, detail)
        async with region.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM points_of_interest") == 1

        # When the author deletes it, it leaves the follower's instance and its scope
        async with commune.pool.acquire() as conn:
            current = await poi_queries.select_place(conn, ours.uri)
            assert current is not None
            await places.delete_place(
                conn,
                editor=camille,
                is_admin=False,
                place=current,
                urls=commune.urls,
                clock=commune.clock,
            )
        await _stored(region, ours.uri, lambda p: p.deleted_at is not None)
        async with region.pool.acquire() as conn:
            assert await located_queries.select_item(conn, ours.uri) is None
