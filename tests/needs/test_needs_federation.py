"""Needs between two fedicity instances on loopback: a need published on A reaches B through the
signed inbox and the worker and is shown there; a person on B offers to help on B's page, the
Offer reaches A, A's admin accepts it on the web, the Accept comes back to B; fulfilled and
deleted needs follow."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.needs import queries as need_queries
from fedicity.notifications import queries as notification_queries
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from tests.accounts.helpers import PASSWORD, log_in
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance

AP = "application/activity+json"


async def _person(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(conn, username=username, password=PASSWORD, keygen=keygen)
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def test_a_need_travels_and_a_remote_offer_is_accepted_on_the_web(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
        httpx.AsyncClient(base_url=a.base, timeout=30) as http_a,
        httpx.AsyncClient(base_url=b.base, timeout=30) as http_b,
    ):
        # Given Camille, admin of the association `velo` on A, and Dominique on B who follows it
        camille = await _person(a, "camille", keygen)
        dominique = await _person(b, "dominique", keygen)
        async with a.pool.acquire() as conn:
            velo = await organizations.create(
                conn,
                creator=camille,
                username="velo",
                organization_kind="association",
                display_name="Vélo Montreuil",
                keygen=keygen,
                env=Env(urls=a.urls, clock=a.clock),
            )
        velo_uri = a.urls.actor(velo.username)
        dominique_uri = b.urls.actor("dominique")
        assert not isinstance(await b.federation.directory.actor(velo_uri), str)
        async with b.pool.acquire() as conn:
            await follows.follow(conn, actor=dominique, target=velo_uri, urls=b.urls, clock=b.clock)

        async def followed() -> bool:
            async with b.pool.acquire() as conn:
                found = await follow_queries.select_follow(conn, dominique_uri, velo_uri)
            return found is not None and found.state == "accepted"

        await eventually(followed)

        # When Camille publishes a need on A's web form
        csrf_a = await log_in(http_a, "camille")
        answer = await http_a.post(
            "/actors/velo/needs/new",
            data={
                "csrf_token": csrf_a,
                "title": "Des bénévoles pour la bourse aux vélos",
                "description": "Samedi, **atelier** de réparation. [Plan](https://velo.example/plan)",
                "kind": "volunteering",
                "quantity": "6",
                "starts_on": "2026-12-12",
                "ends_on": "2026-12-19",
            },
        )
        assert answer.status_code == 303, answer.text
        need_path = answer.headers["location"].split("?")[0]
        need_uri = a.base + need_path
        assert need_path.startswith("/actors/velo/needs/")

        # Then A serves it as a Page of kind Need, readable in Mastodon, and lists it
        document = (await http_a.get(need_path, headers={"Accept": AP})).json()
        assert document["type"] == "Page"
        assert document["kind"] == "Need"
        assert document["quantity"] == 6
        assert document["startTime"] == "2026-12-12T00:00:00Z"
        assert document["endTime"] == "2026-12-19T23:59:59Z"
        assert document["attributedTo"] == velo_uri
        assert document["audience"] == velo_uri == document["context"]
        assert "quantité : 6" in document["content"]
        assert "du 12 décembre 2026 au 19 décembre 2026" in document["content"]
        assert f'Proposer son aide : <a href="{need_uri}">' in document["content"]
        assert "<strong>atelier</strong>" in document["content"]
        collection = (
            await http_a.get("/actors/velo/needs?page=true", headers={"Accept": AP})
        ).json()
        assert [item["id"] for item in collection["orderedItems"]] == [need_uri]
        organisation_page = (await http_a.get("/organizations/velo")).text
        assert "Des bénévoles pour la bourse aux vélos" in organisation_page
        assert "Quantité : 6" in organisation_page

        # And B stores the need from the signed Create its worker processed, and shows it
        async def need_on_b() -> bool:
            async with b.pool.acquire() as conn:
                return await need_queries.select_need(conn, need_uri) is not None

        await eventually(need_on_b)
        remote_page = f"/needs/remote?uri={quote(need_uri, safe='')}"
        shown = (await http_b.get(remote_page)).text
        assert "Des bénévoles pour la bourse aux vélos" in shown
        assert "Quantité : 6" in shown
        assert 'href="https://velo.example/plan"' in shown

        # When Dominique offers to help on B's page
        csrf_b = await log_in(http_b, "dominique")
        offered = await http_b.post(
            "/needs/remote/offer",
            data={"csrf_token": csrf_b, "uri": need_uri, "message": "J'ai une caisse à outils"},
        )
        assert offered.status_code == 303, offered.text
        again = await http_b.post(
            "/needs/remote/offer", data={"csrf_token": csrf_b, "uri": need_uri, "message": ""}
        )
        assert again.status_code == 409

        # Then the Offer reaches A over a signed POST: a pending offer, Camille notified
        async def offer_on_a() -> bool:
            async with a.pool.acquire() as conn:
                need = await need_queries.select_need(conn, need_uri)
                assert need is not None
                found = await need_queries.select_live_offer(conn, need.id, dominique_uri)
            return found is not None

        await eventually(offer_on_a)
        async with a.pool.acquire() as conn:
            need_a = await need_queries.select_need(conn, need_uri)
            assert need_a is not None
            offer_a = await need_queries.select_live_offer(conn, need_a.id, dominique_uri)
            assert offer_a is not None
            assert offer_a.state == "pending"
            assert offer_a.message == "J'ai une caisse à outils"
            told = await notification_queries.select_page(conn, camille.id, limit=10)
        assert [(n.kind, n.actor_uri, n.object_uri) for n in told] == [
            ("need_offer", dominique_uri, need_uri)
        ]
        admin_page = (await http_a.get(need_path)).text
        assert "J&#39;ai une caisse à outils" in admin_page

        # When Camille accepts it on A's need page
        accepted = await http_a.post(
            f"{need_path}/offers/{offer_a.id}",
            data={"csrf_token": csrf_a, "decision": "accept"},
        )
        assert accepted.status_code == 303, accepted.text
        twice = await http_a.post(
            f"{need_path}/offers/{offer_a.id}",
            data={"csrf_token": csrf_a, "decision": "decline"},
        )
        assert twice.status_code == 409

        # Then the Accept reaches B: Dominique's offer is accepted there and Dominique is told
        async def accepted_on_b() -> bool:
            async with b.pool.acquire() as conn:
                need = await need_queries.select_need(conn, need_uri)
                assert need is not None
                found = await need_queries.select_live_offer(conn, need.id, dominique_uri)
            return found is not None and found.state == "accepted"

        await eventually(accepted_on_b)
        async with b.pool.acquire() as conn:
            told_b = await notification_queries.select_page(conn, dominique.id, limit=10)
        assert ("need_offer_accepted", velo_uri, need_uri) in [
            (n.kind, n.actor_uri, n.object_uri) for n in told_b
        ]
        assert "aide a été acceptée." in (await http_b.get(remote_page)).text
        # And A's public need page lists the remote helper, linked to their own server
        async with httpx.AsyncClient(base_url=a.base, timeout=30) as visitor:
            public_page = (await visitor.get(need_path)).text
        helpers = public_page.split('id="helpers-title"')[1].split("</section>")[0]
        assert f'<a href="{b.base}/@dominique">dominique</a>' in helpers
        assert "(distant)" in helpers
        assert "caisse" not in public_page  # the message is for the admins

        # When Dominique withdraws on B, the Undo reaches A and the helper is no longer listed
        withdrawn = await http_b.post(
            "/needs/remote/offer", data={"csrf_token": csrf_b, "uri": need_uri, "withdraw": "1"}
        )
        assert withdrawn.status_code == 303

        async def withdrawn_on_a() -> bool:
            async with a.pool.acquire() as conn:
                found = await need_queries.select_offer(conn, offer_a.id)
            return found is not None and found.state == "withdrawn"

        await eventually(withdrawn_on_a)
        async with httpx.AsyncClient(base_url=a.base, timeout=30) as visitor:
            assert "Personne n" in (await visitor.get(need_path)).text

        # When Camille marks it fulfilled, B sees it fulfilled and no longer takes offers
        fulfilled = await http_a.post(
            f"{need_path}/state", data={"csrf_token": csrf_a, "state": "fulfilled"}
        )
        assert fulfilled.status_code == 303

        async def fulfilled_on_b() -> bool:
            async with b.pool.acquire() as conn:
                need = await need_queries.select_need(conn, need_uri)
            return need is not None and need.state == "fulfilled"

        await eventually(fulfilled_on_b)
        closed_page = (await http_b.get(remote_page)).text
        assert "Ce besoin est satisfait : merci !" in closed_page
        assert '<button type="submit">Proposer mon aide</button>' not in closed_page

        # When Camille deletes it, B forgets it
        deleted = await http_a.post(f"{need_path}/delete", data={"csrf_token": csrf_a})
        assert deleted.status_code == 303

        async def deleted_on_b() -> bool:
            async with b.pool.acquire() as conn:
                need = await need_queries.select_need(conn, need_uri)
            return need is not None and need.deleted_at is not None

        await eventually(deleted_on_b)
        assert (await http_b.get(remote_page)).status_code == 410
        assert (await http_a.get(need_path)).status_code == 410
