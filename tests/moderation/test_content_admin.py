"""The content rules page and `fedicity content-policy`: admins only, bad values refused by their
field with what was typed kept, every change in the audit log."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from quart import Quart

from fedicity.db.pool import Pool
from fedicity.moderation import content_queries
from fedicity.moderation.content import Decision
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.test_cli import cli_env  # noqa: F401  (cli_env is a fixture)
from tests.web.test_accounts_web import _csrf, _log_in, _register
from tests.web.test_admin import _admin_client, serving_app  # noqa: F401  (a fixture)


async def test_the_page_is_for_admins_only(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    await _register(pool, keygen, "citizen")
    client = serving_app.test_client()
    await _log_in(client, "citizen")
    assert (await client.get("/admin/content")).status_code == 403
    token = await _csrf(client, "/settings")
    response = await client.post(
        "/admin/content",
        form={"csrf_token": token, "policy": "keyword", "enabled": "on", "terms": "x"},
    )
    assert response.status_code == 403
    async with pool.acquire() as conn:
        assert (await content_queries.select_configs(conn))["keyword"].enabled is False


async def test_an_admin_sets_a_policy_and_bad_values_come_back_by_their_field(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    # (in English: French is the default)
    page = await (await client.get("/admin/content?lang=en")).get_data(as_text=True)
    assert 'aria-current="page">Content rules' in page
    token = await _csrf(client, "/admin/content")
    # When the admin types a number of days that is no number
    response = await client.post(
        "/admin/content",
        form={"csrf_token": token, "policy": "object_age", "enabled": "on", "amount": "9e99"},
    )
    # Then the page comes again (400) with the error by the field and the value kept
    assert response.status_code == 400
    page = await response.get_data(as_text=True)
    assert 'id="object_age-amount-error"' in page
    assert "Type a whole number within the bounds shown." in page
    assert 'value="9e99"' in page
    # And hostile hashtags are refused, shown escaped
    response = await client.post(
        "/admin/content",
        form={"csrf_token": token, "policy": "hashtag", "terms": "<script>alert(1)</script>"},
    )
    assert response.status_code == 400
    page = await response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # An unknown policy, or no CSRF token, is a precise 400
    response = await client.post("/admin/content", form={"csrf_token": token, "policy": "x"})
    assert response.status_code == 400
    response = await client.post("/admin/content", form={"policy": "keyword"})
    assert response.status_code == 400
    # A hold that does not exist, or a decision that is neither, neither
    for held, decision, status in (
        ("999", "release", 404),
        ("999", "delete", 400),
        ("-1", "release", 400),
        ("9" * 40, "release", 400),
    ):
        response = await client.post(
            "/admin/content", form={"csrf_token": token, "held": held, "decision": decision}
        )
        assert response.status_code == status, (held, decision)
    # When the values are good, they are saved, shown, and in the audit log
    response = await client.post(
        "/admin/content",
        form={
            "csrf_token": token,
            "policy": "keyword",
            "enabled": "on",
            "action": "flag",
            "terms": "Casino\nfree money",
            "reason": "spam wave",
        },
    )
    assert response.status_code == 303
    async with pool.acquire() as conn:
        keyword = (await content_queries.select_configs(conn))["keyword"]
        entry = await conn.fetchrow(
            "SELECT actor_name, action, target, reason, details FROM audit_log"
        )
    assert (keyword.enabled, keyword.action, keyword.terms) == (
        True,
        "flag",
        ("Casino", "free money"),
    )
    assert keyword.updated_by == "root_admin"
    assert entry is not None
    assert tuple(entry)[:4] == ("root_admin", "content.configure", "keyword", "spam wave")
    assert entry["details"]["terms"] == ["Casino", "free money"]
    page = html.unescape(await (await client.get("/admin/content")).get_data(as_text=True))
    assert "Casino\nfree money</textarea>" in page
    assert "Last changed by root_admin" in page
    # And the cursor of the decisions is checked
    assert (await client.get("/admin/content?before=x1")).status_code == 400


async def test_the_page_speaks_french(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    page = await (await client.get("/admin/content")).get_data(as_text=True)
    assert "Règles de contenu" in page
    assert "Liens de nouveaux comptes" in page


async def test_the_command_line_sets_lists_and_is_recorded(
    pool: Pool,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    result = await run_cli(
        "content-policy",
        "set",
        "keyword",
        "enabled=yes",
        "terms=casino, free money",
        "reason=spam wave",
        env=cli_env,
    )
    assert result.code == 0, result
    listed = await run_cli("content-policy", "list", env=cli_env)
    assert listed.code == 0, listed
    assert "keyword\ton\treject\tcasino, free money" in listed.stdout
    assert "actor_type\ton" in listed.stdout
    assert "object_age\toff\t30" in listed.stdout
    audit = await run_cli("audit", "list", env=cli_env)
    line = audit.stdout.strip().splitlines()[0].split("\t")
    assert line[2].startswith("cli:")
    assert line[3:] == ["content.configure", "keyword", "spam wave"]
    # Values that cannot be used are one line of error, and change nothing
    for bad in (
        ["object_age", "amount=-3"],
        ["object_age", "terms=x"],
        ["keyword", "colour=red"],
        ["keyword", "enabled=maybe"],
        ["hashtag", "terms=not a tag"],
    ):
        refused = await run_cli("content-policy", "set", *bad, env=cli_env)
        assert refused.code != 0, bad
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    decisions = await run_cli("content-policy", "decisions", "--held", env=cli_env)
    assert decisions.code == 0
    assert decisions.stdout == ""
    missing = await run_cli("content-policy", "release", "42", env=cli_env)
    assert missing.code != 0
    assert "no activity held with the number 42" in missing.stderr
    # Given a held activity, it is listed, and rejected from the command line
    async with pool.acquire() as conn:
        held = await content_queries.insert_decision(
            conn,
            Decision("hold", "new_actor_links", "links (https://x.example/)", "Look"),
            activity_uri="https://spam.example/activities/1",
            activity_type="Create",
            actor_uri="https://spam.example/users/s",
            object_uri="https://spam.example/notes/1",
            inbox_item_id=None,
            now=datetime.now(UTC),
        )
    decisions = await run_cli("content-policy", "decisions", "--held", env=cli_env)
    fields = decisions.stdout.strip().split("\t")
    assert fields[0] == str(held)
    assert fields[2:] == [
        "new_actor_links",
        "held",
        "https://spam.example/users/s",
        "https://spam.example/activities/1",
        "links (https://x.example/)",
    ]
    rejected = await run_cli("content-policy", "reject", str(held), "--reason", "spam", env=cli_env)
    assert rejected.code == 0, rejected
    audit = await run_cli("audit", "list", env=cli_env)
    line = audit.stdout.strip().splitlines()[0].split("\t")
    assert line[3:] == ["content.reject", "https://spam.example/activities/1", "spam"]
    assert (await run_cli("content-policy", "decisions", "--held", env=cli_env)).stdout == ""
