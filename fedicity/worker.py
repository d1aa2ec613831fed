"""The background loops and their graceful shutdown.

Each loop is an async function that claims due rows from PostgreSQL, does their work and returns
how many it handled; the runner calls it again at once when it was busy and after `idle_delay`
otherwise, until `stop` is set. Rows are leased, so stopping mid-way loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fedicity.db.pool import Pool

_log = logging.getLogger(__name__)

LoopStep = Callable[[Pool], Awaitable[int]]


@dataclass(frozen=True)
class Loop:
    """One kind of background work."""

    name: str
    step: LoopStep
    idle_delay: float = 1.0


async def _run_loop(loop: Loop, pool: Pool, stop: asyncio.Event) -> None:
    while not stop.is_set():
        handled = await loop.step(pool)
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=loop.idle_delay)


def default_loops() -> list[Loop]:
    """The loops a worker process runs."""
    return []


async def run_worker(pool: Pool, stop: asyncio.Event, loops: list[Loop] | None = None) -> None:
    """Run the loops until `stop` is set, then let each finish its current step."""
    chosen = default_loops() if loops is None else loops
    _log.info("worker running %d loop(s): %s", len(chosen), ", ".join(lp.name for lp in chosen))
    tasks = [asyncio.create_task(_run_loop(lp, pool, stop), name=lp.name) for lp in chosen]
    await stop.wait()
    if tasks:
        await asyncio.gather(*tasks)
