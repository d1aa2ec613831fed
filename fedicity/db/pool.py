"""The asyncpg pool, with JSON codecs so jsonb columns read and write Python values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pool = asyncpg.Pool[asyncpg.Record]
    # Query functions take a plain connection or one borrowed from the pool.
    Connection = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:  # asyncpg's classes are only generic in its stubs
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection


async def _init_connection(conn: Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


# asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan that
# ignores the parameter values. For the scope and radius queries that plan reads a whole région
# (100+ ms) where the custom plan stops after one page (0.1 ms): bench/scope.py measured it.
# Planning costs 0.1-0.25 ms, so every statement is planned for its values.
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
# Except on the inbox's own pool (create_pool(generic_plans=True)): its statements are point
# lookups by key and one insert, whose generic plan is the custom one, and planning each of them
# on every delivery was a third of PostgreSQL's CPU per POST (bench/inbox.py: 0.86 -> 0.57x).
GENERIC_PLAN_SETTINGS = {"plan_cache_mode": "auto"}


async def _keep_session(conn: Connection) -> None:
    """What a connection given back to the pool needs beyond asyncpg's own rollback of an open
    transaction: nothing (see create_pool)."""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, generic_plans: bool = False
) -> Pool:
    """Open a pool whose connections decode json/jsonb to Python values; `generic_plans` for
    one whose statements all look rows up by key (see GENERIC_PLAN_SETTINGS)."""
    pool: Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=GENERIC_PLAN_SETTINGS if generic_plans else SERVER_SETTINGS,
        # asyncpg's default reset sends pg_advisory_unlock_all, CLOSE ALL, UNLISTEN * and RESET
        # ALL on every release: a round trip per release, and without it PostgreSQL used 0.73x
        # the CPU per inbox POST (issue 12). No pooled connection keeps session state: advisory
        # locks are transaction-level (pg_advisory_xact_lock; the migrations' session lock is
        # on a connection of its own), temporary tables are ON COMMIT DROP, there is no LISTEN,
        # no SET without LOCAL, and cursors live in transactions. asyncpg still rolls back a
        # transaction left open.
        reset=_keep_session,
    )
    return pool


async def connect(dsn: str) -> asyncpg.Connection[asyncpg.Record]:
    """Open one connection with the same codecs as the pool."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn, server_settings=SERVER_SETTINGS
    )
    await _init_connection(conn)
    return conn


class Borrowed:
    """One pool connection for the length of a request: taken at its first use, kept for the
    next ones, given back by `release` (before awaiting the network: a slow peer must not hold a
    connection) and at the end of the block."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None

    async def get(self) -> PoolConnectionProxy[asyncpg.Record]:
        """The request's connection, taken from the pool if it holds none."""
        if self._conn is None:
            self._conn = await self._pool.acquire()
        return self._conn

    async def release(self) -> None:
        """Give the connection back, if one is held."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)

    async def __aenter__(self) -> Borrowed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


def record_dict(record: asyncpg.Record) -> dict[str, Any]:
    """A Record as a plain dict, for building dataclasses."""
    return dict(record.items())
