"""The continuous delivery scheduler and its leases, against real inboxes on 127.0.0.1: a hung
domain holds back no other, rows of a host at its limit are not claimed, leases are renewed
while POSTs run and released on a clean stop, and a lease lost is never completed."""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import pytest

from fedicity.activitypub.fetch.poster import DeliveryClient
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool, create_pool
from fedicity.delivery import queries as delivery_queries
from fedicity.delivery.queries import ClaimedRow, Completion
from fedicity.workers import delivery as delivery_worker
from fedicity.workers.delivery import LEASE, DeliveryScheduler
from tests.conftest import FixedKeys
from tests.delivery.test_delivery import (  # noqa: F401 -- servers and http are fixtures
    URLS,
    ServerFactory,
    _only_row,
    _publish,
    _recipient,
    _recipient_without_shared_inbox,
    _rows,
    _sender,
    http,
    servers,
)
from tests.flows.harness import eventually


async def test_a_hung_domain_holds_back_no_other_and_its_row_is_released_on_stop(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given a domain that reads POSTs and never answers, and three that answer, with three
    # personal inboxes each
    sender = await _sender(pool, keygen)
    hung = await servers(mode="hang")
    fine = [await servers(mode="accept") for _ in range(3)]
    recipients = [await _recipient(pool, hung.base, "h", clock)]
    for number, server in enumerate(fine):
        for name in ("a", "b", "c"):
            recipients.append(
                await _recipient_without_shared_inbox(pool, server.base, f"{name}{number}", clock)
            )
    await _publish(pool, sender, clock, to=recipients)
    hung_row = next(row for row in await _rows(pool) if row.domain == hung.domain)

    # When a scheduler with two slots, one per host, runs
    scheduler = DeliveryScheduler(http, urls=URLS, clock=clock, concurrency=2, per_host=1)
    running = asyncio.create_task(scheduler.drain(pool))
    try:
        # Then the hung POST takes one slot, and every other row goes through the other
        async def all_delivered() -> bool:
            states = {row.id: row.state for row in await _rows(pool)}
            return states.pop(hung_row.id) == "pending" and set(states.values()) == {"delivered"}

        await eventually(all_delivered, within=15)
        assert [len(server.answered) for server in fine] == [3, 3, 3]
        assert len(hung.received) == 1
        assert not running.done()
    finally:
        # When the worker stops cleanly
        scheduler.stop()
        handled = await asyncio.wait_for(running, timeout=10)

    # Then the hung row is released at once, unspent, for any worker to take now
    assert handled == 10
    released = next(row for row in await _rows(pool) if row.id == hung_row.id)
    assert (released.state, released.attempts, released.locked_until) == ("pending", 0, None)
    async with pool.acquire() as conn:
        owner = await conn.fetchval("SELECT lease_owner FROM deliveries WHERE id = $1", hung_row.id)
    assert owner is None


async def test_leases_are_renewed_while_a_post_runs(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given a row whose inbox takes its time
    target = await servers(mode="hang")
    sender = await _sender(pool, keygen)
    await _publish(pool, sender, clock, to=[await _recipient(pool, target.base, "ana", clock)])
    scheduler = DeliveryScheduler(http, urls=URLS, clock=clock, renew_every=0.05)
    running = asyncio.create_task(scheduler.drain(pool))
    try:
        await target.wait_for(1)
        assert (await _only_row(pool)).locked_until == clock.now() + LEASE

        # When time passes while the POST is in flight
        clock.advance(timedelta(seconds=10))

        # Then the lease is extended from now, so no other worker takes the row
        async def renewed() -> bool:
            return (await _only_row(pool)).locked_until == clock.now() + LEASE

        await eventually(renewed, within=5)
    finally:
        scheduler.stop()
        await asyncio.wait_for(running, timeout=10)
    assert (await _only_row(pool)).locked_until is None


async def test_a_claim_takes_at_most_per_host_rows_of_a_domain_and_none_of_a_busy_one(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
) -> None:
    # Given three personal inboxes on each of two domains
    sender = await _sender(pool, keygen)
    first, second = await servers(), await servers()
    recipients = [
        await _recipient_without_shared_inbox(pool, server.base, f"{name}{index}", clock)
        for index, server in enumerate((first, second))
        for name in ("a", "b", "c")
    ]
    await _publish(pool, sender, clock, to=recipients)

    async with pool.acquire() as conn:
        # When a claim allows two rows per host
        claimed = await delivery_queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=10, owner=uuid.uuid4(), per_host=2
        )
        # Then it takes two of each domain
        assert sorted(row.domain for row in claimed) == sorted([first.domain, second.domain] * 2)
        # And the claim read each domain's policy (none) and health (available)
        assert {(row.policy_action, row.unavailable_since) for row in claimed} == {(None, None)}

        # When the next claim is told the first domain is at its limit
        again = await delivery_queries.claim_deliveries(
            conn,
            now=clock.now(),
            lease=LEASE,
            limit=10,
            owner=uuid.uuid4(),
            per_host=2,
            busy_domains=[first.domain],
        )
    # Then it takes only the second domain's last row
    assert [row.domain for row in again] == [second.domain]


async def test_a_row_whose_lease_was_lost_is_not_completed_by_its_old_holder(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
) -> None:
    # Given a row claimed by a worker whose lease then ran out, and claimed again by another
    target = await servers()
    sender = await _sender(pool, keygen)
    await _publish(pool, sender, clock, to=[await _recipient(pool, target.base, "ana", clock)])
    async with pool.acquire() as conn:
        (old,) = await delivery_queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=5, owner=uuid.uuid4()
        )
        clock.advance(LEASE + timedelta(seconds=1))
        (new,) = await delivery_queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=5, owner=uuid.uuid4()
        )
        assert new.id == old.id
        assert new.lease_owner != old.lease_owner

        # When the old holder renews and completes it
        renewed = await delivery_queries.set_leases(
            conn, [old.id], [old.lease_owner], until=clock.now() + LEASE * 10, now=clock.now()
        )
        done = await delivery_queries.complete(
            conn,
            [Completion(old.id, old.lease_owner, old.domain, "delivered", 202, None, None)],
            clock.now(),
        )

    # Then neither touches the row: it stays the new holder's
    assert (renewed, done) == (0, [])
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.locked_until) == ("pending", 0, new.locked_until)


