"""The per-test cleaning (tests/conftest.py `empty_database`) leaves what a TRUNCATE of every
table with RESTART IDENTITY left, though it truncates only the tables that have rows."""

from __future__ import annotations

from fedicity.db.pool import Connection, Pool
from tests.conftest import empty_database

_TRUNCATE_EVERYTHING = """
DO $$
BEGIN
    EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', tablename), ', ')
                    || ' RESTART IDENTITY CASCADE'
               FROM pg_tables
              WHERE schemaname = 'public' AND tablename <> 'schema_migrations');
    INSERT INTO instance_config (singleton) VALUES (true);
END $$
"""


async def _dirty(conn: Connection) -> None:
    """Rows in a few tables, linked by a foreign key, and every sequence drawn from."""
    actor = await conn.fetchval(
        """INSERT INTO actors (username, kind, public_key_pem, private_key_pem)
           VALUES ('camille', 'person', 'pub', 'priv') RETURNING id"""
    )
    await conn.execute("INSERT INTO accounts (actor_id, password_hash) VALUES ($1, 'hash')", actor)
    await conn.execute("UPDATE instance_config SET registration_open = false")
    for (sequence,) in await conn.fetch(
        "SELECT format('%I', sequencename) FROM pg_sequences WHERE schemaname = 'public'"
    ):
        await conn.execute("SELECT nextval($1::regclass)", sequence)


async def _state(conn: Connection) -> dict[str, object]:
    """Every table's rows and every sequence's position."""
    state: dict[str, object] = {}
    for (table,) in await conn.fetch(
        "SELECT format('%I', tablename) FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations'"
    ):
        rows = await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608 -- names from the catalog
        state[table] = [
            {key: value for key, value in row.items() if key != "updated_at"} for row in rows
        ]
    for name, last_value in await conn.fetch(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
    ):
        state[f"sequence {name}"] = last_value
    return state


async def test_the_cleaning_leaves_what_truncating_everything_left(pool: Pool) -> None:
    # Given a database a test wrote to, emptied the old way (every table, RESTART IDENTITY)
    async with pool.acquire() as conn:
        await _dirty(conn)
        await conn.execute(_TRUNCATE_EVERYTHING)
        expected = await _state(conn)
        # When the same writes are emptied by the per-test cleaning
        await _dirty(conn)
        drawn = await _state(conn)
    await empty_database(pool)
    # Then every table and every sequence a column owns is as the old way left them
    async with pool.acquire() as conn:
        cleaned = await _state(conn)
        actor = await conn.fetchval(
            """INSERT INTO actors (username, kind, public_key_pem, private_key_pem)
               VALUES ('yanis', 'person', 'pub', 'priv') RETURNING id"""
        )
    # (the waiting-list rank is no column's: RESTART IDENTITY never restarted it, nor does this)
    rank = "sequence event_waiting_rank"
    assert cleaned[rank] == drawn[rank] is not None
    assert {**cleaned, rank: None} == {**expected, rank: None}
    # And that is an empty database: the config row alone, and ids from 1 again
    assert expected["instance_config"] == [{"singleton": True, "registration_open": None}]
    tables = [name for name in expected if not name.startswith("sequence ")]
    assert len(tables) > 40
    assert all(expected[name] == [] for name in tables if name != "instance_config")
    assert all(
        expected[name] is None for name in expected if name.startswith("sequence ") and name != rank
    )
    assert actor == 1
