"""What counts as "PostgreSQL unreachable" (fedicity.db.outage): real failures, precisely."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable
from pathlib import Path

import asyncpg
import pytest

from fedicity.db.outage import unreachable
from fedicity.db.pool import Pool, create_pool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _raised(action: Awaitable[object]) -> BaseException:
    try:
        await action
    except BaseException as error:  # noqa: BLE001 -- the test inspects whatever was raised
        return error
    raise AssertionError("nothing was raised")


async def test_refused_and_missing_servers_are_outages(tmp_path: Path) -> None:
    refused = await _raised(asyncpg.connect(f"postgresql://u@127.0.0.1:{_free_port()}/db"))
    no_socket = await _raised(asyncpg.connect(f"postgresql://u@/db?host={tmp_path / 'none'}"))
    assert isinstance(refused, ConnectionRefusedError)
    assert unreachable(refused)
    assert isinstance(no_socket, FileNotFoundError)
    assert unreachable(no_socket)


async def test_os_errors_and_timeouts_from_elsewhere_are_not(tmp_path: Path) -> None:
    missing = await _raised(asyncio.to_thread((tmp_path / "missing").read_text))
    assert isinstance(missing, FileNotFoundError)
    assert not unreachable(missing)
    timeout = await _raised(asyncio.wait_for(asyncio.Event().wait(), 0.01))
    assert isinstance(timeout, TimeoutError)
    assert not unreachable(timeout)
    assert not unreachable(RuntimeError("a bug"))


async def test_a_pool_that_gives_no_connection_in_time_is_an_outage(database_dsn: str) -> None:
    small = await create_pool(database_dsn, min_size=1, max_size=1)
    try:
        async with small.acquire():
            late = await _raised(small.acquire(timeout=0.05))
        assert isinstance(late, TimeoutError)
        assert unreachable(late)
    finally:
        await small.close()


async def test_a_connection_the_server_ends_is_an_outage_and_a_bad_statement_is_not(
    pool: Pool, database_dsn: str
) -> None:
    conn = await asyncpg.connect(database_dsn)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        bad = await _raised(conn.fetchval("SELEC 1"))
        assert isinstance(bad, asyncpg.PostgresSyntaxError)
        assert not unreachable(bad)
        # Two statements at once on one connection: a misuse, ours
        busy = await _raised(
            asyncio.gather(conn.execute("SELECT pg_sleep(0.05)"), conn.execute("SELECT 1"))
        )
        assert isinstance(busy, asyncpg.InterfaceError)
        assert not unreachable(busy)
        await asyncio.sleep(0.1)
        async with pool.acquire() as admin:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        ended = await _raised(conn.fetchval("SELECT 1"))
        assert unreachable(ended), repr(ended)
        again = await _raised(conn.fetchval("SELECT 1"))
        assert unreachable(again), repr(again)
    finally:
        conn.terminate()


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        # What asyncpg raises on an idle connection that got the server's termination notice
        # and not yet the end of its socket (seen in bench/recovery.py's restarts)
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
    ],
)
def test_the_servers_own_outage_codes_are_outages(error: Exception) -> None:
    assert unreachable(error)


def test_asyncpg_in_another_bad_state_is_not_an_outage() -> None:
    assert not unreachable(
        asyncpg.InternalClientError('cannot switch to state 12; protocol is in the "failed" state')
    )
