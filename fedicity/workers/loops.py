"""The background loops and their graceful shutdown.

Each loop is an async function that claims due rows from PostgreSQL, does their work and returns
how many it handled; the runner calls it again at once when it was busy and after `idle_delay`
otherwise, until `stop` is set. Rows are leased, so stopping mid-way loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fedicity.clock import Clock
from fedicity.db.outage import quiet_pool_floor_retries, unreachable
from fedicity.db.pool import Connection, Pool
from fedicity.observability.metrics import LOOP_FAILURES, LOOP_ITEMS, LOOP_STEP
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import Federation

_log = logging.getLogger(__name__)

LoopStep = Callable[[Pool], Awaitable[int]]


@dataclass(frozen=True)
class Loop:
    """One kind of background work."""

    name: str
    step: LoopStep
    idle_delay: float = 1.0
    # Told when the worker stops, for a step that runs on until its work is done (delivery).
    on_stop: Callable[[], None] | None = None


# While PostgreSQL is unreachable a loop tries again this often: a refused connection costs
# next to nothing, and the worker resumes within this long of the database's return.
OUTAGE_POLL = 0.2
# The stop event of the worker running the current loop, for steps that give back their rows
# at once when asked to stop (set by run_worker; the loops' tasks inherit it).
_STOP: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar(
    "fedicity_worker_stop", default=None
)


def stopping() -> asyncio.Event | None:
    """The stop event of the worker running this loop; None outside run_worker."""
    return _STOP.get()


class Outage:
    """Whether the worker's loops find PostgreSQL unreachable: one log line when that starts,
    one when it ends, whichever loops see it."""

    def __init__(self) -> None:
        self.since: float | None = None

    def failed(self, loop: str, error: BaseException) -> None:
        """A step found the database unreachable."""
        if self.since is None:
            self.since = time.monotonic()
            _log.warning(
                "PostgreSQL unreachable (%s: %s); the loops try again every %.1f s",
                type(error).__name__,
                error,
                OUTAGE_POLL,
                extra={"loop": loop},
            )

    def succeeded(self, loop: str) -> None:
        """A step went through: the database is back if it was gone."""
        if self.since is not None:
            _log.warning(
                "PostgreSQL reachable again after %.1f s; the loops resume",
                time.monotonic() - self.since,
                extra={"loop": loop},
            )
            self.since = None


async def _run_loop(
    loop: Loop, pool: Pool, stop: asyncio.Event, outage: Outage | None = None
) -> None:
    outage = outage or Outage()
    failures = 0
    step_time = LOOP_STEP.labels(loop.name)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            handled = await loop.step(pool)
        except Exception as error:  # noqa: BLE001 -- the loop must outlive a database restart or a bug
            # Nothing is lost: the rows stay leased in PostgreSQL and come back when the lease
            # ends.
            LOOP_FAILURES.labels(loop.name).inc()
            handled = 0
            if unreachable(error):
                # Not a fault of the step: try again soon, without a traceback per try.
                outage.failed(loop.name, error)
                delay = OUTAGE_POLL
            else:
                # Back off so a persistent fault does not spin.
                failures += 1
                _log.exception(
                    "%s loop step failed (%d in a row)",
                    loop.name,
                    failures,
                    extra={"loop": loop.name},
                )
                delay = min(60.0, loop.idle_delay * 2**failures)
        else:
            outage.succeeded(loop.name)
            failures = 0
            delay = loop.idle_delay
            LOOP_ITEMS.labels(loop.name).inc(handled)
        step_time.observe(time.perf_counter() - started)
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


def default_loops(
    federation: Federation,
    urls: Urls,
    clock: Clock,
    *,
    inbox_retention: timedelta = timedelta(days=Settings.inbox_retention_days),
    blocklist_period: timedelta = timedelta(minutes=Settings.blocklist_sync_minutes),
    settings: Settings | None = None,
) -> list[Loop]:
    """The loops a worker process runs: inbound processing, delivery, the proposals'
    automatic phase changes (votes closed, votes opened after amendments), housekeeping (ended
    rate-limit windows, sessions unused for their whole lifetime), and the purge of inbox rows
    processed longer than `inbox_retention` ago; and the subscribed block lists, each fetched
    again every `blocklist_period`; and the followed calendar feeds (`settings` gives their
    period, the zone of floating times and the served territory)."""
    from fedicity.workers.delivery import DeliveryScheduler
    from fedicity.workers.inbox import HeldBack, process_batch, purge_batch

    held_back = HeldBack()

    async def inbox_step(pool: Pool) -> int:
        return await process_batch(
            pool,
            directory=federation.directory,
            urls=urls,
            clock=clock,
            keygen=federation.keygen,
            stop=stopping(),
            held_back=held_back,
        )

    assert federation.delivery_client is not None
    deliveries = DeliveryScheduler(
        federation.delivery_client,
        urls=urls,
        clock=clock,
        concurrency=federation.delivery_concurrency,
        per_host=federation.delivery_per_host,
        allowlist_mode=federation.allowlist_mode,
    )

    async def phases_step(pool: Pool) -> int:
        from fedicity.proposals.phases import advance_due
        from fedicity.proposals.service import Env

        async with pool.acquire() as conn:
            changed = await advance_due(conn, Env(urls=urls, clock=clock, keygen=federation.keygen))
            return changed + await comoderation_step(conn)

    async def comoderation_step(conn: Connection) -> int:
        """Co-moderation votes whose proposal just closed are settled (stewardship): votes
        opened before the setting went to 0 are settled too; settling needs no served root."""
        from fedicity.stewardship import comoderation

        env = comoderation.Env(urls, clock, federation.keygen, None, 0)
        return await comoderation.settle_due(conn, env)

    async def housekeeping_step(pool: Pool) -> int:
        from fedicity.accounts import resets, sessions
        from fedicity.listings import service as listings
        from fedicity.ratelimit import limiter

        async with pool.acquire() as conn:
            now = clock.now()
            return (
                await limiter.prune(conn, now)
                + await sessions.prune(conn, now)
                + await resets.prune(conn, now)
                # Expired listings leave the located items (their own lists filter by date).
                + await listings.unlocate_expired(conn, now)
            )

    async def purge_step(pool: Pool) -> int:
        return await purge_batch(pool, clock=clock, retention=inbox_retention)

    async def blocklists_step(pool: Pool) -> int:
        from fedicity.moderation.blocklists import sync_due

        return await sync_due(pool, federation.fetcher, now=clock.now(), period=blocklist_period)

    async def feeds_step(pool: Pool) -> int:
        from fedicity.imports.feeds import FeedEnv, feed_env, fetch_due

        env = (
            feed_env(urls, clock, federation.keygen, settings)
            if settings is not None
            else FeedEnv(urls, clock, federation.keygen)
        )
        return await fetch_due(pool, federation.fetcher, env)

    return [
        Loop("inbox", inbox_step, idle_delay=0.2),
        # Runs on while rows are due, claiming as POSTs finish; told to stop, it releases its rows.
        Loop("delivery", deliveries.drain, idle_delay=0.5, on_stop=deliveries.stop),
        Loop("proposal-phases", phases_step, idle_delay=30.0),
        Loop("housekeeping", housekeeping_step, idle_delay=300.0),
        # Batched deletes: a busy step is followed at once by the next batch, then it rests.
        Loop("inbox-purge", purge_step, idle_delay=600.0),
        Loop("blocklists", blocklists_step, idle_delay=60.0),
        Loop("import-feeds", feeds_step, idle_delay=30.0),
    ]


async def run_worker(pool: Pool, stop: asyncio.Event, loops: list[Loop]) -> None:
    """Run the loops until `stop` is set, then let each finish its current step (the inbox's
    gives back the rows it has not started)."""
    _log.info("worker running %d loop(s): %s", len(loops), ", ".join(lp.name for lp in loops))
    quiet_pool_floor_retries()
    _STOP.set(stop)
    outage = Outage()
    tasks = [asyncio.create_task(_run_loop(lp, pool, stop, outage), name=lp.name) for lp in loops]
    await stop.wait()
    for lp in loops:
        if lp.on_stop is not None:
            lp.on_stop()
    if tasks:
        await asyncio.gather(*tasks)
