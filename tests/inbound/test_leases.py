"""Short inbox leases (issue 12, recovery): renewed while a batch works, given back when the
worker stops, and a row whose lease ran out recorded by the worker that holds it, once."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors.context import InboundContext
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.inbound import queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers import inbox as inbox_worker
from fedicity.workers.federation import Federation, start_federation
from fedicity.workers.inbox import LEASE, HeldBack, process_batch
from tests.conftest import FixedKeys
from tests.flows.harness import eventually

ACTOR = "https://remote.invalid/users/alice"


@pytest.fixture
async def federation(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[Federation]:
    """The worker's federation services (nothing here fetches)."""
    started = await start_federation(pool, settings, clock=clock, keygen=keygen)
    try:
        yield started
    finally:
        await started.close()


async def _store(pool: Pool, clock: FrozenClock, kinds: list[str]) -> None:
    async with pool.acquire() as conn:
        for number, kind in enumerate(kinds):
            uri = f"https://remote.invalid/activities/{number}"
            await queries.insert_inbox_item(
                conn,
                activity_uri=uri,
                actor_uri=ACTOR,
                type=kind,
                recipient=None,
                raw={"id": uri, "type": kind, "actor": ACTOR},
                key_id=ACTOR + "#main-key",
                now=clock.now(),
            )


