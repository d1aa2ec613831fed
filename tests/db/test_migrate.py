"""The migration runner: file discovery, applying in order, idempotence, refusals and rollback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from fedicity.db.migrate import MIGRATIONS_DIR, MigrationError, applied_versions, discover, migrate
from fedicity.db.pool import connect
from tests.conftest import _with_database


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


@pytest.fixture
async def scratch_conn(pg_server_dsn: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection to a brand-new empty database, dropped after the test."""
    name = f"fedicity_scratch_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await connect(_with_database(pg_server_dsn, name))
    try:
        yield conn
    finally:
        await conn.close()
        admin = await asyncpg.connect(pg_server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _table_exists(conn: asyncpg.Connection[asyncpg.Record], table: str) -> bool:
    exists: bool = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
    return exists


# --- discover() ------------------------------------------------------------------------------


def test_discover_returns_migrations_in_version_order(tmp_path: Path) -> None:
    # Given files written out of order, next to files that are not migrations
    directory = _write(
        tmp_path,
        {
            "0003_third.sql": "SELECT 3;",
            "0001_first.sql": "SELECT 1;",
            "0002_second_step.sql": "SELECT 2;",
            "README.md": "not a migration",
        },
    )
    # When they are discovered
    found = discover(directory)
    # Then they come back numbered and named, in order
    assert [(m.version, m.name) for m in found] == [
        (1, "first"),
        (2, "second_step"),
        (3, "third"),
    ]
    assert [m.path for m in found] == [
        directory / "0001_first.sql",
        directory / "0002_second_step.sql",
        directory / "0003_third.sql",
    ]


def test_discover_of_an_empty_folder_is_empty(tmp_path: Path) -> None:
    assert discover(tmp_path) == []


def test_discover_orders_past_version_nine(tmp_path: Path) -> None:
    directory = _write(tmp_path, {f"{n:04d}_step{n}.sql": "SELECT 1;" for n in range(1, 12)})
    assert [m.version for m in discover(directory)] == list(range(1, 12))


@pytest.mark.parametrize(
    "bad_name",
    [
        "1_init.sql",
        "0002-init.sql",
        "0002_Init.sql",
        "0002_init-users.sql",
        "0002.sql",
        "0002_.sql",
        "init.sql",
    ],
)
def test_discover_refuses_a_badly_named_file(tmp_path: Path, bad_name: str) -> None:
    directory = _write(tmp_path, {"0001_init.sql": "SELECT 1;", bad_name: "SELECT 2;"})
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql") as raised:
        discover(directory)
    assert bad_name in str(raised.value)


def test_discover_refuses_a_gap_in_numbering(tmp_path: Path) -> None:
    directory = _write(tmp_path, {"0001_init.sql": "SELECT 1;", "0003_later.sql": "SELECT 3;"})
    with pytest.raises(MigrationError, match=r"0003_later\.sql should be numbered 0002"):
        discover(directory)


def test_discover_refuses_history_not_starting_at_one(tmp_path: Path) -> None:
    directory = _write(tmp_path, {"0002_second.sql": "SELECT 2;"})
    with pytest.raises(MigrationError, match="should be numbered 0001"):
        discover(directory)


def test_discover_refuses_two_files_with_the_same_number(tmp_path: Path) -> None:
    directory = _write(tmp_path, {"0001_init.sql": "SELECT 1;", "0001_other.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="should be numbered 0002"):
        discover(directory)


def test_the_shipped_migrations_are_well_formed() -> None:
    found = discover()
    assert found[0].version == 1
    assert found[0].name == "init"
    assert all(m.path.parent == MIGRATIONS_DIR for m in found)


# --- migrate() -------------------------------------------------------------------------------


async def test_migrate_applies_every_migration_to_a_fresh_database(
    scratch_conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # Given an empty database
    assert await applied_versions(scratch_conn) == []
    # When it is migrated with the shipped migrations
    applied = await migrate(scratch_conn)
    # Then all of them ran and are recorded with their names
    shipped = discover()
    assert applied == shipped
    rows = await scratch_conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in shipped]
    assert await applied_versions(scratch_conn) == [m.version for m in shipped]
    # And the schema they describe exists
    for table in ("actors", "accounts", "instance_config"):
        assert await _table_exists(scratch_conn, table)


async def test_migrate_twice_applies_nothing_the_second_time(
    scratch_conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # Given a database migrated once
    await migrate(scratch_conn)
    before = await scratch_conn.fetch("SELECT version, applied_at FROM schema_migrations")
    # When it is migrated again
    applied = await migrate(scratch_conn)
    # Then nothing ran and the records are untouched
    assert applied == []
    after = await scratch_conn.fetch("SELECT version, applied_at FROM schema_migrations")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert await scratch_conn.fetchval("SELECT count(*) FROM instance_config") == 1


async def test_migrate_applies_only_the_new_migrations(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a database migrated with the first migration of a history
    directory = _write(tmp_path, {"0001_notes.sql": "CREATE TABLE notes (id int);"})
    assert [m.version for m in await migrate(scratch_conn, directory)] == [1]
    # When the code gains a second migration and migrates again
    _write(directory, {"0002_tags.sql": "CREATE TABLE tags (id int);"})
    applied = await migrate(scratch_conn, directory)
    # Then only the second one runs
    assert [(m.version, m.name) for m in applied] == [(2, "tags")]
    assert await applied_versions(scratch_conn) == [1, 2]
    assert await _table_exists(scratch_conn, "tags")


async def test_migrate_refuses_a_database_ahead_of_the_code(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a database that a newer release migrated to version 2
    newer = _write(
        tmp_path / "newer",
        {"0001_notes.sql": "CREATE TABLE notes (id int);", "0002_tags.sql": "CREATE TABLE tags();"},
    )
    await migrate(scratch_conn, newer)
    # When an older release that only knows version 1 migrates it
    older = _write(tmp_path / "older", {"0001_notes.sql": "CREATE TABLE notes (id int);"})
    with pytest.raises(MigrationError, match=r"schema version 2 .* only knows up to 1"):
        await migrate(scratch_conn, older)
    # Then the database is left as it was
    assert await applied_versions(scratch_conn) == [1, 2]


async def test_migrate_refuses_a_recorded_version_unknown_to_the_code(
    scratch_conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # Given a database migrated by this code, then recorded at a version from the future
    await migrate(scratch_conn)
    future = len(discover()) + 1
    await scratch_conn.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", future
    )
    # When this code migrates it, then it refuses
    with pytest.raises(MigrationError, match=f"schema version {future}"):
        await migrate(scratch_conn)


async def test_failing_migration_rolls_back_entirely(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a good first migration and a second that creates a table, then fails
    directory = _write(
        tmp_path,
        {
            "0001_notes.sql": "CREATE TABLE notes (id int);",
            "0002_broken.sql": """
                CREATE TABLE half_done (id int);
                INSERT INTO half_done VALUES (1);
                SELECT 1 / 0;
            """,
            "0003_never.sql": "CREATE TABLE never_reached (id int);",
        },
    )
    # When the database is migrated
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(scratch_conn, directory)
    # Then the failing migration left nothing behind and was not recorded
    assert not await _table_exists(scratch_conn, "half_done")
    assert await applied_versions(scratch_conn) == [1]
    # And the ones before it stay applied, the ones after it never ran
    assert await _table_exists(scratch_conn, "notes")
    assert not await _table_exists(scratch_conn, "never_reached")
    # And the connection is usable again, with the advisory lock released
    held = await scratch_conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    assert held == 0


async def test_migration_changes_and_its_record_commit_together(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a migration whose SQL succeeds but whose recording then fails
    # (it records its own version, so the runner's INSERT collides)
    directory = _write(
        tmp_path,
        {
            "0001_sneaky.sql": """
                CREATE TABLE half_done (id int);
                INSERT INTO schema_migrations (version, name) VALUES (1, 'sneaky');
            """,
        },
    )
    # When the database is migrated
    with pytest.raises(asyncpg.UniqueViolationError):
        await migrate(scratch_conn, directory)
    # Then neither its changes nor any record of it remain
    assert not await _table_exists(scratch_conn, "half_done")
    assert await applied_versions(scratch_conn) == []


async def test_fixed_migration_applies_after_a_failure(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a migration that failed once
    directory = _write(tmp_path, {"0001_broken.sql": "CREATE TABLE notes (id int); SELECT 1/0;"})
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(scratch_conn, directory)
    # When it is fixed and the database is migrated again
    _write(directory, {"0001_broken.sql": "CREATE TABLE notes (id int);"})
    applied = await migrate(scratch_conn, directory)
    # Then it applies
    assert [m.version for m in applied] == [1]
    assert await _table_exists(scratch_conn, "notes")


async def test_migrate_releases_its_lock_when_it_refuses(
    scratch_conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    # Given a refusal because the database is ahead
    await scratch_conn.execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    await scratch_conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9, 'x')")
    with pytest.raises(MigrationError):
        await migrate(scratch_conn, _write(tmp_path, {"0001_a.sql": "SELECT 1;"}))
    # Then no advisory lock stays held by the connection
    held = await scratch_conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    assert held == 0
