"""Exports benchmark: the open-data routes on a région with many events, organisations,
proposals (with ballots) and posts, timed through the app (Quart's test client, in process).

Run from the repository root (about a minute with the defaults):

    .venv/bin/python -m bench.exports
    .venv/bin/python -m bench.exports --events 100000 --requests 20

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- imports a slice of the territory tree (the région Île-de-France, Seine-Saint-Denis, Montreuil
  and Bagnolet) and serves the région;
- inserts --events remote public events over three years around now (one in 20 carries #velo,
  one in 30 is cancelled), --proposals closed proposals with --ballots ballots each, and a
  located post per 10 events;
- times --requests GETs of each export (median and p95, in ms, with the body size), every route
  once per round, in --rounds rounds;
- the lever of migration 0028: the agenda of a rare hashtag (one event in 1000 carries #rare)
  with the GIN index of tags, and without it (dropped, then made again), alternating in the
  same run, as a ratio;
- the longest wait of small requests (the catalogue, one after another) while events.csv is
  served, the table written on a thread (as served) and on the event loop, alternating.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from bench.common import CAVEAT, fresh_database, heading
from fedicity.db.pool import Pool, create_pool
from fedicity.settings import Settings
from fedicity.territories.importer import import_territories
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app

BASE = "http://bench.example"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SLICE = """level,code,name,kind,region,departement,epci,commune,postal_codes,population,zone,\
latitude,longitude,bbox
country,FR,France,,,,,,,68952941,,,,
region,11,Île-de-France,,,,,,,12463067,metro,,,
departement,93,Seine-Saint-Denis,,11,,,,,1704316,metro,,,
commune,93048,Montreuil,,11,93,,,93100,111934,metro,48.8638,2.4485,
commune,93006,Bagnolet,,11,93,,,93170,43086,metro,48.8692,2.4183,
"""
GIN = """CREATE INDEX events_tags ON events USING gin (tags)
          WHERE deleted_at IS NULL AND public"""


async def _seed(pool: Pool, args: argparse.Namespace, tmp: Path) -> None:
    path = tmp / "slice.csv"
    path.write_text(SLICE, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path, source_format="csv")
        communes = [
            row["id"]
            for row in await conn.fetch("SELECT id FROM territories WHERE level = 'commune'")
        ]
        await conn.execute(
            """INSERT INTO events (uri, organizer_uri, title, description_html, starts_at,
                                   ends_at, tags, status, territory_id, latitude, longitude,
                                   place_name, published)
               SELECT 'https://remote.example/events/' || n, 'https://remote.example/@org',
                      'Événement ' || n, '<p>Texte ' || n || '</p>',
                      $2::timestamptz - interval '730 days' + n * (interval '1095 days' / $1),
                      $2::timestamptz - interval '730 days' + n * (interval '1095 days' / $1)
                          + interval '2 hours',
                      CASE WHEN n % 1000 = 0 THEN ARRAY['velo', 'quartier', 'rare']
                           WHEN n % 20 = 0 THEN ARRAY['velo', 'quartier']
                           ELSE ARRAY['quartier'] END,
                      CASE WHEN n % 30 = 0 THEN 'cancelled' ELSE 'confirmed' END,
                      ($3::bigint[])[1 + n % cardinality($3::bigint[])],
                      48.86 + (n % 100) / 10000.0, 2.44 + (n % 97) / 10000.0, 'Place ' || n,
                      $2::timestamptz - interval '800 days'
                 FROM generate_series(1, $1) AS n""",
            args.events,
            NOW,
            communes,
        )
        await conn.execute(
            """INSERT INTO proposals (uri, author_uri, title, content_html, state, options,
                                      territory_id, published, result)
               SELECT 'https://remote.example/proposals/' || n, 'https://remote.example/@a',
                      'Proposition ' || n, '<p>Texte</p>', 'closed',
                      ARRAY['Pour', 'Contre', 'Abstention'],
                      ($3::bigint[])[1 + n % cardinality($3::bigint[])],
                      $2::timestamptz - n * interval '1 hour', 'adopted'
                 FROM generate_series(1, $1) AS n""",
            args.proposals,
            NOW,
            communes,
        )
        await conn.execute(
            """INSERT INTO proposal_votes (proposal_id, voter_uri, options, local, created_at,
                                           updated_at)
               SELECT p.id, 'https://bench.example/actors/v' || v,
                      ARRAY[(ARRAY['Pour', 'Contre', 'Abstention'])[1 + v % 3]], true, $2, $2
                 FROM proposals p, generate_series(1, $1) AS v""",
            args.ballots,
            NOW,
        )
        await conn.execute(
            """INSERT INTO located_items (object_uri, kind, territory_id, scope_ids, title,
                                          summary, url, author_uri, origin_host, published)
               SELECT 'https://remote.example/notes/' || n, 'post', t,
                      ARRAY(SELECT ancestor_id FROM territory_ancestors WHERE descendant_id = t),
                      '', 'Message ' || n, 'https://remote.example/notes/' || n,
                      'https://remote.example/@a', 'remote.example',
                      $2::timestamptz - n * interval '1 minute'
                 FROM generate_series(1, $1) AS n,
                      LATERAL (SELECT ($3::bigint[])[1 + n % cardinality($3::bigint[])] AS t) c""",
            args.events // 10,
            NOW,
            communes,
        )
        await conn.execute("VACUUM ANALYZE")


async def _time(client: TestClientProtocol, path: str, n: int) -> tuple[list[float], int]:
    took: list[float] = []
    size = 0
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(path)
        body = await response.get_data()
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(body)
    return took, size


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with fresh_database(tmp) as db:
            pool = await create_pool(db.dsn)
            try:
                await _seed(pool, args, tmp)
                settings = Settings(
                    base_url=BASE,
                    listen="127.0.0.1:0",
                    data_dir=tmp,
                    secret_key="bench-secret-key-that-is-long-enough",  # noqa: S106
                    territory_level="region",
                    territory_code="11",
                    # The files' own cost is measured here, not the per-client limit.
                    heavy_exports_per_ten_minutes=1_000_000,
                )
                assert await prepare_serving(pool, settings) is not None
                await _run(create_app(settings, pool=pool), pool, args)
            finally:
                await pool.close()


async def _run(app: Quart, pool: Pool, args: argparse.Namespace) -> None:
    urls = Urls(BASE)
    paths = {
        "agenda.ics (région)": urls.territory_export("region", "11", "agenda.ics"),
        "events.csv (région)": urls.territory_export("region", "11", "events.csv"),
        "proposals.csv (région)": urls.territory_export("region", "11", "proposals.csv"),
        "organizations.csv": urls.territory_export("region", "11", "organizations.csv"),
        "map.geojson (région)": urls.territory_export("region", "11", "map.geojson"),
        "feed.atom (région)": urls.territory_feed("region", "11", "atom"),
        "proposals feed.rss": urls.proposals_feed("rss"),
        "catalogue.jsonld": urls.catalogue,
        "tag agenda #velo": urls.tag_agenda("velo"),
    }
    paths = {label: path.removeprefix(BASE) for label, path in paths.items()}
    times: dict[str, list[float]] = {label: [] for label in paths}
    sizes: dict[str, int] = {}
    async with app.test_app():
        client = app.test_client()
        for path in paths.values():  # warm-up
            await _time(client, path, 1)
        for _ in range(args.rounds):
            for label, path in paths.items():
                took, sizes[label] = await _time(client, path, args.requests)
                times[label] += took
        heading(
            f"Exports: {args.events} events, {args.proposals} proposals x {args.ballots} "
            f"ballots, {args.requests} x {args.rounds} GETs each"
        )
        for label, took in times.items():
            p95 = statistics.quantiles(took, n=20)[-1] if len(took) > 1 else took[0]
            print(
                f"  {label:26} median {statistics.median(took):8.1f} ms   p95 {p95:8.1f} ms"
                f"   {sizes[label] / 1024:8.1f} KiB"
            )
        heading(
            "Hashtag agenda of a rare tag (1 event in 1000): the GIN index of tags "
            "(migration 0028) on and off, alternating"
        )
        with_index: list[float] = []
        without: list[float] = []
        path = urls.tag_agenda("rare").removeprefix(BASE)
        for _ in range(args.rounds):
            took, _ = await _time(client, path, args.requests)
            with_index += took
            async with pool.acquire() as conn:
                await conn.execute("DROP INDEX events_tags")
            took, _ = await _time(client, path, args.requests)
            without += took
            async with pool.acquire() as conn:
                await conn.execute(GIN)
        on, off = statistics.median(with_index), statistics.median(without)
        print(f"  with the index     median {on:8.1f} ms")
        print(f"  without it         median {off:8.1f} ms")
        print(f"  with / without     {on / off:8.2f}x")
        await _blocking(client, paths, args)
    print(CAVEAT)


async def _inline(function: Any, /, *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


async def _blocking(
    client: TestClientProtocol, paths: dict[str, str], args: argparse.Namespace
) -> None:
    """The longest wait of small requests (the catalogue, one after another) made while
    events.csv is being served: the table written on a thread (as served), and on the event loop
    (asyncio.to_thread replaced by an inline call), alternating."""
    heading("Catalogue GETs made one after another while events.csv is served: the longest")
    longest: dict[str, list[float]] = {"on a thread": [], "on the event loop": []}
    real = asyncio.to_thread
    for _ in range(args.rounds * args.requests):
        for label, values in longest.items():
            asyncio.to_thread = real if label == "on a thread" else _inline  # type: ignore[assignment]
            try:
                big = asyncio.create_task(_time(client, paths["events.csv (région)"], 1))
                waits = [0.0]
                while not big.done():
                    took, _ = await _time(client, paths["catalogue.jsonld"], 1)
                    waits.append(took[0])
                await big
                values.append(max(waits))
            finally:
                asyncio.to_thread = real
    thread, loop = (statistics.median(w) for w in longest.values())
    print(f"  on a thread        median of the longest {thread:8.1f} ms")
    print(f"  on the event loop  median of the longest {loop:8.1f} ms")
    print(f"  thread / loop      {thread / loop:8.2f}x")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--proposals", type=int, default=2_000)
    parser.add_argument("--ballots", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
