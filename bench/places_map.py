"""Map benchmark: what the map's GeoJSON costs once it reads every located kind (points of
interest with their kind, needs and offers, projects, proposals, posts) instead of the two it
read before (proposals and posts), timed through the app (Quart's test client, in process).

Run from the repository root (under a minute with the defaults):

    .venv/bin/python -m bench.places_map
    .venv/bin/python -m bench.places_map --items 20000 --requests 30

It imports a slice of the territory tree (Île-de-France, Seine-Saint-Denis, Montreuil, Bagnolet),
serves the région, inserts --items located items of each kind with a point (and a
points_of_interest row for each place), then times GETs of /map/features.geojson and the région's
map.geojson with the located kinds of this change and with only the two of before (the module's
LOCATED_KINDS narrowed, the rest unchanged), alternating in the same run, as ratios. Each kind is
capped at 200 markers either way. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.common import CAVEAT, fresh_database, heading
from bench.exports import BASE, NOW, SLICE, _time
from fedicity.db.pool import Pool, create_pool
from fedicity.exports import geojson
from fedicity.settings import Settings
from fedicity.territories.importer import import_territories
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app

KINDS = ("place", "listing", "project", "proposal", "post")
PLACE_KINDS = ("compost_point", "shared_library", "artwork", "recycling_centre", "heritage")


async def _seed(pool: Pool, items: int, tmp: Path) -> None:
    path = tmp / "slice.csv"
    path.write_text(SLICE, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path, source_format="csv")
        communes = [
            row["id"]
            for row in await conn.fetch("SELECT id FROM territories WHERE level = 'commune'")
        ]
        for kind in KINDS:
            await conn.execute(
                """INSERT INTO located_items (object_uri, kind, territory_id, scope_ids, title,
                                              summary, url, author_uri, origin_host, published,
                                              latitude, longitude)
                   SELECT 'https://remote.example/' || $4 || '/' || n, $4, t,
                          ARRAY(SELECT ancestor_id FROM territory_ancestors
                                 WHERE descendant_id = t),
                          $4 || ' ' || n, '', 'https://remote.example/' || $4 || '/' || n,
                          'https://remote.example/@a', 'remote.example',
                          $2::timestamptz - n * interval '1 minute',
                          48.86 + (n % 100) / 10000.0, 2.44 + (n % 97) / 10000.0
                     FROM generate_series(1, $1) AS n,
                          LATERAL (SELECT ($3::bigint[])[1 + n % cardinality($3::bigint[])]
                                          AS t) c""",
                items,
                NOW,
                communes,
                kind,
            )
        await conn.execute(
            """INSERT INTO points_of_interest (uri, kind, name, latitude, longitude,
                                               territory_id, author_uri, local, published)
               SELECT object_uri, ($1::text[])[1 + id % cardinality($1::text[])], title,
                      latitude, longitude, territory_id, author_uri, false, published
                 FROM located_items WHERE kind = 'place'""",
            list(PLACE_KINDS),
        )
        await conn.execute("VACUUM ANALYZE")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with fresh_database(tmp) as db:
            pool = await create_pool(db.dsn)
            try:
                await _seed(pool, args.items, tmp)
                settings = Settings(
                    base_url=BASE,
                    listen="127.0.0.1:0",
                    data_dir=tmp,
                    secret_key="bench-secret-key-that-is-long-enough",  # noqa: S106
                    territory_level="region",
                    territory_code="11",
                    heavy_exports_per_ten_minutes=1_000_000,
                )
                assert await prepare_serving(pool, settings) is not None
                app = create_app(settings, pool=pool)
                urls = Urls(BASE)
                paths = {
                    "/map/features.geojson": "/map/features.geojson",
                    "map.geojson (région)": urls.territory_export(
                        "region", "11", "map.geojson"
                    ).removeprefix(BASE),
                }
                every, before = geojson.LOCATED_KINDS, ("proposal", "post")
                async with app.test_app():
                    client = app.test_client()
                    for path in paths.values():
                        await _time(client, path, 2)
                    heading(
                        f"Map GeoJSON, {args.items} located items of each of {len(KINDS)} kinds "
                        f"(200 markers per kind at most), {args.requests} x {args.rounds} GETs"
                    )
                    for label, path in paths.items():
                        now: list[float] = []
                        then: list[float] = []
                        sizes = [0, 0]
                        for _ in range(args.rounds):
                            took, sizes[0] = await _time(client, path, args.requests)
                            now += took
                            geojson.LOCATED_KINDS = before  # type: ignore[misc,assignment]
                            try:
                                took, sizes[1] = await _time(client, path, args.requests)
                                then += took
                            finally:
                                geojson.LOCATED_KINDS = every  # type: ignore[misc]
                        new, old = statistics.median(now), statistics.median(then)
                        print(
                            f"  {label:24} every kind {new:7.1f} ms ({sizes[0] / 1024:6.1f} KiB)"
                            f"   proposals and posts only {old:7.1f} ms"
                            f" ({sizes[1] / 1024:6.1f} KiB)   ratio {new / old:5.2f}x"
                        )
            finally:
                await pool.close()
    print(CAVEAT)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000, help="located items per kind")
    parser.add_argument("--requests", type=int, default=10, help="GETs per round and route")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
