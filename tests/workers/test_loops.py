"""The background loops through a database outage: one line when it starts, one when it ends,
no traceback per try, and a bug still logged with its traceback and backed off."""

from __future__ import annotations

import asyncio
import logging
import socket

import asyncpg
import pytest

from fedicity.db.pool import Pool
from fedicity.workers.loops import Loop, run_worker, stopping


def _refused_dsn() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://u@127.0.0.1:{port}/db"


async def test_an_outage_is_logged_once_and_the_loop_keeps_trying(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    tries: list[int] = []

    async def step(pool: Pool) -> int:
        tries.append(len(tries))
        if len(tries) <= 5:
            # A real refused connection, as asyncpg raises it while PostgreSQL is down
            await asyncpg.connect(_refused_dsn())
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        stop.set()
        return 0

    caplog.set_level(logging.INFO, logger="fedicity")
    # Given a loop whose first five steps find PostgreSQL unreachable
    await asyncio.wait_for(run_worker(pool, stop, [Loop("probe", step, idle_delay=30.0)]), 30)
    # Then it tried again until the database answered, without the failures' back-off
    assert len(tries) == 6
    # And the outage took two lines, neither with a traceback
    lines = [r for r in caplog.records if r.name == "fedicity.workers.loops"]
    outage = [r.getMessage() for r in lines if "PostgreSQL" in r.getMessage()]
    assert len(outage) == 2
    assert outage[0].startswith("PostgreSQL unreachable (ConnectionRefusedError")
    assert outage[1].startswith("PostgreSQL reachable again after")
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_bug_is_logged_with_its_traceback(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()

    async def step(pool: Pool) -> int:
        stop.set()
        raise RuntimeError("a bug in the step")

    await asyncio.wait_for(run_worker(pool, stop, [Loop("buggy", step)]), 30)
    [failure] = [r for r in caplog.records if r.exc_info]
    assert failure.getMessage() == "buggy loop step failed (1 in a row)"
    assert not [r for r in caplog.records if "PostgreSQL" in r.getMessage()]


async def test_steps_see_the_stop_event_of_their_worker(pool: Pool) -> None:
    stop = asyncio.Event()
    seen: list[asyncio.Event | None] = []

    async def step(pool: Pool) -> int:
        seen.append(stopping())
        stop.set()
        return 0

    assert stopping() is None
    await asyncio.wait_for(run_worker(pool, stop, [Loop("watch", step)]), 30)
    assert seen == [stop]
