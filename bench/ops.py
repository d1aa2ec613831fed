"""Operations benchmark: what one /metrics scrape and one dashboard page cost on a busy database.

Run from the repository root:

    .venv/bin/python -m bench.ops
    .venv/bin/python -m bench.ops --deliveries 1000000 --pending 50000 --domains 5000

Against a fresh migrated PostgreSQL (embedded, or on FEDICITY_DATABASE_URL's server), it loads
--deliveries delivery rows (never purged in production: most delivered, --pending still pending,
half of those due, over --domains domains), the same number of domain_health rows, an inbox of
20 000 rows (a quarter pending) and 1 000 reports, runs VACUUM (ANALYZE), then times the real
query functions: the scrape's (queues, domain counts, backlog) and the dashboard's first page of
domains, worst first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import CAVEAT, figure, fresh_database, heading
from fedicity.db.pool import connect
from fedicity.ops import queries, service


async def _load(dsn: str, deliveries: int, pending: int, domains: int) -> None:
    conn = await connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO actors (username, kind, public_key_pem, private_key_pem)
               VALUES ('bench', 'person', 'x', 'x');
               INSERT INTO outbox_activities (uri, actor_id, type, raw)
               SELECT 'https://bench.example/a/' || n, 1, 'Create', '{}'
                 FROM generate_series(1, 1000) n"""
        )
        await conn.execute(
            """INSERT INTO deliveries (activity_id, inbox, domain, state, next_attempt_at,
                                       attempts)
               SELECT 1 + n % 1000, 'https://d' || (n % $3) || '.example/inbox/' || n,
                      'd' || (n % $3) || '.example',
                      CASE WHEN n <= $2 THEN 'pending' ELSE 'delivered' END,
                      now() + CASE WHEN n % 2 = 0 THEN interval '-5 minutes'
                                   ELSE interval '1 hour' END,
                      1
                 FROM generate_series(1, $1) n""",
            deliveries,
            pending,
            domains,
        )
        await conn.execute(
            """INSERT INTO domain_health (domain, failure_days, last_failure_at, unavailable)
               SELECT 'd' || n || '.example',
                      ARRAY(SELECT current_date - g FROM generate_series(1, n % 8) g),
                      now(), n % 8 = 7
                 FROM generate_series(0, $1 - 1) n""",
            domains,
        )
        await conn.execute(
            """INSERT INTO inbox_items (activity_uri, actor_uri, type, raw, key_id, state,
                                        next_attempt_at, origin_host, processed_at)
               SELECT 'https://i.example/' || n, 'https://i.example/u', 'Like', '{}', 'k',
                      CASE WHEN n % 4 = 0 THEN 'pending' ELSE 'done' END, now(),
                      'd' || (n % 100) || '.example',
                      CASE WHEN n % 4 = 0 THEN NULL ELSE now() END
                 FROM generate_series(1, 20000) n;
               INSERT INTO reports (activity_uri, reporter, targets, raw, resolved_at)
               SELECT 'https://r.example/' || n, 'https://r.example/u', '{}', '{}',
                      CASE WHEN n % 3 = 0 THEN NULL ELSE now() END
                 FROM generate_series(1, 1000) n"""
        )
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def _time(label: str, iterations: int, call: object) -> None:
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        await call()  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    figure(f"{label} p50", statistics.median(timings), "ms")
    figure(f"{label} max", timings[-1], "ms")


async def main(args: argparse.Namespace) -> None:
    """Load, then time."""
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(Path(tmp)) as database:
            heading(
                f"{args.deliveries:,} deliveries ({args.pending:,} pending), "
                f"{args.domains:,} domains"
            )
            started = time.perf_counter()
            await _load(database.dsn, args.deliveries, args.pending, args.domains)
            figure("load", time.perf_counter() - started, "s")
            conn = await connect(database.dsn)
            try:
                now = datetime.now(UTC) + timedelta(seconds=1)

                async def scrape() -> None:
                    await queries.select_queues(conn, now)
                    await queries.count_domains(conn)
                    await queries.select_backlog(conn)

                async def dashboard() -> None:
                    await service.overview(conn, now=now, media_dir=Path(tmp) / "media")
                    await service.domains_page(conn, page=0, size=50)

                heading("timings (wall clock, one connection)")
                await _time("one /metrics scrape's queries", args.iterations, scrape)
                await _time("one dashboard page's queries", args.iterations, dashboard)
            finally:
                await conn.close()
    print(f"\n{CAVEAT}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300_000)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--domains", type=int, default=2_000)
    parser.add_argument("--iterations", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
