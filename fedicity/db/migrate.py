"""Applies migrations/NNNN_name.sql in order, one transaction each, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fedicity.db.pool import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every process migrating this database.
_LOCK_KEY = 0x6665646963  # "fedic"


class MigrationError(RuntimeError):
    """The database and the code disagree about the schema."""


@dataclass(frozen=True)
class Migration:
    """One SQL file of the schema's history."""

    version: int
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in a folder, in version order; gaps and duplicates are errors."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name not of the form NNNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {migration.path.name} should be numbered {expected:04d}"
            )
    return found


async def applied_versions(conn: Connection) -> list[int]:
    """Versions already recorded in the database (empty before the first migration)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


async def migrate(conn: Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Bring the database up to date and return the migrations applied now."""
    migrations = discover(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer     PRIMARY KEY,
                   name       text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now()
               )"""
        )
        done = set(await applied_versions(conn))
        latest = migrations[-1].version if migrations else 0
        ahead = sorted(v for v in done if v > latest)
        if ahead:
            raise MigrationError(
                f"the database is at schema version {max(ahead)} but this code only knows up to "
                f"{latest}; upgrade fedicity before using this database"
            )
        applied: list[Migration] = []
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