async def test_the_last_post_to_a_domain_closes_its_connection(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given one domain with three personal inboxes, and one with a single shared inbox
    sender = await _sender(pool, keygen)
    busy, single = await servers(), await servers()
    recipients = [
        await _recipient_without_shared_inbox(pool, busy.base, name, clock)
        for name in ("a", "b", "c")
    ]
    recipients.append(await _recipient(pool, single.base, "d", clock))
    await _publish(pool, sender, clock, to=recipients)

    # When the scheduler delivers them, all three of the first domain's at once
    scheduler = DeliveryScheduler(http, urls=URLS, clock=clock, per_host=3)
    assert await scheduler.drain(pool) == 4

    # Then the lone POST asks the server to close the connection (a fan-out reaches thousands
    # of hosts once each: idle connections to all would exhaust the descriptors), and POSTs
    # with others of their domain still in flight keep it open
    def closes(headers: tuple[tuple[str, str], ...]) -> bool:
        return ("connection", "close") in {(k.lower(), v.lower()) for k, v in headers}

    assert [closes(post.headers) for post in single.received] == [True]
    assert [closes(post.headers) for post in busy.received] == [False, False, False]


@dataclass
class ClockThatBreaks(FrozenClock):
    """A frozen clock that raises, once `broken` is set, when the lease renewal reads it: a bug
    in the renewal's path (every other reader still gets the time)."""

    broken: bool = False

    def now(self) -> datetime:
        if self.broken and sys._getframe(1).f_code.co_name == "_renew_leases":
            raise RuntimeError("clock broken")
        return super().now()


async def test_a_renewal_that_dies_stops_the_drain_instead_of_letting_leases_lapse(
    pool: Pool,
    keygen: FixedKeys,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given a row whose inbox never answers, being POSTed by a running scheduler
    clock = ClockThatBreaks()
    target = await servers(mode="hang")
    sender = await _sender(pool, keygen)
    await _publish(pool, sender, clock, to=[await _recipient(pool, target.base, "ana", clock)])
    scheduler = DeliveryScheduler(http, urls=URLS, clock=clock, renew_every=0.05)
    running = asyncio.create_task(scheduler.drain(pool))
    await target.wait_for(1)

    # When renewing its lease fails with something that is no database failure
    clock.broken = True

    # Then the drain fails with it (the loop runner logs it and starts again) rather than
    # running on while the lease it can no longer renew lapses under the POST
    try:
        with pytest.raises(RuntimeError, match="clock broken"):
            await asyncio.wait_for(running, timeout=5)
    finally:
        clock.broken = False
        if not running.done():
            scheduler.stop()
            await asyncio.wait_for(running, timeout=10)


async def test_rows_a_failed_drain_could_not_give_back_are_not_renewed_by_the_next(
    pool: Pool,
    database_dsn: str,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
    http: DeliveryClient,  # noqa: F811
) -> None:
    # Given a row in flight to a hung inbox, on a pool that is then closed (the database gone)
    first, second = await servers(mode="hang"), await servers(mode="hang")
    sender = await _sender(pool, keygen)
    await _publish(pool, sender, clock, to=[await _recipient(pool, first.base, "ana", clock)])
    scheduler = DeliveryScheduler(http, urls=URLS, clock=clock, renew_every=0.05)
    doomed = await create_pool(database_dsn, max_size=2)
    running = asyncio.create_task(scheduler.drain(doomed))
    await first.wait_for(1)
    await doomed.close()

    # When its next claim fails, the drain gives up, and the row cannot be given back
    with pytest.raises(asyncpg.InterfaceError):
        await asyncio.wait_for(running, timeout=10)

    # And the loop runner drains again, with the database back and another POST in flight
    await _publish(pool, sender, clock, to=[await _recipient(pool, second.base, "bea", clock)])
    running = asyncio.create_task(scheduler.drain(pool))
    try:
        await second.wait_for(1)
        # Then once the first row's lease has run out, it is taken and POSTed again, not kept
        # leased by renewals of a row nobody is POSTing any more
        clock.advance(LEASE + timedelta(seconds=1))
        await first.wait_for(2)
    finally:
        scheduler.stop()
        await asyncio.wait_for(running, timeout=10)


async def test_a_row_whose_activity_was_deleted_after_its_claim_is_skipped(pool: Pool) -> None:
    # Given a claimed row whose activity (and with it the row, ON DELETE CASCADE) was deleted
    # between the claim and the read of what it sends
    gone = ClaimedRow(
        id=10**9,
        activity_id=10**9,
        inbox="https://remote.example/inbox",
        domain="remote.example",
        attempts=0,
        locked_until=FrozenClock().now(),
        lease_owner=uuid.uuid4(),
        policy_action=None,
        unavailable_since=None,
    )
    # Then it makes no job (before, a KeyError failed the whole claim's worth of rows)
    assert await delivery_worker._Signers(URLS).jobs(pool, [gone]) == []


async def test_a_claim_made_while_another_is_taking_rows_takes_the_next_ones(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
) -> None:
    # Given fourteen personal inboxes on one domain
    sender = await _sender(pool, keygen)
    target = await servers()
    recipients = [
        await _recipient_without_shared_inbox(pool, target.base, f"r{number}", clock)
        for number in range(14)
    ]
    await _publish(pool, sender, clock, to=recipients)

    async with pool.acquire() as first, pool.acquire() as second, first.transaction():
        # When one worker's claim of three rows is still running (its statement looks at four
        # times as many candidates; the open transaction stands for that moment)
        taken = await delivery_queries.claim_deliveries(
            first, now=clock.now(), lease=LEASE, limit=3, owner=uuid.uuid4()
        )
        # Then another worker claiming meanwhile takes rows beyond them, not nothing: the
        # candidates skip rows being taken, instead of both claims picking the same first rows
        others = await delivery_queries.claim_deliveries(
            second, now=clock.now(), lease=LEASE, limit=3, owner=uuid.uuid4()
        )
    assert len(taken) == 3
    assert others
    assert not {row.id for row in taken} & {row.id for row in others}


async def test_a_stale_holders_failed_answer_does_not_count_against_the_domain(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,  # noqa: F811
) -> None:
    # Given a row whose first holder lost its lease to another worker
    target = await servers()
    sender = await _sender(pool, keygen)
    await _publish(pool, sender, clock, to=[await _recipient(pool, target.base, "ana", clock)])
    async with pool.acquire() as conn:
        (old,) = await delivery_queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=5, owner=uuid.uuid4()
        )
        clock.advance(LEASE + timedelta(seconds=1))
        await delivery_queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=5, owner=uuid.uuid4()
        )
    # When the old holder records a server failure for it
    stale = Completion(
        old.id, old.lease_owner, old.domain, "pending", 503, "down", clock.now(), True
    )
    await delivery_worker._record(pool, [stale], clock.now())
    # Then the domain's health is untouched: the answer was the new holder's to record
    async with pool.acquire() as conn:
        assert await delivery_queries.select_domain_health(conn, old.domain) is None
