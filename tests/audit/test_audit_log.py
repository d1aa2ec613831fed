"""The audit log: an admin's action through the page and through the command line is recorded
(who, what, when, why), shown to admins only, and exported whole as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from quart import Quart

from fedicity.audit import queries as audit_queries
from fedicity.audit.models import SYSTEM, account_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.test_cli import cli_env  # noqa: F401  (cli_env is a fixture)
from tests.web.test_accounts_web import _csrf, _log_in, _register
from tests.web.test_admin import _admin_client, serving_app  # noqa: F401  (a fixture)


async def test_an_admins_domain_suspension_is_in_the_log_and_its_export(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    # When the admin suspends a domain, giving a reason a spreadsheet would read as a formula
    token = await _csrf(client, "/admin/domains")
    response = await client.post(
        "/admin/domains",
        form={
            "csrf_token": token,
            "action": "suspend",
            "domain": "spam.example",
            "reason": '=HYPERLINK("x") spam waves',
        },
    )
    assert response.status_code == 303
    # Then the log page names who did what to which domain, and why
    page = await (await client.get("/admin/audit")).get_data(as_text=True)
    assert "root_admin" in page
    assert "domain.suspend" in page
    assert "spam.example" in page
    assert "=HYPERLINK(&#34;x&#34;) spam waves" in page
    # And the export is a CSV with a header, the formula made text
    export = await client.get("/admin/audit.csv")
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await export.get_data(as_text=True))))
    assert [(r["who"], r["action"], r["target"]) for r in rows] == [
        ("root_admin", "domain.suspend", "spam.example")
    ]
    assert rows[0]["reason"] == '\'=HYPERLINK("x") spam waves'
    # And one area alone can be read
    other = await (await client.get("/admin/audit?area=registration")).get_data(as_text=True)
    assert "spam.example" not in other


async def test_the_log_is_for_admins_only(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
) -> None:
    await _register(pool, keygen, "citizen")
    client = serving_app.test_client()
    await _log_in(client, "citizen")
    assert (await client.get("/admin/audit")).status_code == 403
    assert (await client.get("/admin/audit.csv")).status_code == 403
    anonymous = serving_app.test_client()
    assert (await anonymous.get("/admin/audit.csv")).status_code in (302, 303, 401, 403)


async def test_the_log_pages_by_id_and_refuses_a_forged_cursor(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    async with pool.acquire() as conn:
        admin_id = await conn.fetchval(
            """SELECT accounts.id FROM accounts JOIN actors ON actors.id = accounts.actor_id
                WHERE actors.username = 'root_admin'"""
        )
        for number in range(60):
            await audit_queries.record(
                conn,
                account_actor(admin_id, "root_admin"),
                "domain.silence",
                target=f"d{number:02d}.example",
                now=clock.now(),
            )
        await audit_queries.record(conn, SYSTEM, "blocklist.sync", now=clock.now())
    first = await (await client.get("/admin/audit")).get_data(as_text=True)
    assert "blocklist.sync" in first
    assert "d59.example" in first
    assert "d10.example" not in first
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = await (await client.get(older)).get_data(as_text=True)
    assert "d09.example" in second
    assert "d59.example" not in second
    assert (await client.get("/admin/audit?before=x1")).status_code == 400


async def test_the_command_line_is_recorded_by_its_user(
    pool: Pool,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    result = await run_cli(
        "policy", "suspend", "bad.example", "--reason", "harassment", env=cli_env
    )
    assert result.code == 0, result
    listed = await run_cli("audit", "list", env=cli_env)
    assert listed.code == 0, listed
    line = listed.stdout.strip().splitlines()[0].split("\t")
    assert line[2].startswith("cli:")
    assert line[3:] == ["domain.suspend", "bad.example", "harassment"]
    exported = await run_cli("audit", "export", env=cli_env)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["action"] for r in rows] == ["domain.suspend"]


async def test_an_unknown_action_code_is_a_programming_error(
    pool: Pool, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="Suspend Domain"):
            await audit_queries.record(conn, SYSTEM, "Suspend Domain", now=clock.now())
