"""Reports from the UI and the moderation queue, over the app: a citizen reports a post, it is in
the queue, an admin dismisses it and the reporter is told the outcome (not the reason); a
suspended account cannot log in, post, or be fetched (410) until the suspension is lifted; hostile
input gets a precise 4xx; every action is in the audit log."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol
from werkzeug.datastructures import MultiDict

from fedicity.actors import queries as actor_queries
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import SYSTEM
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.proposals import drafts
from fedicity.proposals import service as proposal_service
from fedicity.stewardship import actions
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.web.test_accounts_web import PASSWORD, _csrf, _log_in, _register

URLS = Urls("http://fedicity.test")
AP = {"Accept": "application/activity+json"}


async def _post_by(pool: Pool, keygen: FixedKeys, clock: FrozenClock, username: str) -> Post:
    await _register(pool, keygen, username)
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
        assert actor is not None
        return await posts.create_note(
            conn,
            actor=actor,
            text="Achetez mes pilules miracle",
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )


async def _client(
    app: Quart, pool: Pool, keygen: FixedKeys, username: str, **kw: bool
) -> TestClientProtocol:
    await _register(pool, keygen, username, **kw)
    client = app.test_client()
    await _log_in(client, username)
    return client


async def _report(client: TestClientProtocol, post: Post, comment: str = "spam évident") -> int:
    path = f"/report?kind=post&uri={post.uri}"
    token = await _csrf(client, path)
    response = await client.post(
        "/report",
        form={
            "csrf_token": token,
            "kind": "post",
            "uri": post.uri,
            "category": "spam",
            "comment": comment,
        },
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    match = re.search(r"/reports/(\d+)", response.headers["Location"])
    assert match is not None
    return int(match.group(1))


async def _act(client: TestClientProtocol, number: int, action: str, reason: str = "") -> str:
    token = await _csrf(client, f"/admin/reports/{number}")
    response = await client.post(
        f"/admin/reports/{number}",
        form={"csrf_token": token, "action": action, "reason": reason},
    )
    assert response.status_code == 303
    location: str = response.headers["Location"]
    return location


async def test_a_report_from_the_ui_is_queued_dismissed_and_the_reporter_told(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given a post by bob, and camille who reads it
    post = await _post_by(pool, keygen, clock, "bob")
    camille = await _client(app, pool, keygen, "camille")
    # Then the post's page offers camille a Report link
    page = await (await camille.get(f"/notes/{post.uri.rsplit('/', 1)[1]}")).get_data(as_text=True)
    assert "/report?kind=post" in page
    # When camille reports it from the form
    number = await _report(camille, post)
    # Then it is in the admins' queue, with the post's text and the reporter by name
    admin = await _client(app, pool, keygen, "root_admin", is_admin=True)
    queue = await (await admin.get("/admin/reports")).get_data(as_text=True)
    assert f"/admin/reports/{number}" in queue
    assert "spam évident" in queue
    one = await (await admin.get(f"/admin/reports/{number}")).get_data(as_text=True)
    assert "Achetez mes pilules miracle" in one
    assert "@camille" in one
    # And the old list on /admin is gone: the queue is its own page
    assert "spam évident" not in await (await admin.get("/admin")).get_data(as_text=True)
    # When the admin dismisses it with a private reason
    assert "notice=dismiss" in await _act(admin, number, "dismiss", "rien de grave, note privée")
    # Then the report is closed, by whom and how
    async with pool.acquire() as conn:
        report = await moderation_queries.select_report(conn, number)
        assert report is not None
        assert report.resolved_at is not None
        assert report.resolution == "dismissed"
        assert report.resolved_by == "root_admin"
        entries = await audit_queries.select_page(conn, limit=10)
    assert [(e.action, e.actor_name, e.reason) for e in entries] == [
        ("report.resolve", "root_admin", "rien de grave, note privée")
    ]
    # And camille is notified, and sees the outcome but not the moderator's note
    notifications = await (await camille.get("/notifications")).get_data(as_text=True)
    assert f"/reports/{number}" in notifications
    mine = await (await camille.get(f"/reports/{number}")).get_data(as_text=True)
    assert "note privée" not in mine
    assert "spam évident" in mine
    # And the queue no longer lists it (open reports only), and a second decision is refused
    assert f"/admin/reports/{number}" not in await (await admin.get("/admin/reports")).get_data(
        as_text=True
    )
    assert "error=report_closed" in await _act(admin, number, "dismiss")
    # And another citizen cannot read camille's report, nor the queue
    other = await _client(app, pool, keygen, "dominique")
    assert (await other.get(f"/reports/{number}")).status_code == 404
    assert (await other.get("/admin/reports")).status_code == 403
    assert (await other.get(f"/admin/reports/{number}")).status_code == 403


async def test_a_suspended_account_cannot_log_in_post_or_be_fetched_until_lifted(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given bob's post, bob logged in elsewhere, and camille's report about it
    post = await _post_by(pool, keygen, clock, "bob")
    bob = app.test_client()
    await _log_in(bob, "bob")
    bob_token = await _csrf(bob, "/home")
    created = await bob.post(
        "/events",
        form={
            "csrf_token": bob_token,
            "title": "Vente de pilules",
            "starts_at": "2031-06-14T10:00",
            "timezone": "Europe/Paris",
            "place_name": "Parking",
            "join_mode": "free",
        },
    )
    assert created.status_code == 303, await created.get_data(as_text=True)
    event_path = created.headers["Location"]
    camille = await _client(app, pool, keygen, "camille")
    number = await _report(camille, post)
    admin = await _client(app, pool, keygen, "root_admin", is_admin=True)
    assert (await admin.get("/actors/bob", headers=AP)).status_code == 200
    # When the admin suspends bob from the report
    assert "notice=suspend" in await _act(admin, number, "suspend", "vend des faux médicaments")
    # Then bob's actor, its collections, its post and its event answer 410
    token = post.uri.rsplit("/", 1)[1]
    for path in ("/actors/bob", "/actors/bob/outbox", "/actors/bob/followers", f"/notes/{token}"):
        assert (await admin.get(path, headers=AP)).status_code == 410, path
    # And its inbox takes nothing more (nothing would be answered from it)
    assert (await admin.post("/actors/bob/inbox", data=b"{}")).status_code == 410
    assert (await admin.get("/actors/bob")).status_code == 410
    assert (await admin.get(event_path)).status_code == 410
    # And bob's session is over: posting is refused and nothing is stored
    refused = await bob.post("/notes", form={"csrf_token": bob_token, "text": "encore"})
    assert refused.status_code == 303
    assert "/login" in refused.headers["Location"]
    async with pool.acquire() as conn:
        assert await post_queries.count_author_posts(conn, URLS.actor("bob")) == 1
    # And bob cannot log in again: a 403 page that says why
    fresh = app.test_client()
    login_token = await _csrf(fresh)
    response = await fresh.post(
        "/login", form={"csrf_token": login_token, "login": "bob", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "suspendu" in await response.get_data(as_text=True)
    # When the admin lifts the suspension
    assert "notice=unsuspend" in await _act(admin, number, "unsuspend", "erreur")
    # Then bob is back: his actor answers and he can log in
    assert (await admin.get("/actors/bob", headers=AP)).status_code == 200
    assert (await admin.get(event_path)).status_code == 200
    back = app.test_client()
    await _log_in(back, "bob")
    # And each step is in the audit log, with the report it came from
    async with pool.acquire() as conn:
        entries = await audit_queries.select_page(conn, limit=10)
        history = await moderation_queries.select_report_history(conn, number)
    assert [e.action for e in reversed(entries)] == [
        "account.suspend",
        "report.resolve",
        "account.unsuspend",
    ]
    assert entries[-1].target == URLS.actor("bob")
    assert [e.action for e in history] == ["account.suspend", "report.resolve"]


async def test_the_report_form_refuses_bad_input_precisely(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    post = await _post_by(pool, keygen, clock, "bob")
    camille = await _client(app, pool, keygen, "camille")
    token = await _csrf(camille, f"/report?kind=post&uri={post.uri}")
    base = {"csrf_token": token, "kind": "post", "uri": post.uri, "category": "spam"}
    # An unknown category: the form again, the error by the field, the comment kept
    response = await camille.post("/report", form={**base, "category": "x", "comment": "gardé"})
    assert response.status_code == 400
    text = await response.get_data(as_text=True)
    assert 'id="category-error"' in text
    assert "gardé" in text
    # A huge comment: by its field
    response = await camille.post("/report", form={**base, "comment": "x" * 5000})
    assert response.status_code == 400
    assert 'id="comment-error"' in await response.get_data(as_text=True)
    # Hostile or unknown targets: 400 or 404, never a 500
    for kind, uri in (
        ("post", "javascript:alert(1)"),
        ("post", "https://nowhere.example/x"),
        ("nothing", post.uri),
        ("post", "x" * 5000),
    ):
        response = await camille.post("/report", form={**base, "kind": kind, "uri": uri})
        assert response.status_code in (400, 404), (kind, uri[:40])
    # Hostile HTML in a comment is shown as text in the queue
    await _report(camille, post, comment="<script>alert(1)</script>")
    admin = await _client(app, pool, keygen, "root_admin", is_admin=True)
    queue = await (await admin.get("/admin/reports")).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in queue
    # Visitors are sent to log in; an unknown action is 400, a non-number report 404
    assert (await app.test_client().get(f"/report?kind=post&uri={post.uri}")).status_code == 303
    async with pool.acquire() as conn:
        number = (await moderation_queries.select_reports_page(conn, limit=1))[0].id
    admin_token = await _csrf(admin, f"/admin/reports/{number}")
    bad = await admin.post(
        f"/admin/reports/{number}", form={"csrf_token": admin_token, "action": "explode"}
    )
    assert bad.status_code == 403
    assert (await admin.get("/admin/reports/abc")).status_code == 404
    assert (await admin.get("/admin/reports?before=x")).status_code == 400


async def test_reports_are_rate_limited_per_account(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    post = await _post_by(pool, keygen, clock, "bob")
    camille = await _client(app, pool, keygen, "camille")
    for _ in range(10):
        await _report(camille, post)
    token = await _csrf(camille, f"/report?kind=post&uri={post.uri}")
    response = await camille.post(
        "/report",
        form={"csrf_token": token, "kind": "post", "uri": post.uri, "category": "spam"},
    )
    assert response.status_code == 429


async def test_a_suspended_remote_account_is_refused_at_the_inbox(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given a known remote account whose posts arrive here, one already stored
    key = fixed_keypairs()[0]
    troll = "https://social.invalid/users/troll"
    await seed_remote_actor(pool, troll, key, clock.now())

    def note(n: int) -> dict[str, object]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{troll}/statuses/{n}/activity",
            "type": "Create",
            "actor": troll,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {
                "id": f"{troll}/statuses/{n}",
                "type": "Note",
                "attributedTo": troll,
                "content": "insultes",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            },
        }

    first = await post_signed(
        client, "/inbox", note(1), key_id=troll + "#main-key", keypair=key, now=clock.now()
    )
    assert first.status_code == 202
    # When the admin suspends it from the command line's code path
    async with pool.acquire() as conn:
        await actions.suspend(
            conn,
            troll,
            by=SYSTEM,
            reason="insultes",
            env=actions.Env(urls=URLS, clock=clock),
        )
        assert await moderation_queries.select_restriction(conn, troll) == "suspend"
    # Then its next delivery is refused, signed as it is
    refused = await post_signed(
        client, "/inbox", note(2), key_id=troll + "#main-key", keypair=key, now=clock.now()
    )
    assert refused.status_code == 403
    assert (await refused.get_json())["reason"] == "suspended"
    # And what it sent before, still waiting, is ignored by the worker: its post is not stored
    app_state: AppState = app.extensions["fedicity"]
    assert await process_batch(pool, directory=app_state.fed.directory, urls=URLS, clock=clock) == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, last_error FROM inbox_items")
        assert row is not None
        assert (row["state"], row["last_error"]) == ("ignored", "its actor is suspended here")
        assert await post_queries.select_post(conn, f"{troll}/statuses/1") is None
        entry = (await audit_queries.select_page(conn, limit=1))[0]
    assert (entry.action, entry.target, entry.actor_name) == ("account.suspend", troll, "system")
    # And an unknown remote account cannot be suspended by mistake
    async with pool.acquire() as conn:
        with pytest.raises(actions.ModerationError):
            await actions.suspend(
                conn,
                "https://social.invalid/users/nobody",
                by=SYSTEM,
                reason="",
                env=actions.Env(urls=URLS, clock=clock),
            )


async def test_a_post_one_may_not_read_cannot_be_reported_nor_shown(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given bob's direct message to dominique
    await _register(pool, keygen, "bob")
    camille = await _client(app, pool, keygen, "camille")
    dominique = await _client(app, pool, keygen, "dominique")
    async with pool.acquire() as conn:
        bob = await actor_queries.select_actor_by_username(conn, "bob")
        assert bob is not None
        secret = await posts.create_note(
            conn,
            actor=bob,
            text="@dominique le code de la porte est 4521",
            visibility="direct",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={
                ("dominique", "fedicity.test"): Mention(
                    "@dominique", URLS.actor("dominique"), URLS.profile("dominique")
                )
            },
        )
    # Then camille, who was not addressed, cannot open the form nor file it: it is unknown
    response = await camille.get(f"/report?kind=post&uri={secret.uri}")
    assert response.status_code == 404
    assert "4521" not in await response.get_data(as_text=True)
    # But dominique, to whom it was sent, can report it
    page = await dominique.get(f"/report?kind=post&uri={secret.uri}")
    assert page.status_code == 200
    assert "4521" in await page.get_data(as_text=True)
    # And camille, reporting one of bob's public posts, cannot slip the message in beside it
    async with pool.acquire() as conn:
        public = await posts.create_note(
            conn,
            actor=bob,
            text="Un message public",
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )
    token = await _csrf(camille, f"/report?kind=post&uri={public.uri}")
    response = await camille.post(
        "/report",
        form=MultiDict(
            [
                ("csrf_token", token),
                ("kind", "post"),
                ("uri", public.uri),
                ("category", "spam"),
                ("include", secret.uri),
                ("include", public.uri),
            ]
        ),
    )
    assert response.status_code == 303
    async with pool.acquire() as conn:
        targets = await conn.fetchval("SELECT targets FROM reports ORDER BY id DESC LIMIT 1")
    assert targets == [public.uri]
    mine = await camille.get(response.headers["Location"])
    assert "4521" not in await mine.get_data(as_text=True)


async def test_a_draft_proposal_is_its_authors_alone(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _register(pool, keygen, "bob")
    camille = await _client(app, pool, keygen, "camille")
    async with pool.acquire() as conn:
        bob = await actor_queries.select_actor_by_username(conn, "bob")
        assert bob is not None
        draft = await drafts.create_draft(
            conn,
            actor=bob,
            title="Brouillon secret",
            text="Pas encore publié",
            env=proposal_service.Env(urls=URLS, clock=clock, keygen=keygen),
        )
    response = await camille.get(f"/report?kind=proposal&uri={draft.uri}")
    assert response.status_code == 404
    assert "Brouillon secret" not in await response.get_data(as_text=True)


async def test_an_admin_suspends_the_reported_accounts_whole_server(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given a report about a remote account
    troll = "https://social.invalid:8443/users/troll"
    await seed_remote_actor(pool, troll, fixed_keypairs()[0], clock.now())
    async with pool.acquire() as conn:
        await moderation_queries.insert_report(
            conn,
            activity_uri="https://other.invalid/flags/1",
            reporter="https://other.invalid/actor",
            targets=[troll],
            content="un serveur de trolls",
            raw={},
            now=clock.now(),
        )
        await moderation_queries.update_report_place(
            conn,
            "https://other.invalid/flags/1",
            target_actor=troll,
            organization_id=None,
            territory_id=None,
        )
        number = (await moderation_queries.select_reports_page(conn, limit=1))[0].id
    admin = await _client(app, pool, keygen, "root_admin", is_admin=True)
    page = await (await admin.get(f"/admin/reports/{number}")).get_data(as_text=True)
    assert 'value="suspend_domain"' in page
    # When the admin suspends its server
    assert "notice=suspend_domain" in await _act(admin, number, "suspend_domain", "trolls")
    # Then the domain (its name, whatever the port) is suspended and the report closed
    async with pool.acquire() as conn:
        policy = await moderation_queries.select_domain_policy(conn, "social.invalid")
        report = await moderation_queries.select_report(conn, number)
        entries = [(e.action, e.target) for e in await audit_queries.select_page(conn, limit=2)]
    assert policy is not None
    assert policy.action == "suspend"
    assert report is not None
    assert report.resolution == "domain_suspended"
    assert entries == [("report.resolve", f"report:{number}"), ("domain.suspend", "social.invalid")]