async def _rows(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id, type, state, attempts, last_error, locked_until, lease_token
                 FROM inbox_items ORDER BY id"""
        )
    return [dict(row) for row in rows]


def _batch(
    pool: Pool,
    federation: Federation,
    settings: Settings,
    clock: FrozenClock,
    router: Router[InboundContext],
    **options: Any,
) -> asyncio.Task[int]:
    return asyncio.create_task(
        process_batch(
            pool,
            directory=federation.directory,
            urls=Urls(settings.base_url),
            clock=clock,
            router=router,
            **options,
        )
    )


async def test_a_batch_renews_the_leases_of_the_rows_it_still_holds(
    pool: Pool,
    federation: Federation,
    settings: Settings,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Renewing every 5 s is the product's choice; the test renews at once to see it happen.
    monkeypatch.setattr(inbox_worker, "RENEW_EVERY", 0.01)
    started, release = asyncio.Event(), asyncio.Event()
    router: Router[InboundContext] = Router()

    @router.register("Slow")
    async def slow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        started.set()
        await release.wait()
        return Outcome.done()

    @router.register("Fine")
    async def fine(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        return Outcome.done()

    # Given a batch whose first row takes long, and a row behind it
    await _store(pool, clock, ["Slow", "Fine"])
    batch = _batch(pool, federation, settings, clock, router)
    await started.wait()
    claimed = await _rows(pool)
    assert [row["locked_until"] for row in claimed] == [clock.now() + LEASE] * 2
    # When time passes beyond the first lease while the handler still runs
    clock.advance(LEASE + timedelta(seconds=5))

    async def renewed() -> bool:
        return all(row["locked_until"] == clock.now() + LEASE for row in await _rows(pool))

    # Then both rows' leases are extended under the same token, so no other worker takes them
    await eventually(renewed)
    assert len({row["lease_token"] for row in await _rows(pool)}) == 1
    async with pool.acquire() as conn:
        other = await queries.claim_inbox_items(
            conn, now=clock.now(), lease=LEASE, limit=10, token=uuid4()
        )
    assert other == []
    # And when the handler ends, the batch finishes both, leaving no lease behind
    release.set()
    assert await batch == 2
    rows = await _rows(pool)
    assert [(row["state"], row["locked_until"], row["lease_token"]) for row in rows] == [
        ("done", None, None),
        ("done", None, None),
    ]


async def test_a_stopping_worker_gives_back_the_rows_it_has_not_started(
    pool: Pool, federation: Federation, settings: Settings, clock: FrozenClock
) -> None:
    stop = asyncio.Event()
    router: Router[InboundContext] = Router()

    @router.register("Fine")
    async def fine(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        # The worker is told to stop while it processes the first row
        stop.set()
        return Outcome.done()

    # Given three rows claimed together
    await _store(pool, clock, ["Fine", "Fine", "Fine"])
    # When the worker stops during the first
    assert await _batch(pool, federation, settings, clock, router, stop=stop) == 3
    # Then the first is done, and the two others are free at once, charged no attempt
    rows = await _rows(pool)
    assert [(row["state"], row["attempts"], row["locked_until"]) for row in rows] == [
        ("done", 1, None),
        ("pending", 0, None),
        ("pending", 0, None),
    ]
    # And another worker takes them now, not when a lease would have ended
    assert await _batch(pool, federation, settings, clock, router) == 2
    assert [row["state"] for row in await _rows(pool)] == ["done"] * 3


async def test_a_row_whose_lease_ran_out_is_recorded_by_its_new_holder_only(
    pool: Pool, federation: Federation, settings: Settings, clock: FrozenClock
) -> None:
    other_token = uuid4()
    router: Router[InboundContext] = Router()

    @router.register("Stalled")
    async def stalled(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        # This worker stalls past its lease (no renewal ran) and a second worker claims the row
        clock.advance(LEASE + timedelta(seconds=1))
        async with pool.acquire() as other:
            [taken] = await queries.claim_inbox_items(
                other, now=clock.now(), lease=LEASE, limit=10, token=other_token
            )
        assert taken.activity_uri == activity["id"]
        # What this handler writes must not stand if its lease is gone
        await ctx.conn.execute(
            "UPDATE inbox_items SET last_error = 'written by the stalled worker' WHERE id = $1",
            taken.id,
        )
        return Outcome.done()

    # Given a row whose worker loses its lease while the handler runs
    await _store(pool, clock, ["Stalled"])
    # When that worker finishes
    assert await _batch(pool, federation, settings, clock, router) == 1
    # Then nothing it did is recorded: the row is pending under the second worker's lease
    [row] = await _rows(pool)
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 0, None)
    assert row["lease_token"] == other_token
    # And the second worker records it, once
    async with pool.acquire() as conn:
        assert await queries.finish_inbox_item(
            conn, row["id"], token=other_token, state="done", detail="", now=clock.now()
        )
        assert not await queries.finish_inbox_item(
            conn, row["id"], token=other_token, state="done", detail="", now=clock.now()
        )
    [row] = await _rows(pool)
    assert (row["state"], row["attempts"]) == ("done", 1)


async def test_rows_a_batch_could_not_give_back_are_given_back_by_the_next_one(
    pool: Pool, federation: Federation, settings: Settings, clock: FrozenClock
) -> None:
    router: Router[InboundContext] = Router()

    @router.register("Fine")
    async def fine(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        return Outcome.done()

    # Given two rows a batch claimed and, the database unreachable, could not give back, and a
    # row a claim took whose answer was lost with its connection (the worker knows its token only)
    await _store(pool, clock, ["Fine", "Fine", "Fine"])
    token, lost_claim = uuid4(), uuid4()
    async with pool.acquire() as conn:
        held = await queries.claim_inbox_items(
            conn, now=clock.now(), lease=LEASE, limit=2, token=token
        )
        assert (
            len(
                await queries.claim_inbox_items(
                    conn, now=clock.now(), lease=LEASE, limit=1, token=lost_claim
                )
            )
            == 1
        )
    held_back = HeldBack([(token, [item.id for item in held]), (lost_claim, None)])
    # When the next batch of that loop runs, well within their lease
    handled = await _batch(pool, federation, settings, clock, router, held_back=held_back)
    # Then it gives them back first and processes them now
    assert handled == 3
    assert held_back.rows == []
    assert [row["state"] for row in await _rows(pool)] == ["done", "done", "done"]


async def test_a_row_whose_connection_the_server_ends_goes_back_once_then_waits_its_lease(
    pool: Pool, federation: Federation, settings: Settings, clock: FrozenClock
) -> None:
    router: Router[InboundContext] = Router()

    @router.register("Ended")
    async def ended(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        # The server ends this session, as a restart does (57P01), every time
        await ctx.conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return Outcome.done()

    @router.register("Fine")
    async def fine(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        return Outcome.done()

    held_back = HeldBack()
    # Given a row whose connection the server ends under it, and a row behind it
    await _store(pool, clock, ["Ended", "Fine"])
    # When the loop's batch runs
    assert await _batch(pool, federation, settings, clock, router, held_back=held_back) == 2
    # Then the row behind is done on a fresh connection, and the caught row is free at once,
    # charged no attempt (an outage is not its doing)
    rows = await _rows(pool)
    assert [(row["state"], row["attempts"], row["locked_until"]) for row in rows] == [
        ("pending", 0, None),
        ("done", 1, None),
    ]
    # When it is caught again, it keeps its lease: a row that always breaks its connection
    # comes back when the lease ends, not in a loop
    assert await _batch(pool, federation, settings, clock, router, held_back=held_back) == 1
    [again, _done] = await _rows(pool)
    assert (again["state"], again["attempts"]) == ("pending", 0)
    assert again["locked_until"] == clock.now() + LEASE


@dataclass
class ClockThatBreaks(FrozenClock):
    """A frozen clock that raises, once `broken` is set, when the lease renewal reads it: a bug
    in the renewal's path (every other reader still gets the time)."""

    broken: bool = False

    def now(self) -> datetime:
        if self.broken and sys._getframe(1).f_code.co_name == "_renew":
            raise RuntimeError("clock broken")
        return super().now()


async def test_a_renewal_that_dies_ends_the_batch_and_gives_its_rows_back(
    pool: Pool,
    federation: Federation,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox_worker, "RENEW_EVERY", 0.01)
    clock = ClockThatBreaks()
    started, release = asyncio.Event(), asyncio.Event()
    router: Router[InboundContext] = Router()

    @router.register("Slow")
    async def slow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        started.set()
        await release.wait()
        return Outcome.done()

    # Given a batch busy with its first row, a second row waiting behind it
    await _store(pool, clock, ["Slow", "Slow"])
    batch = _batch(pool, federation, settings, clock, router)
    await started.wait()
    # When renewing the leases fails with something that is no database failure
    clock.broken = True
    await asyncio.sleep(0.1)
    clock.broken = False
    release.set()
    # Then the batch fails with it (the loop runner logs it) instead of running on while its
    # leases lapse, and the row it had not started is given back for the next claim at once
    with pytest.raises(RuntimeError, match="clock broken"):
        await batch
    rows = await _rows(pool)
    assert [(row["state"], row["lease_token"]) for row in rows] == [
        ("done", None),
        ("pending", None),
    ]
