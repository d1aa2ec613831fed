"""Co-moderation benchmark: finding the territories' Announces of one object in a large outbox,
with the expression index of migration 0038 and without it, alternating in the same run.

Run from the repository root (under a minute with the defaults):

    .venv/bin/python -m bench.comoderation
    .venv/bin/python -m bench.comoderation --announces 500000 --lookups 50

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- imports a slice of the territory tree and serves Montreuil (its territory actor and those
  above it);
- inserts --announces Announces of Creates by those territory actors, as
  territories/service.py:locate_and_announce stores them (plus as many Creates of posts);
- times --lookups look-ups of one object's Announces (stewardship/queries.py, what a settled
  vote runs once) with the index, then without it (dropped, then made again), in --rounds
  rounds, and prints the medians and their ratio.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import CAVEAT, fresh_database, heading
from fedicity.db.pool import Pool, create_pool
from fedicity.settings import Settings
from fedicity.stewardship import queries
from fedicity.territories.importer import import_territories
from fedicity.territories.service import prepare_serving

BASE = "http://bench.example"
SLICE = """level,code,name,kind,region,departement,epci,commune,postal_codes,population,zone,\
latitude,longitude,bbox
country,FR,France,,,,,,,68952941,,,,
region,11,Île-de-France,,,,,,,12463067,metro,,,
departement,93,Seine-Saint-Denis,,11,,,,,1704316,metro,,,
commune,93048,Montreuil,,11,93,,,93100,111934,metro,48.8638,2.4485,
"""
INDEX = """CREATE INDEX outbox_activities_announced ON outbox_activities
    ((coalesce(raw -> 'object' -> 'object' ->> 'id', raw -> 'object' ->> 'object')))
    WHERE type = 'Announce'"""


async def _seed(pool: Pool, args: argparse.Namespace, tmp: Path) -> None:
    path = tmp / "slice.csv"
    path.write_text(SLICE, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path, source_format="csv")
    settings = Settings(
        base_url=BASE,
        listen="127.0.0.1:0",
        data_dir=tmp,
        secret_key="bench-secret-key-that-is-long-enough",  # noqa: S106
        territory_level="region",
        territory_code="11",
    )
    assert await prepare_serving(pool, settings) is not None
    async with pool.acquire() as conn:
        actors = [
            row["id"] for row in await conn.fetch("SELECT id FROM actors WHERE kind = 'territory'")
        ]
        # One Create per post and one Announce of it by each territory actor in turn.
        await conn.execute(
            """INSERT INTO outbox_activities (uri, actor_id, type, object_uri, raw, public)
               SELECT $3::text || '/notes/' || n || '/activity', ($2::bigint[])[1],
                      'Create',
                      $3 || '/notes/' || n,
                      jsonb_build_object('type', 'Create', 'id', $3 || '/notes/' || n
                                         || '/activity', 'object', jsonb_build_object(
                                             'id', $3 || '/notes/' || n, 'type', 'Note')),
                      true
                 FROM generate_series(1, $1) AS n""",
            args.announces,
            actors,
            BASE,
        )
        await conn.execute(
            """INSERT INTO outbox_activities (uri, actor_id, type, object_uri, raw, public)
               SELECT $3::text || '/activities/a' || n,
                      ($2::bigint[])[1 + n % cardinality($2::bigint[])], 'Announce',
                      $3 || '/notes/' || n || '/activity',
                      jsonb_build_object('type', 'Announce', 'object', jsonb_build_object(
                          'type', 'Create', 'id', $3 || '/notes/' || n || '/activity',
                          'object', jsonb_build_object('id', $3 || '/notes/' || n, 'type',
                                                       'Note', 'content', repeat('x', 300)))),
                      true
                 FROM generate_series(1, $1) AS n""",
            args.announces,
            actors,
            BASE,
        )
        await conn.execute("ANALYZE outbox_activities")


async def _lookups(pool: Pool, args: argparse.Namespace, rng: random.Random) -> list[float]:
    took = []
    async with pool.acquire() as conn:
        for _ in range(args.lookups):
            uri = f"{BASE}/notes/{rng.randint(1, args.announces)}"
            start = time.perf_counter()
            found = await queries.select_territory_announces(conn, uri)
            took.append((time.perf_counter() - start) * 1000)
            assert len(found) == 1, (uri, found)
    return took


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with fresh_database(tmp) as db:
            pool = await create_pool(db.dsn)
            try:
                heading(f"seeding {args.announces:,} Announces and as many Creates")
                await _seed(pool, args, tmp)
                rng = random.Random(38)
                with_index: list[float] = []
                without: list[float] = []
                for _ in range(args.rounds):
                    with_index += await _lookups(pool, args, rng)
                    async with pool.acquire() as conn:
                        await conn.execute("DROP INDEX outbox_activities_announced")
                    without += await _lookups(pool, args, rng)
                    async with pool.acquire() as conn:
                        await conn.execute(INDEX)
                heading(f"one object's territory Announces ({CAVEAT})")
                indexed, scanned = statistics.median(with_index), statistics.median(without)
                print(f"  with the index of 0038     median {indexed:9.2f} ms")
                print(f"  without it (a scan)        median {scanned:9.2f} ms")
                print(f"  without / with             {scanned / indexed:9.1f}x")
            finally:
                await pool.close()


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--announces", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
