"""`fedicity moderation`: the queue and suspensions from the command line, each action in the
audit log as `cli:<user>`; a bad argument is one clean line, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

from fedicity.accounts import suspension
from fedicity.actors import queries as actor_queries
from fedicity.audit import queries as audit_queries
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys
from tests.test_cli import _assert_clean_failure, cli_env  # noqa: F401  (a fixture)
from tests.web.test_accounts_web import _register


async def test_the_queue_and_suspensions_from_the_command_line(
    pool: Pool,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    # Given bob, and a report another server sent about him
    await _register(pool, keygen, "bob")
    bob_uri = "http://fedicity.test/actors/bob"
    async with pool.acquire() as conn:
        await moderation_queries.insert_report(
            conn,
            activity_uri="https://social.invalid/flags/9",
            reporter="https://social.invalid/actor",
            targets=[bob_uri],
            content="harcèlement",
            raw={},
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
        number = (await moderation_queries.select_reports_page(conn, limit=1))[0].id
    # When the admin lists and reads the queue
    listed = await run_cli("moderation", "list", env=cli_env)
    assert listed.code == 0, listed
    assert f"{number}\t" in listed.stdout
    assert "harcèlement" in listed.stdout
    shown = await run_cli("moderation", "show", str(number), env=cli_env)
    assert shown.code == 0, shown
    assert "harcèlement" in shown.stdout
    assert f"actor {bob_uri}" in shown.stdout
    # And suspends bob, then dismisses the report
    result = await run_cli("moderation", "suspend", "@bob", "--reason", "menaces", env=cli_env)
    assert result.code == 0, result
    async with pool.acquire() as conn:
        bob = await actor_queries.select_actor_by_username(conn, "bob")
        assert bob is not None
        assert await suspension.is_suspended(conn, bob.id)
    result = await run_cli("moderation", "dismiss", str(number), "--reason", "vu", env=cli_env)
    assert result.code == 0, result
    assert (await run_cli("moderation", "list", env=cli_env)).stdout.strip() == ""
    # And lifts the suspension
    assert (await run_cli("moderation", "unsuspend", "bob", env=cli_env)).code == 0
    async with pool.acquire() as conn:
        assert not await suspension.is_suspended(conn, bob.id)
        entries = list(reversed(await audit_queries.select_page(conn, limit=10)))
    # Then every action is in the audit log, by the command line's user
    assert [(e.action, e.target, e.reason) for e in entries] == [
        ("account.suspend", bob_uri, "menaces"),
        ("report.resolve", f"report:{number}", "vu"),
        ("account.unsuspend", bob_uri, ""),
    ]
    assert all(e.actor_name.startswith("cli:") for e in entries)
    # And mistakes are one clean line
    _assert_clean_failure(await run_cli("moderation", "show", "999", env=cli_env), "999")
    _assert_clean_failure(
        await run_cli("moderation", "suspend", "nobody", env=cli_env), "no such account"
    )
    _assert_clean_failure(await run_cli("moderation", "unsuspend", "bob", env=cli_env), "not")
    _assert_clean_failure(
        await run_cli("moderation", "dismiss", str(number), env=cli_env), "already"
    )
