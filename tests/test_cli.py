"""The `fedicity` command against the test database: the installed console script run as a
subprocess where the entry point itself is tested (help, version, usage errors, a clean failure,
a password on stdin), and a fork of a process that imported it (tests/cli_fork.py) where what a
command does is tested."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import asyncpg
import pytest

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.cli.demo import CITIZENS, DEMO_ADMIN, DEMO_PASSWORD, ORGANIZATIONS
from fedicity.clock import FrozenClock
from fedicity.db.migrate import applied_versions, discover
from fedicity.db.pool import Pool
from tests import cli_fork
from tests.cli_fork import Result
from tests.conftest import _with_database

FEDICITY = Path(sys.executable).parent / "fedicity"


@pytest.fixture
def cli_env(database_dsn: str, tmp_path: Path) -> dict[str, str]:
    """An environment pointing the command at the test database and a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDICITY_")}
    env.update(
        FEDICITY_DATABASE_URL=database_dsn,
        FEDICITY_DATA_DIR=str(tmp_path / "data"),
        FEDICITY_BASE_URL="http://fedicity.test",
    )
    return env


async def run_cli(*args: str, env: Mapping[str, str], stdin: str | None = None) -> Result:
    """Run the console script to completion."""
    process = await asyncio.create_subprocess_exec(
        str(FEDICITY),
        *args,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(None if stdin is None else stdin.encode()), timeout=60
    )
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def _assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit 1 with one `fedicity: reason` line on stderr, no traceback."""
    assert result.code == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fedicity: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_console_script_is_installed() -> None:
    assert FEDICITY.is_file()
    assert os.access(FEDICITY, os.X_OK)


# --- --help ----------------------------------------------------------------------------------

COMMANDS = [
    [],
    ["run"],
    ["web"],
    ["worker"],
    ["migrate"],
    ["demo"],
    ["user"],
    ["user", "create"],
    ["user", "list"],
    ["user", "set-password"],
    ["org"],
    ["org", "create"],
    ["queue"],
    ["queue", "stats"],
    ["stats"],
]


async def test_help_of_every_command_exits_zero(cli_env: dict[str, str]) -> None:
    # When --help is asked of every command and subcommand (all at once)
    results = await asyncio.gather(
        *(cli_fork.run_cli(*cmd, "--help", env=cli_env) for cmd in COMMANDS)
    )
    # Then each prints its usage and succeeds
    for command, result in zip(COMMANDS, results, strict=True):
        assert result.code == 0, (command, result)
        assert result.stdout.startswith(f"usage: {' '.join(['fedicity', *command])}"), command
        assert result.stderr == ""


async def test_help_does_not_need_valid_settings(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "FEDICITY_BASE_URL": "not a url"}
    result = await run_cli("user", "create", "--help", env=env)
    assert result.code == 0
    assert "--password" in result.stdout
    assert "--admin" in result.stdout


async def test_version_is_printed(cli_env: dict[str, str]) -> None:
    from fedicity import __version__

    result = await run_cli("--version", env=cli_env)
    assert result.code == 0
    assert result.stdout.strip() == f"fedicity {__version__}"


async def test_missing_command_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = await run_cli(env=cli_env)
    assert result.code == 2
    assert "usage: fedicity" in result.stderr


# --- user ------------------------------------------------------------------------------------


async def test_user_create_then_list(pool: Pool, cli_env: dict[str, str]) -> None:
    # When an admin and a citizen are created from the command line
    admin = await cli_fork.run_cli(
        "user",
        "create",
        "Maire",
        "--password",
        "a long admin password",
        "--admin",
        "--email",
        "maire@ville.example",
        "--display-name",
        "La Maire",
        env=cli_env,
    )
    citizen = await cli_fork.run_cli(
        "user", "create", "camille", "--password", "long enough", env=cli_env
    )
    # Then each reports its handle on this instance
    assert admin.code == 0, admin
    assert admin.stdout.strip() == "created admin @maire@fedicity.test"
    assert citizen.code == 0, citizen
    assert citizen.stdout.strip() == "created citizen @camille@fedicity.test"
    # And the list shows them with their role and e-mail, in creation order
    listing = await cli_fork.run_cli("user", "list", env=cli_env)
    assert listing.code == 0, listing
    assert listing.stdout.splitlines() == [
        "maire\tadmin\tmaire@ville.example",
        "camille\tcitizen\t-",
    ]
    # And the accounts really exist, with working passwords
    async with pool.acquire() as conn:
        account = await accounts.authenticate(pool, "maire", "a long admin password", FrozenClock())
        assert account is not None
        assert account.is_admin is True
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    assert actor.display_name == "La Maire"
    # And the audit log names the operator for each, the admin's creation apart
    async with pool.acquire() as conn:
        entries = await conn.fetch("SELECT actor_name, action, target FROM audit_log ORDER BY id")
    assert [(e["action"], e["target"]) for e in entries] == [
        ("account.create_admin", "maire"),
        ("account.create", "camille"),
    ]
    assert all(e["actor_name"].startswith("cli:") for e in entries)


async def test_user_list_of_an_empty_instance_prints_nothing(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    result = await cli_fork.run_cli("user", "list", env=cli_env)
    assert result.code == 0, result
    assert result.stdout == ""


async def test_user_create_reads_the_password_from_stdin(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    result = await run_cli("user", "create", "yanis", env=cli_env, stdin="piped password\n")
    assert result.code == 0, result
    assert await accounts.authenticate(pool, "yanis", "piped password", FrozenClock())


@pytest.mark.parametrize(
    ("name", "reason"),
    [("Bad-Name", "a username has 1 to 30 characters"), ("admin", "reserved")],
)
async def test_user_create_with_a_bad_username_fails_in_one_line(
    pool: Pool, cli_env: dict[str, str], name: str, reason: str
) -> None:
    result = await run_cli("user", "create", name, "--password", "long enough", env=cli_env)
    _assert_clean_failure(result, reason)
    async with pool.acquire() as conn:
        assert await account_queries.count_accounts(conn) == 0


async def test_user_create_with_a_short_password_fails_in_one_line(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    result = await cli_fork.run_cli("user", "create", "camille", "--password", "short", env=cli_env)
    _assert_clean_failure(result, "8 to 1024 characters")


async def test_user_create_of_a_taken_name_fails_in_one_line(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    first = await cli_fork.run_cli(
        "user", "create", "camille", "--password", "long enough", env=cli_env
    )
    assert first.code == 0, first
    again = await cli_fork.run_cli(
        "user", "create", "CAMILLE", "--password", "long enough", env=cli_env
    )
    _assert_clean_failure(again, "already taken")


async def test_user_set_password(pool: Pool, cli_env: dict[str, str]) -> None:
    # Given an account made from the command line
    created = await cli_fork.run_cli(
        "user", "create", "camille", "--password", "first password", env=cli_env
    )
    assert created.code == 0, created
    # When its password is changed from the command line
    changed = await cli_fork.run_cli(
        "user", "set-password", "Camille", "--password", "second password", env=cli_env
    )
    # Then the command says so and only the new password works
    assert changed.code == 0, changed
    assert changed.stdout.strip() == "password changed for @camille"
    clock = FrozenClock()
    assert await accounts.authenticate(pool, "camille", "first password", clock) is None
    account = await accounts.authenticate(pool, "camille", "second password", clock)
    assert account is not None
    assert account.session_epoch == 1


async def test_user_set_password_of_an_unknown_account_fails(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    result = await cli_fork.run_cli(
        "user", "set-password", "nobody", "--password", "whatever!", env=cli_env
    )
    _assert_clean_failure(result, "no account named 'nobody'")


# --- org -------------------------------------------------------------------------------------


async def test_org_create(pool: Pool, cli_env: dict[str, str]) -> None:
    result = await cli_fork.run_cli(
        "org",
        "create",
        "Mairie",
        "--kind",
        "local_government",
        "--display-name",
        "Mairie de Montreuil",
        "--summary",
        "Compte officiel",
        env=cli_env,
    )
    assert result.code == 0, result
    assert result.stdout.strip() == "created local_government @mairie@fedicity.test"
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "mairie")
        # An organisation has no login
        assert await account_queries.count_accounts(conn) == 0
    assert actor is not None
    assert actor.kind == "organization"
    assert actor.organization_kind == "local_government"
    assert actor.display_name == "Mairie de Montreuil"
    assert actor.summary == "Compte officiel"


async def test_org_create_refuses_an_unknown_kind(pool: Pool, cli_env: dict[str, str]) -> None:
    result = await cli_fork.run_cli("org", "create", "club", "--kind", "church", env=cli_env)
    assert result.code == 2
    assert "invalid choice" in result.stderr
    async with pool.acquire() as conn:
        assert await actor_queries.select_actor_by_username(conn, "club") is None


async def test_org_create_with_a_reserved_name_fails_in_one_line(
    pool: Pool, cli_env: dict[str, str]
) -> None:
    result = await cli_fork.run_cli("org", "create", "official", "--kind", "company", env=cli_env)
    _assert_clean_failure(result, "reserved")


# --- demo ------------------------------------------------------------------------------------


async def test_demo_seeds_once_and_prints_the_admin_login(
    pool: Pool, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # When the demo is seeded
    first = await cli_fork.run_cli("demo", env=cli_env)
    # Then it reports each thing it created and the admin login
    assert first.code == 0, first
    password = (tmp_path / "data" / "demo-admin-password").read_text().strip()
    created = [line for line in first.stdout.splitlines() if line.startswith("created ")]
    assert len(created) == 1 + len(CITIZENS) + len(ORGANIZATIONS)
    assert f"Admin login: {DEMO_ADMIN} / {password}" in first.stdout.splitlines()
    assert "Demo instance: http://fedicity.test" in first.stdout.splitlines()
    async with pool.acquire() as conn:
        actors_after_first: int = await conn.fetchval("SELECT count(*) FROM actors")
    # When it is seeded again
    second = await cli_fork.run_cli("demo", env=cli_env)
    # Then nothing new is created and the same admin login is printed
    assert second.code == 0, second
    assert [line for line in second.stdout.splitlines() if line.startswith("created ")] == []
    assert f"Admin login: {DEMO_ADMIN} / {password}" in second.stdout.splitlines()
    clock = FrozenClock()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM actors") == actors_after_first
        # the instance actor, the admin, the citizens and the organisations
        assert actors_after_first == 2 + len(CITIZENS) + len(ORGANIZATIONS)
        # And the printed login works, as do the published citizen logins
        admin = await accounts.authenticate(pool, DEMO_ADMIN, password, clock)
        assert admin is not None
        assert admin.is_admin is True
        assert await accounts.authenticate(pool, CITIZENS[0][0], DEMO_PASSWORD, clock)


# --- migrate ---------------------------------------------------------------------------------


async def test_migrate_on_an_up_to_date_database(pool: Pool, cli_env: dict[str, str]) -> None:
    result = await cli_fork.run_cli("migrate", env=cli_env)
    assert result.code == 0, result
    assert result.stdout.strip() == "database schema is up to date"


@pytest.fixture
async def empty_database_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped after the test."""
    name = f"fedicity_cli_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(pg_server_dsn, name)
    finally:
        admin = await asyncpg.connect(pg_server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_migrate_brings_an_empty_database_up_to_date(
    cli_env: dict[str, str], empty_database_dsn: str
) -> None:
    # When `fedicity migrate` runs on an empty database
    env = {**cli_env, "FEDICITY_DATABASE_URL": empty_database_dsn}
    result = await cli_fork.run_cli("migrate", env=env)
    # Then it logs each migration it applied and every one is recorded
    assert result.code == 0, result
    for migration in discover():
        assert f"applied migration {migration.version:04d}_{migration.name}" in result.stderr
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        assert await applied_versions(conn) == [m.version for m in discover()]
    finally:
        await conn.close()


async def test_commands_refuse_a_database_ahead_of_the_code(
    cli_env: dict[str, str], empty_database_dsn: str
) -> None:
    # Given a database a newer release migrated further
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute("INSERT INTO schema_migrations VALUES (999, 'future')")
    finally:
        await conn.close()
    # When a command runs on it, then it stops with a one-line reason
    env = {**cli_env, "FEDICITY_DATABASE_URL": empty_database_dsn}
    _assert_clean_failure(await cli_fork.run_cli("user", "list", env=env), "schema version 999")


# --- bad settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["demo"],
        ["user", "list"],
        ["user", "create", "camille", "--password", "long enough"],
        ["user", "set-password", "camille", "--password", "long enough"],
        ["org", "create", "mairie", "--kind", "local_government"],
    ],
)
async def test_invalid_base_url_stops_every_command(
    pool: Pool, cli_env: dict[str, str], command: list[str]
) -> None:
    env = {**cli_env, "FEDICITY_BASE_URL": "ftp://ville.example/path"}
    result = await cli_fork.run_cli(*command, env=env)
    _assert_clean_failure(result, "FEDICITY_BASE_URL")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM actors") == 0


async def test_invalid_database_url_is_named(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "FEDICITY_DATABASE_URL": "mysql://db.internal/fedicity"}
    _assert_clean_failure(await run_cli("migrate", env=env), "FEDICITY_DATABASE_URL")


async def test_policy_trust_votes_then_distrust(pool: Pool, cli_env: dict[str, str]) -> None:
    result = await cli_fork.run_cli(
        "policy", "trust-votes", "https://Commune.Example.org/", env=cli_env
    )
    assert result.code == 0, result
    assert result.stdout.strip() == "commune.example.org: votes counted in every proposal's result"
    listed = await cli_fork.run_cli("policy", "list", env=cli_env)
    assert "commune.example.org\ttrust-votes" in listed.stdout
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT domain FROM vote_trusted_domains") == (
            "commune.example.org"
        )
    result = await cli_fork.run_cli("policy", "distrust-votes", "commune.example.org", env=cli_env)
    assert result.stdout.strip() == "commune.example.org: votes no longer counted"
    _assert_clean_failure(
        await cli_fork.run_cli("policy", "trust-votes", "not a server", env=cli_env),
        "not a server name",
    )
