"""Moderation of places: a silenced account leaves the territory's pages and is no longer
announced by it; a territory moderator named by an admin sees and hides reported content located
in the territory, and nothing more; an organisation's admins see and remove reported posts on
its wall. Each action is in the audit log."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.audit import queries as audit_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import memberships, posting
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.web.test_accounts_web import _csrf, _log_in, _register
from tests.web.test_admin import serving_app  # noqa: F401  (a fixture)

URLS = Urls("http://fedicity.test")


async def _client(app: Quart, pool: Pool, keygen: FixedKeys, username: str) -> TestClientProtocol:
    await _register(pool, keygen, username, is_admin=username == "root_admin")
    client = app.test_client()
    await _log_in(client, username)
    return client


async def _write(client: TestClientProtocol, text: str) -> None:
    token = await _csrf(client, "/home")
    response = await client.post(
        "/notes",
        form={"csrf_token": token, "text": text, "visibility": "public", "territory": "93048"},
    )
    assert response.status_code == 303
    assert "error" not in response.headers["Location"]


async def _items(client: TestClientProtocol) -> list[str]:
    page = await (await client.get("/api/territories/commune/93048/items")).get_json()
    return [item["id"] for item in page["items"]]


async def _report(
    client: TestClientProtocol, kind: str, uri: str, include: str | None = None
) -> int:
    token = await _csrf(client, f"/report?kind={kind}&uri={uri}")
    form = {"csrf_token": token, "kind": kind, "uri": uri, "category": "violation"}
    if include is not None:
        form["include"] = include
    response = await client.post("/report", form=form)
    assert response.status_code == 303
    match = re.search(r"/reports/(\d+)", response.headers["Location"])
    assert match is not None
    return int(match.group(1))


async def _act(client: TestClientProtocol, number: int, action: str) -> int:
    token = await _csrf(client, f"/admin/reports/{number}")
    response = await client.post(
        f"/admin/reports/{number}", form={"csrf_token": token, "action": action, "reason": "r"}
    )
    return response.status_code


async def _announces(pool: Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM outbox_activities WHERE type = 'Announce'"
        )
    return count


async def test_a_silenced_account_leaves_the_territory_pages_and_announces(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    # Given bob's public post in Montreuil, on its page
    bob = await _client(serving_app, pool, keygen, "bob")
    await _write(bob, "Vide-grenier dimanche")
    (post_uri,) = await _items(bob)
    announced = await _announces(pool)
    # When camille reports it and the admin silences bob
    camille = await _client(serving_app, pool, keygen, "camille")
    number = await _report(camille, "post", post_uri)
    admin = await _client(serving_app, pool, keygen, "root_admin")
    assert await _act(admin, number, "silence") == 303
    # Then the post is off Montreuil's page, though it still exists for his followers
    assert await _items(bob) == []
    async with pool.acquire() as conn:
        assert await post_queries.select_post(conn, post_uri) is not None
    # And a new post of bob's is not announced by the territories
    await _write(bob, "Encore un vide-grenier")
    assert await _announces(pool) == announced
    assert await _items(bob) == []
    # When the admin lifts the limit, his posts come back on the page
    assert await _act(admin, number, "unsilence") == 303
    assert len(await _items(bob)) == 2
    async with pool.acquire() as conn:
        actions = [e.action for e in await audit_queries.select_page(conn, limit=10)]
    assert actions[:3] == ["account.unsilence", "report.resolve", "account.silence"]


async def test_a_territory_moderator_hides_what_is_reported_in_the_territory(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    bob = await _client(serving_app, pool, keygen, "bob")
    await _write(bob, "Annonce douteuse")
    (post_uri,) = await _items(bob)
    # Given dominique, named moderator of Montreuil by the admin
    dominique = await _client(serving_app, pool, keygen, "dominique")
    assert (await dominique.get("/admin/reports")).status_code == 403
    admin = await _client(serving_app, pool, keygen, "root_admin")
    token = await _csrf(admin, "/admin/reports")
    named = await admin.post(
        "/admin/territory-moderators",
        form={"csrf_token": token, "username": "dominique", "level": "commune", "code": "93048"},
    )
    assert "notice=moderator_added" in named.headers["Location"]
    unknown = await admin.post(
        "/admin/territory-moderators",
        form={"csrf_token": token, "username": "nobody", "level": "commune", "code": "93048"},
    )
    assert "error=moderator_unknown" in unknown.headers["Location"]
    # When camille reports bob's post
    camille = await _client(serving_app, pool, keygen, "camille")
    number = await _report(camille, "post", post_uri)
    # Then dominique sees it, may dismiss or hide it, but not suspend
    queue = await (await dominique.get("/admin/reports")).get_data(as_text=True)
    assert f"/admin/reports/{number}" in queue
    page = await (await dominique.get(f"/admin/reports/{number}")).get_data(as_text=True)
    assert 'value="hide"' in page
    assert 'value="suspend"' not in page
    assert await _act(dominique, number, "suspend") == 403
    # When dominique hides it
    assert await _act(dominique, number, "hide") == 303
    # Then it is off the territory's page, the report closed by dominique, all in the log
    assert await _items(bob) == []
    async with pool.acquire() as conn:
        report = await moderation_queries.select_report(conn, number)
        entries = [(e.action, e.actor_name) for e in await audit_queries.select_page(conn, limit=5)]
    assert report is not None
    assert report.resolution == "content_hidden"
    assert report.resolved_by == "dominique"
    assert entries[:3] == [
        ("report.resolve", "dominique"),
        ("content.hide", "dominique"),
        ("territory.moderator_add", "root_admin"),
    ]


async def test_an_organisations_admin_removes_a_reported_wall_post(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
) -> None:
    # Given alice's open organisation, bob a member who posts on its wall, and dominique
    alice = await _client(serving_app, pool, keygen, "alice")
    bob_client = await _client(serving_app, pool, keygen, "bob")
    dominique = await _client(serving_app, pool, keygen, "dominique")
    env = Env(urls=URLS, clock=clock)
    async with pool.acquire() as conn:
        alice_actor = await actor_queries.select_actor_by_username(conn, "alice")
        bob = await actor_queries.select_actor_by_username(conn, "bob")
        assert alice_actor is not None
        assert bob is not None
        org = await organizations.create(
            conn,
            creator=alice_actor,
            username="velo",
            organization_kind="association",
            keygen=keygen,
            env=env,
            membership_mode="open",
        )
        for member in ("bob", "dominique"):
            await memberships.join(conn, organization=org, member_uri=URLS.actor(member), env=env)
        elsewhere = await posts.create_note(
            conn,
            actor=bob,
            text="Mon avis personnel",
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )
        post = await posting.post_on_wall(
            conn,
            organization=org,
            author=bob,
            text="Venez acheter mes crypto",
            env=env,
            local_host="fedicity.test",
            resolved={},
        )
    # When camille reports the wall post, adding bob's post elsewhere
    camille = await _client(serving_app, pool, keygen, "camille")
    number = await _report(camille, "post", post.uri, include=elsewhere.uri)
    # Then alice, the organisation's admin, sees it; dominique, a plain member, does not
    assert f"/admin/reports/{number}" in await (await alice.get("/admin/reports")).get_data(
        as_text=True
    )
    assert (await dominique.get("/admin/reports")).status_code == 403
    assert (await bob_client.get(f"/admin/reports/{number}")).status_code == 403
    # When alice removes it
    assert await _act(alice, number, "remove") == 303
    # Then the wall post is deleted (bob's own Delete is queued), not the one elsewhere, which
    # is not the organisation's to remove, and the log says alice did it
    async with pool.acquire() as conn:
        assert await post_queries.select_post(conn, post.uri) is None
        assert await post_queries.select_post(conn, elsewhere.uri) is not None
        report = await moderation_queries.select_report(conn, number)
        assert report is not None
        assert report.targets == [post.uri, elsewhere.uri]
        deletes = await conn.fetchval(
            "SELECT count(*) FROM outbox_activities WHERE type = 'Delete' AND object_uri = $1",
            post.uri,
        )
        entries = [(e.action, e.actor_name) for e in await audit_queries.select_page(conn, limit=2)]
    assert deletes == 1
    assert entries == [("report.resolve", "alice"), ("content.remove", "alice")]
    # And a stranger's post that merely mentions the organisation is not on its wall: a report
    # of it goes to the instance's admins, not to alice
    async with pool.acquire() as conn:
        camille_actor = await actor_queries.select_actor_by_username(conn, "camille")
        assert camille_actor is not None
        mention = await posts.create_note(
            conn,
            actor=camille_actor,
            text="@velo vos vélos sont nuls",
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={
                ("velo", "fedicity.test"): Mention(
                    "@velo", URLS.actor("velo"), URLS.profile("velo")
                )
            },
        )
        assert URLS.actor("velo") in (*mention.to_uris, *mention.cc_uris)
    other = await _report(dominique, "post", mention.uri)
    assert f"/admin/reports/{other}" not in await (await alice.get("/admin/reports")).get_data(
        as_text=True
    )
    assert (await alice.get(f"/admin/reports/{other}")).status_code == 403
