"""Issue 11's acceptance for content policies, with real processes and real HTTP on loopback: a
remote server's signed posts reach the inbox, the worker runs the policies an admin set on the
admin page, and what they decided is recorded, shown to the admin and acted on."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.posts import queries as post_queries
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.peer import running_peer
from tests.security.inbound_http import AS_CONTEXT, PUBLIC, post_signed_http

ALICE_KEY = fixed_keypairs()[3]
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _create(alice: str, number: int, camille: str, *, text: str, published: str) -> dict[str, Any]:
    """A Mastodon-shaped public Create(Note) by Alice that mentions camille."""
    note = f"{alice}/statuses/{number}"
    return {
        "@context": AS_CONTEXT,
        "id": f"{note}/activity",
        "type": "Create",
        "actor": alice,
        "published": published,
        "to": [PUBLIC],
        "cc": [camille],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": alice,
            "published": published,
            "content": f"<p>{text}</p>",
            "to": [PUBLIC],
            "cc": [camille],
            "tag": [{"type": "Mention", "href": camille, "name": "@camille"}],
        },
    }


async def _admin_browser(instance: Instance, keygen: FixedKeys) -> httpx.AsyncClient:
    """An admin logged in over HTTP, keeping the session cookie."""
    async with instance.pool.acquire() as conn:
        await accounts.register(
            conn, username="root_admin", password=PASSWORD, keygen=keygen, is_admin=True
        )
    browser = httpx.AsyncClient(base_url=instance.base, timeout=20)
    token = await _token(browser, "/login")
    response = await browser.post(
        "/login", data={"csrf_token": token, "login": "root_admin", "password": PASSWORD}
    )
    assert response.status_code == 303, response.text
    return browser


async def _token(browser: httpx.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def _row(pool: Pool, activity_uri: str) -> tuple[str, str | None] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1", activity_uri
        )
    return None if row is None else (row["state"], row["last_error"])


async def _wait_for(pool: Pool, activity_uri: str, state: str) -> str | None:
    """Wait until the worker leaves the activity's row in `state`; its recorded reason."""

    async def reached() -> bool:
        row = await _row(pool, activity_uri)
        return row is not None and row[0] == state

    await eventually(reached, within=20)
    row = await _row(pool, activity_uri)
    assert row is not None
    return row[1]


async def _stored(pool: Pool, note_uri: str) -> bool:
    async with pool.acquire() as conn:
        return await post_queries.select_post(conn, note_uri) is not None


async def test_a_keyword_rejects_a_post_an_old_one_is_refused_and_a_held_one_comes_after_release(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(timeout=20) as http,
    ):
        # Given camille here, Alice on a remote server publishing her key, and an admin
        async with pool.acquire() as conn:
            await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
        camille = instance.urls.actor("camille")
        alice = peer.publish_actor("alice", ALICE_KEY)
        browser = await _admin_browser(instance, keygen)
        # When the admin sets, on the content rules page, a keyword policy, a 30-day age limit
        # and a 24-hour hold of links from new accounts
        for form in (
            {
                "policy": "keyword",
                "enabled": "on",
                "action": "reject",
                "terms": "casino\nfree money",
            },
            {"policy": "object_age", "enabled": "on", "amount": "30"},
            {"policy": "new_actor_links", "enabled": "on", "amount": "24"},
        ):
            token = await _token(browser, "/admin/content")
            response = await browser.post(
                "/admin/content", data={"csrf_token": token, "reason": "spam wave", **form}
            )
            assert response.status_code == 303, response.text

        now = instance.clock.now()

        async def send(activity: dict[str, Any]) -> None:
            response = await post_signed_http(
                http,
                instance.base + "/inbox",
                activity,
                key_id=alice + "#main-key",
                keypair=ALICE_KEY,
                now=instance.clock.now(),
            )
            assert response.status_code == 202, response.text

        # And Alice sends, signed over HTTP, a post with the keyword (in capitals)
        spam = _create(alice, 1, camille, text="Best CASINO in town", published=now.isoformat())
        await send(spam)
        # Then the worker ignores it, saying why, and does not store the post
        reason = await _wait_for(pool, spam["id"], "ignored")
        assert reason == "content policy keyword: contains “casino”"
        assert not await _stored(pool, spam["object"]["id"])

        # When she sends a post published two years ago
        old = _create(
            alice, 2, camille, text="Bonjour", published=(now - timedelta(days=730)).isoformat()
        )
        await send(old)
        # Then it is refused for its age
        reason = await _wait_for(pool, old["id"], "ignored")
        assert reason == "content policy object_age: published 730 days ago, more than 30"
        assert not await _stored(pool, old["object"]["id"])

        # And a post that breaks no rule is stored as usual
        fine = _create(alice, 3, camille, text="Bonjour camille", published=now.isoformat())
        await send(fine)
        await _wait_for(pool, fine["id"], "done")
        assert await _stored(pool, fine["object"]["id"])

        # When she, first seen here minutes ago, sends a post with a link
        linked = _create(
            alice,
            4,
            camille,
            text='Look <a href="https://shop.example/deal">here</a>',
            published=now.isoformat(),
        )
        await send(linked)
        # Then it is held: its row waits, the post is not stored
        reason = await _wait_for(pool, linked["id"], "held")
        assert reason is not None
        assert reason.startswith(
            "content policy new_actor_links: links (https://shop.example/deal)"
        )
        assert not await _stored(pool, linked["object"]["id"])

        # And the admin page shows the decisions with their reasons and the held post
        page = html.unescape((await browser.get("/admin/content")).text)
        assert "contains “casino”" in page
        assert "Best CASINO in town" in page
        assert "published 730 days ago, more than 30" in page
        held = re.search(r'name="held" value="(\d+)"', page)
        assert held is not None
        assert "Look here" in page

        # When the admin releases it
        token = await _token(browser, "/admin/content")
        response = await browser.post(
            "/admin/content",
            data={
                "csrf_token": token,
                "held": held.group(1),
                "decision": "release",
                "reason": "a known neighbour",
            },
        )
        assert response.status_code == 303, response.text
        # Then the worker processes it as usual and the post appears
        await _wait_for(pool, linked["id"], "done")
        assert await _stored(pool, linked["object"]["id"])
        page = html.unescape((await browser.get("/admin/content")).text)
        assert 'name="held"' not in page

        # And every change and the release are in the audit log, with the admin and the reason
        async with pool.acquire() as conn:
            entries = await conn.fetch(
                "SELECT actor_name, action, target, reason FROM audit_log ORDER BY id"
            )
        assert [tuple(entry) for entry in entries] == [
            ("root_admin", "content.configure", "keyword", "spam wave"),
            ("root_admin", "content.configure", "object_age", "spam wave"),
            ("root_admin", "content.configure", "new_actor_links", "spam wave"),
            ("root_admin", "content.release", linked["id"], "a known neighbour"),
        ]
        await browser.aclose()
