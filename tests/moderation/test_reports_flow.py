"""Reports between two fedicity instances on loopback, over real HTTP: a citizen of A reports a
post of B's and asks to forward it; B receives a Flag signed by A's instance actor and queues it
with its objects; B's admin removes the post, and the Delete reaches A; a second report, about
the account, leads B's admin to suspend it: it cannot log in and its actor answers 410."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.audit import queries as audit_queries
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.queries import Report
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance

PASSWORD = "long enough pw"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
AP = {"Accept": "application/activity+json"}


async def _citizen(
    instance: Instance, username: str, keygen: FixedKeys, *, is_admin: bool = False
) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password=PASSWORD, keygen=keygen, is_admin=is_admin
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = _CSRF.search(response.text)
    assert match is not None, path
    return match.group(1)


async def _log_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    token = await _csrf(client, "/login")
    return await client.post(
        "/login", data={"csrf_token": token, "login": username, "password": PASSWORD}
    )


async def _report(client: httpx.AsyncClient, kind: str, uri: str, comment: str) -> None:
    token = await _csrf(client, f"/report?kind={kind}&uri={uri}")
    response = await client.post(
        "/report",
        data={
            "csrf_token": token,
            "kind": kind,
            "uri": uri,
            "category": "violation",
            "comment": comment,
            "forward": "on",
        },
    )
    assert response.status_code == 303, response.text


async def _received(instance: Instance, content: str) -> Report | None:
    async with instance.pool.acquire() as conn:
        for report in await moderation_queries.select_reports_page(conn, limit=10):
            if report.content == content:
                return report
    return None


async def _act(client: httpx.AsyncClient, number: int, action: str, reason: str) -> None:
    token = await _csrf(client, f"/admin/reports/{number}")
    response = await client.post(
        f"/admin/reports/{number}",
        data={"csrf_token": token, "action": action, "reason": reason},
    )
    assert response.status_code == 303
    assert f"notice={action}" in response.headers["Location"], response.headers["Location"]


async def test_a_forwarded_report_reaches_the_peer_which_deletes_and_suspends(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
        httpx.AsyncClient(base_url=a.base) as camille_web,
        httpx.AsyncClient(base_url=b.base) as admin_web,
        httpx.AsyncClient(base_url=b.base) as visitor,
    ):
        # Given camille on A, who follows vendeur on B, and B's admin
        camille = await _citizen(a, "camille", keygen)
        vendeur = await _citizen(b, "vendeur", keygen)
        await _citizen(b, "admin_b", keygen, is_admin=True)
        vendeur_uri = b.urls.actor("vendeur")
        assert not isinstance(await a.federation.directory.actor(vendeur_uri), str)
        async with a.pool.acquire() as conn:
            await follows.follow(
                conn, actor=camille, target=vendeur_uri, urls=a.urls, clock=a.clock
            )

        async def accepted() -> bool:
            async with a.pool.acquire() as conn:
                found = await follow_queries.select_follow(
                    conn, a.urls.actor("camille"), vendeur_uri
                )
            return found is not None and found.state == "accepted"

        await eventually(accepted)
        # And vendeur's public post, which reaches A
        async with b.pool.acquire() as conn:
            post = await posts.create_note(
                conn,
                actor=vendeur,
                text="Faux billets à vendre, écrivez-moi",
                visibility="public",
                urls=b.urls,
                clock=b.clock,
                local_host=b.settings.host,
                resolved={},
            )

        async def arrived() -> bool:
            async with a.pool.acquire() as conn:
                return await post_queries.select_post(conn, post.uri) is not None

        await eventually(arrived)

        # When camille reports the post from A's page, asking to forward it
        assert (await _log_in(camille_web, "camille")).status_code == 303
        await _report(camille_web, "post", post.uri, "vente de faux billets")

        # Then B receives a Flag, verified as signed by A's instance actor, and queues it
        async def flagged() -> bool:
            return await _received(b, "vente de faux billets") is not None

        await eventually(flagged, within=20)
        received = await _received(b, "vente de faux billets")
        assert received is not None
        assert received.origin == "remote"
        assert received.reporter == a.urls.instance_actor
        assert received.target_actor == vendeur_uri
        assert post.uri in received.targets
        async with b.pool.acquire() as conn:
            key_id = await conn.fetchval(
                "SELECT key_id FROM inbox_items WHERE actor_uri = $1 AND type = 'Flag'",
                a.urls.instance_actor,
            )
        assert key_id == a.urls.instance_actor_key
        # And camille's report on A says it was forwarded; her name went nowhere
        async with a.pool.acquire() as conn:
            mine = await moderation_queries.select_reports_by(
                conn, (await conn.fetchval("SELECT id FROM accounts")), limit=5
            )
        assert mine[0].forwarded_at is not None
        async with b.pool.acquire() as conn:
            raw = await conn.fetchval("SELECT raw::text FROM reports WHERE id = $1", received.id)
        assert "camille" not in raw

        # And B's admin sees it in the queue with the reported post's text
        assert (await _log_in(admin_web, "admin_b")).status_code == 303
        page = (await admin_web.get(f"/admin/reports/{received.id}")).text
        assert "Faux billets à vendre" in page

        # When B's admin removes the content
        await _act(admin_web, received.id, "remove", "escroquerie")

        # Then the Delete B sends reaches A, which forgets the post
        async def deleted() -> bool:
            async with a.pool.acquire() as conn:
                return await post_queries.select_post(conn, post.uri) is None

        await eventually(deleted, within=20)

        # When camille reports vendeur's account too, and B's admin suspends it
        await _report(camille_web, "actor", vendeur_uri, "compte d'escroc")

        async def flagged_again() -> bool:
            return await _received(b, "compte d'escroc") is not None

        await eventually(flagged_again, within=20)
        second = await _received(b, "compte d'escroc")
        assert second is not None
        assert second.target_actor == vendeur_uri
        assert (await visitor.get("/actors/vendeur", headers=AP)).status_code == 200
        await _act(admin_web, second.id, "suspend", "escroc récidiviste")

        # Then vendeur's actor answers 410 over HTTP, and vendeur cannot log in
        assert (await visitor.get("/actors/vendeur", headers=AP)).status_code == 410
        refused = await _log_in(visitor, "vendeur")
        assert refused.status_code == 403

        # And B's audit log holds every action, by B's admin, with its reason
        async with b.pool.acquire() as conn:
            entries = await audit_queries.select_page(conn, limit=20)
        assert [(e.action, e.actor_name) for e in reversed(entries)] == [
            ("content.remove", "admin_b"),
            ("report.resolve", "admin_b"),
            ("account.suspend", "admin_b"),
            ("report.resolve", "admin_b"),
        ]
        assert entries[0].reason == "escroc récidiviste"
