"""What every command runs in: the database (configured or embedded), migrations, a pool or one
connection, the stop signals, and the one error a command reports as a line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from fedicity.db import embedded
from fedicity.db.migrate import migrate
from fedicity.db.pool import Connection, Pool, connect, create_pool
from fedicity.settings import Settings

_log = logging.getLogger("fedicity")


class CommandError(Exception):
    """A command failed for a reason the user can act on; printed as one line."""


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Settings]:
    """Settings with a database URL: the configured one, or the embedded server's for this run."""
    if settings.database_url is not None:
        yield settings
        return
    server = await asyncio.to_thread(embedded.start, settings.data_dir)
    try:
        yield replace(settings, database_url=server.dsn)
    finally:
        await asyncio.to_thread(server.stop)


async def migrated(settings: Settings) -> None:
    """Apply the pending migrations, logging each."""
    assert settings.database_url is not None
    conn = await connect(settings.database_url)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    for migration in applied:
        _log.info("applied migration %04d_%s", migration.version, migration.name)


@contextlib.asynccontextmanager
async def open_pool(settings: Settings) -> AsyncIterator[Pool]:
    """A connection pool for the length of the block."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url)
    try:
        yield pool
    finally:
        await pool.close()


async def with_conn(settings: Settings, action: Callable[[Connection], Awaitable[None]]) -> None:
    """Run `action` on one connection to the migrated database."""
    async with database(settings) as ready:
        await migrated(ready)
        assert ready.database_url is not None
        conn = await connect(ready.database_url)
        try:
            await action(conn)
        finally:
            await conn.close()


def stop_event() -> asyncio.Event:
    """An event SIGINT and SIGTERM set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
