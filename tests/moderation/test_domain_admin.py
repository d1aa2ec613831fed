"""/admin/domains, /about/federation, Mastodon's domain_blocks JSON and NodeInfo's federation
metadata; a report from a domain that rejects reports; an image from one that rejects media."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from quart import Quart
from quart.datastructures import FileStorage

from fedicity.actors.models import Actor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import domains
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import domain_digest
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbound.test_handlers import (  # noqa: F401  (fixtures)
    CAMILLE,
    Inbox,
    activity,
    camille,
    inbox,
)
from tests.search import helpers as search_helpers
from tests.web.test_accounts_web import _csrf, _log_in, _register
from tests.web.test_admin import _admin_client, serving_app  # noqa: F401  (a fixture)

KEY = fixed_keypairs()[1]
FIXTURE = Path(__file__).parent.parent / "fixtures" / "moderation" / "mastodon_domain_blocks.csv"


async def _audit(pool: Pool) -> list[tuple[str, str, str, str]]:
    async with pool.acquire() as conn:
        entries = await audit_queries.select_page(conn, limit=50)
    return [(e.actor_name, e.action, e.target, e.reason) for e in reversed(entries)]


async def test_an_admin_sets_edits_and_lifts_a_policy(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    token = await _csrf(client, "/admin/domains")
    # When the admin silences *.Noisy.Example, rejecting its reports, with both comments
    response = await client.post(
        "/admin/domains",
        form={
            "csrf_token": token,
            "domain": "*.Noisy.Example",
            "action": "silence",
            "reject_media": "off",
            "reject_reports": "on",
            "public_comment": "Floods of bot posts",
            "reason": "ticket 42",
        },
    )
    assert response.status_code == 303
    # Then the policy is stored on the domain itself, covering its subdomains, and listed
    async with pool.acquire() as conn:
        policy = await moderation_queries.select_domain_policy(conn, "a.noisy.example")
    assert policy is not None
    assert (policy.domain, policy.action, policy.reject_reports, policy.reject_media) == (
        "noisy.example",
        "silence",
        True,
        False,
    )
    assert (policy.public_comment, policy.reason) == ("Floods of bot posts", "ticket 42")
    page = await (await client.get("/admin/domains")).get_data(as_text=True)
    assert "noisy.example" in page
    assert "Floods of bot posts" in page
    # And the edit form comes back filled in
    edit = await (await client.get("/admin/domains?domain=noisy.example")).get_data(as_text=True)
    assert 'value="noisy.example"' in edit
    assert '<option value="silence" selected>' in edit
    # When it is lifted, with a reason
    lifted = await client.post(
        "/admin/domains/lift",
        form={"csrf_token": token, "domain": "noisy.example", "reason": "calmer now"},
    )
    assert "notice=lifted" in lifted.headers["Location"]
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policy(conn, "noisy.example") is None
    # Then both changes are in the audit log, with who and why
    assert await _audit(pool) == [
        ("root_admin", "domain.silence", "noisy.example", "ticket 42"),
        ("root_admin", "domain.lift", "noisy.example", "calmer now"),
    ]


async def test_a_bad_form_comes_back_with_the_error_by_its_field(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    token = await _csrf(client, "/admin/domains")
    for form, field, typed in (
        ({"domain": "javascript:alert(1)", "action": "suspend"}, "domain", "javascript:alert(1)"),
        ({"domain": "ok.example", "action": "obliterate"}, "action", "ok.example"),
        ({"domain": "ok.example", "action": "noop"}, "action", "ok.example"),
        (
            {"domain": "ok.example", "action": "silence", "public_comment": "<b>" * 400},
            "public_comment",
            "ok.example",
        ),
    ):
        response = await client.post("/admin/domains", form={"csrf_token": token, **form})
        assert response.status_code == 400, form
        page = await response.get_data(as_text=True)
        assert f'id="{field}-error"' in page, form
        assert typed.replace('"', "&#34;") in page or typed in page
        assert "<b><b>" not in page
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policies(conn, limit=10) == []
    assert await _audit(pool) == []
    # And without the CSRF token nothing happens
    forged = await client.post("/admin/domains", form={"domain": "x.example", "action": "suspend"})
    assert forged.status_code == 400
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policy(conn, "x.example") is None


async def test_only_admins_reach_the_page(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    await _register(pool, keygen, "citizen")
    client = serving_app.test_client()
    await _log_in(client, "citizen")
    assert (await client.get("/admin/domains")).status_code == 403
    assert (await client.get("/admin/domains.csv")).status_code == 403
    token = await _csrf(client, "/settings")
    refused = await client.post(
        "/admin/domains", form={"csrf_token": token, "domain": "x.example", "action": "suspend"}
    )
    assert refused.status_code == 403
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policy(conn, "x.example") is None


async def test_a_mastodon_csv_uploaded_then_downloaded_is_the_same(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    token = await _csrf(client, "/admin/domains")
    data = FIXTURE.read_bytes()

    async def upload(dry_run: bool) -> str:
        form = {"csrf_token": token, **({"dry_run": "on"} if dry_run else {})}
        response = await client.post(
            "/admin/domains/import",
            form=form,
            files={"csv": FileStorage(io.BytesIO(data), "blocks.csv", content_type="text/csv")},
        )
        assert response.status_code == 200
        return await response.get_data(as_text=True)

    # A dry run says what would change and saves nothing
    dry = await upload(dry_run=True)
    assert "gab.example" in dry
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policies(conn, limit=10) == []
    # The import applies it, once in the audit log; the export is the file that came in
    await upload(dry_run=False)
    exported = await client.get("/admin/domains.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert await exported.get_data(as_text=True) == FIXTURE.read_text()
    assert [entry[1] for entry in await _audit(pool)] == ["domain.import"]
    # A file that is not UTF-8 is refused by the field
    response = await client.post(
        "/admin/domains/import",
        form={"csrf_token": token},
        files={"csv": FileStorage(io.BytesIO(b"\xff\xfe\x00x"), "x.csv")},
    )
    assert response.status_code == 400
    assert 'id="csv-error"' in await response.get_data(as_text=True)


async def test_the_public_page_json_and_nodeinfo_publish_the_policies(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
) -> None:
    async with pool.acquire() as conn:
        for entry, reason in (
            (domains.checked_entry("secret.example", "suspend", obfuscate=True), "private"),
            (
                domains.checked_entry("loud.example", "silence", public_comment="<i>bots</i>"),
                "",
            ),
            (domains.checked_entry("friend.example", "allow"), ""),
        ):
            await domains.set_policy(conn, cli_actor(), entry, reason=reason, now=_now())
    client = serving_app.test_client()
    # The page, for anyone: the obfuscated name, never the private comment, HTML escaped
    page = await (await client.get("/about/federation")).get_data(as_text=True)
    assert "secr**.****ple" in page
    assert "secret.example" not in page
    assert "private" not in page
    assert "&lt;i&gt;bots&lt;/i&gt;" in page
    assert "friend.example" not in page
    # Mastodon's JSON
    blocks = await (await client.get("/api/v1/instance/domain_blocks")).get_json()
    assert blocks == [
        {
            "domain": "loud.example",
            "digest": domain_digest("loud.example"),
            "severity": "silence",
            "comment": "<i>bots</i>",
        },
        {
            "domain": "secr**.****ple",
            "digest": domain_digest("secret.example"),
            "severity": "suspend",
            "comment": "",
        },
    ]
    # NodeInfo, as Pleroma publishes its SimplePolicy (the obfuscated one left out)
    nodeinfo = await (await client.get("/nodeinfo/2.1")).get_json()
    federation = nodeinfo["metadata"]["federation"]
    assert federation["mrf_simple"]["federated_timeline_removal"] == ["loud.example"]
    assert federation["mrf_simple"]["reject"] == []
    assert federation["exclusions"] is True


async def test_a_report_from_a_domain_that_rejects_reports_is_ignored_with_the_reason(
    inbox: Inbox,  # noqa: F811
    pool: Pool,
    camille: Actor,  # noqa: F811
) -> None:
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("social.invalid", "noop", reject_reports=True),
            reason="",
            now=_now(),
        )
    processed = await inbox.receive(activity("Flag", [CAMILLE], content="Report spam"))
    assert processed.state == "ignored"
    assert processed.detail is not None
    assert "rejected by the instance's policy" in processed.detail
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 0


def _now() -> datetime:
    return FrozenClock().now()


async def test_a_silenced_domains_posts_are_out_of_tag_pages_and_search_until_lifted(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
) -> None:
    # Given a public tagged post from a silenced domain, and one from a domain in good standing
    for author, text in (
        ("https://loud.example/users/bot", "Potager gratuit, cliquez"),
        ("https://calm.example/users/ana", "Potager partagé samedi"),
    ):
        await search_helpers.remote_actor(pool, KEY, author, author.rsplit("/", 1)[1], "Someone")
        made = await search_helpers.post(pool, text, author=author)
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO post_tags (post_id, tag) VALUES ($1, 'potager')", made.id
            )
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("loud.example", "silence"),
            reason="",
            now=_now(),
        )
    client = serving_app.test_client()

    async def shown(path: str) -> tuple[bool, bool]:
        page = await (await client.get(path, headers={"Accept": "text/html"})).get_data(
            as_text=True
        )
        return "cliquez" in page, "samedi" in page

    # Then the tag page and the search show only the other one
    assert await shown("/tags/potager") == (False, True)
    assert await shown("/search?q=potager") == (False, True)
    # And lifting the silence shows it again on the next request
    async with pool.acquire() as conn:
        await domains.lift_policy(conn, cli_actor(), "loud.example", reason="", now=_now())
    assert await shown("/tags/potager") == (True, True)
    assert await shown("/search?q=potager") == (True, True)


async def test_a_typed_address_of_a_suspended_domain_is_refused_even_when_we_kept_it(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
) -> None:
    # Given an actor we keep from a domain, then suspended
    kept = "https://kept.example/users/kim"
    await search_helpers.remote_actor(pool, KEY, kept, "kim", "Kim Kept")
    client = serving_app.test_client()
    html = {"Accept": "text/html"}
    found = await client.get(f"/search?q={kept}", headers=html)
    assert "Kim Kept" in await found.get_data(as_text=True)
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("kept.example", "suspend"),
            reason="",
            now=_now(),
        )
    # When someone types its address or its handle, the instance says it does not federate
    for typed in (kept, "@kim@kept.example"):
        answer = await client.get("/search", query_string={"q": typed}, headers=html)
        assert answer.status_code == 403, typed
        page = await answer.get_data(as_text=True)
        assert "Kim Kept" not in page
