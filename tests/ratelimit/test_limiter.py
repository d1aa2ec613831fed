"""Fixed-window counters in PostgreSQL: counting, refusing with Retry-After, new windows,
exact counts under concurrency, pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fedicity.db.pool import Pool
from fedicity.ratelimit import limiter
from fedicity.ratelimit.limiter import Limit

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
THREE_PER_MINUTE = Limit("test", 3, timedelta(minutes=1))


async def test_hits_are_allowed_up_to_the_limit_then_refused_until_the_window_ends(
    pool: Pool,
) -> None:
    async with pool.acquire() as conn:
        verdicts = [
            await limiter.hit(conn, THREE_PER_MINUTE, "1.2.3.4", T0 + timedelta(seconds=n))
            for n in range(5)
        ]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert [v.count for v in verdicts] == [1, 2, 3, 4, 5]
        # The refusal says how long is left of the window that began with the first hit
        assert verdicts[3].retry_after == 57
        assert verdicts[4].retry_after == 56
        # Another subject, or another limit, has its own counter
        other = await limiter.hit(conn, THREE_PER_MINUTE, "5.6.7.8", T0)
        assert other.allowed
        assert other.count == 1
        # Once the window has ended, counting starts again
        later = await limiter.hit(conn, THREE_PER_MINUTE, "1.2.3.4", T0 + timedelta(minutes=1))
        assert later.allowed
        assert later.count == 1


async def test_peek_counts_nothing(pool: Pool) -> None:
    async with pool.acquire() as conn:
        assert (await limiter.peek(conn, THREE_PER_MINUTE, "x", T0)).allowed
        for _ in range(3):
            await limiter.hit(conn, THREE_PER_MINUTE, "x", T0)
        refused = await limiter.peek(conn, THREE_PER_MINUTE, "x", T0 + timedelta(seconds=30))
        assert not refused.allowed
        assert refused.count == 3
        assert refused.retry_after == 30
        again = await limiter.peek(conn, THREE_PER_MINUTE, "x", T0 + timedelta(seconds=30))
        assert again.count == 3
        assert (await limiter.peek(conn, THREE_PER_MINUTE, "x", T0 + timedelta(minutes=1))).allowed


async def test_concurrent_hits_from_many_connections_are_all_counted(pool: Pool) -> None:
    # Several web processes share only PostgreSQL: the UPSERT must not lose a hit
    async def one_hit() -> int:
        async with pool.acquire() as conn:
            return (await limiter.hit(conn, THREE_PER_MINUTE, "shared", T0)).count

    counts = await asyncio.gather(*(one_hit() for _ in range(40)))
    assert sorted(counts) == list(range(1, 41))


async def test_long_or_odd_subjects_are_hashed_into_short_keys(pool: Pool) -> None:
    typed = "x" * 10_000
    key = limiter.key(THREE_PER_MINUTE, typed)
    assert len(key) < 100
    assert typed[:50] not in key
    assert limiter.key(THREE_PER_MINUTE, "a\nb") != "test:a\nb"
    async with pool.acquire() as conn:
        assert (await limiter.hit(conn, THREE_PER_MINUTE, typed, T0)).count == 1
        assert (await limiter.hit(conn, THREE_PER_MINUTE, typed, T0)).count == 2


async def test_prune_removes_only_ended_windows(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await limiter.hit(conn, THREE_PER_MINUTE, "old", T0)
        await limiter.hit(conn, THREE_PER_MINUTE, "new", T0 + timedelta(seconds=50))
        assert await limiter.prune(conn, T0 + timedelta(seconds=70)) == 1
        keys = {row["key"] for row in await conn.fetch("SELECT key FROM rate_limits")}
    assert keys == {"test:new"}
