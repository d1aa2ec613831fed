"""Territory actors on loopback: a peer communects to a commune, a région instance aggregates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.located import queries as located_queries
from fedicity.posts.models import Post
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, region_follows_commune, running_instance
from tests.interop.peers import bovine_peer
from tests.territory_helpers import import_slice


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _post_in_commune(instance: Instance, author: Actor, text: str, code: str) -> Post:
    """What the compose form does: a public note located in a commune, announced by it."""
    async with instance.pool.acquire() as conn:
        commune = await territory_queries.select_territory(conn, "commune", code)
        root = await territory_service.served_root(
            conn, instance.settings.territory_level, instance.settings.territory_code
        )
        return await territory_service.write_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            place=commune,
            root=root,
            urls=instance.urls,
            clock=instance.clock,
            keygen=instance.federation.keygen,
            local_host=instance.settings.host,
            resolved={},
        )


async def test_peer_follows_a_commune_and_receives_its_verified_announce(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    await import_slice(pool, tmp_path)
    async with (
        running_instance(
            pool, tmp_path / "commune", keygen, territory_level="commune", territory_code="93048"
        ) as instance,
        bovine_peer(tmp_path) as peer,
        httpx.AsyncClient(timeout=30) as client,
    ):
        # Given a commune instance whose citizen posts, and its territory actor found by handle
        camille = await _citizen(instance, "camille", keygen)
        finger = await client.get(
            f"{instance.base}/.well-known/webfinger",
            params={"resource": f"acct:montreuil@{instance.settings.host}"},
        )
        assert finger.status_code == 200
        montreuil = next(link["href"] for link in finger.json()["links"] if link["rel"] == "self")
        document = (
            await client.get(montreuil, headers={"Accept": "application/activity+json"})
        ).json()
        assert document["type"] == "Group"
        assert document["territoryCode"] == "93048"
        assert [p["territoryCode"] for p in document["territoryParents"]][:2] == ["FR", "11"]

        # When bovine follows @montreuil, the territory accepts and bovine verifies the Accept
        answer = (await client.post(f"{peer}/_follow", json={"target": montreuil})).json()
        assert answer["status"] == 202, answer

        async def received(kind: str) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = (await client.get(f"{peer}/_received")).json()
            return [e for e in entries if e["type"] == kind and e["verified"]]

        async def accepted() -> bool:
            return bool(await received("Accept"))

        await eventually(accepted, within=20)

        # When camille publishes a public post located in Montreuil
        post = await _post_in_commune(instance, camille, "Marché solidaire samedi", "93048")

        # Then bovine receives the territory's Announce wrapping the Create unchanged, verified
        async def announced() -> bool:
            return any(
                entry["body"]["object"]["object"]["id"] == post.uri
                and entry["body"]["actor"] == montreuil
                for entry in await received("Announce")
            )

        await eventually(announced, within=20)


async def test_region_instance_aggregates_a_commune_instance(
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
    ):
        # Given the région instance's territory actor following the commune instance's @montreuil
        aggregation = await region_follows_commune(commune, region, keygen)
        montreuil_uri = aggregation.montreuil_uri
        ile_de_france = aggregation.ile_de_france

        # When a citizen of the commune instance posts in Montreuil
        camille = await _citizen(commune, "camille", keygen)
        post = await _post_in_commune(commune, camille, "Réunion publique sur le budget", "93048")

        # Then the région instance lists it in its scope query for the commune (and the région),
        # attributed to the original instance and to the territory actor that announced it
        async def aggregated() -> bool:
            async with region.pool.acquire() as conn:
                territory = await territory_queries.select_territory(conn, "commune", "93048")
                assert territory is not None
                items = await located_queries.select_in_scope(conn, territory.id, limit=10)
            return any(i.object_uri == post.uri for i in items)

        await eventually(aggregated, within=15)
        async with region.pool.acquire() as conn:
            assert ile_de_france is not None
            in_region = await located_queries.select_in_scope(conn, ile_de_france.id, limit=10)
        item = next(i for i in in_region if i.object_uri == post.uri)
        assert item.origin_host == commune.settings.host
        assert item.via == montreuil_uri
