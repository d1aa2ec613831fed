"""Projects benchmark: the list of projects (/projects, filtered by maturity and territory) and
the organisations' lists (which leave projects out), on many organisation-shaped actors, timed
through the app (Quart's test client, in process).

Run from the repository root (under a minute with the defaults):

    .venv/bin/python -m bench.projects
    .venv/bin/python -m bench.projects --projects 100000 --requests 20

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- imports a slice of the territory tree (Seine-Saint-Denis, Montreuil, Bagnolet) and serves the
  département;
- inserts --organizations organisations and --projects projects (actors without keys, as
  imported ones are), each project with a maturity (in turn) and a commune (one in
  --bagnolet-one-in in Bagnolet);
- times --requests GETs of each list (median and p95, in ms), every route once per round;
- the lever migration 0034 left out, indexes on maturity and territory: the rare filtered list
  with them (made for the run) and without them (as migrated, dropped again), alternating in
  the same run, as a ratio;
- the lever migration 0034 keeps, its index of organisations only: /organizations with it (as
  migrated) and without it (dropped, then made again), alternating, as a ratio.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from quart.typing import TestClientProtocol

from bench.common import CAVEAT, fresh_database, heading
from fedicity.db.pool import Pool, create_pool
from fedicity.settings import Settings
from fedicity.territories.importer import import_territories
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app

BASE = "http://bench.example"
SLICE = """level,code,name,kind,region,departement,epci,commune,postal_codes,population,zone,\
latitude,longitude,bbox
country,FR,France,,,,,,,68952941,,,,
region,11,Île-de-France,,,,,,,12463067,metro,,,
departement,93,Seine-Saint-Denis,,11,,,,,1704316,metro,,,
commune,93048,Montreuil,,11,93,,,93100,111934,metro,48.8638,2.4485,
commune,93006,Bagnolet,,11,93,,,93170,43086,metro,48.8692,2.4183,
"""
INDEXES = {
    "projects_maturity": "CREATE INDEX projects_maturity ON projects (maturity, actor_id DESC)",
    "projects_territory": (
        "CREATE INDEX projects_territory ON projects (territory_id, actor_id DESC)"
    ),
}
# Migration 0034's index of organisations only, so that their lists skip the projects.
ORGANIZATIONS_ONLY = """CREATE INDEX actors_organizations_only ON actors (id DESC)
    WHERE kind = 'organization' AND organization_kind IS DISTINCT FROM 'project'"""
MATURITIES = ("idea", "concept", "started", "development", "testing", "mature")


async def _seed(pool: Pool, args: argparse.Namespace, tmp: Path) -> None:
    path = tmp / "slice.csv"
    path.write_text(SLICE, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path, source_format="csv")
        montreuil = await conn.fetchval("SELECT id FROM territories WHERE code = '93048'")
        bagnolet = await conn.fetchval("SELECT id FROM territories WHERE code = '93006'")
        await conn.execute(
            """INSERT INTO actors (username, kind, organization_kind, display_name, summary)
               SELECT 'org' || n, 'organization', 'association', 'Association ' || n, ''
                 FROM generate_series(1, $1) AS n""",
            args.organizations,
        )
        await conn.execute(
            """INSERT INTO actors (username, kind, organization_kind, display_name, summary)
               SELECT 'projet' || n, 'organization', 'project', 'Projet ' || n, ''
                 FROM generate_series(1, $1) AS n""",
            args.projects,
        )
        await conn.execute(
            """INSERT INTO projects (actor_id, owner_uri, maturity, territory_id)
               SELECT a.id, 'https://bench.example/actors/camille',
                      ($1::text[])[1 + (a.id / 7) % 6],
                      CASE WHEN a.id % $4 = 0 THEN $3::bigint ELSE $2::bigint END
                 FROM actors a WHERE a.organization_kind = 'project'""",
            list(MATURITIES),
            montreuil,
            bagnolet,
            args.bagnolet_one_in,
        )
        await conn.execute("VACUUM ANALYZE")


async def _time(client: TestClientProtocol, path: str, n: int) -> list[float]:
    took: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(path)
        await response.get_data()
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return took


def _line(label: str, took: list[float]) -> str:
    p95 = sorted(took)[max(0, int(len(took) * 0.95) - 1)]
    return f"{label:<55} median {statistics.median(took):7.1f} ms   p95 {p95:7.1f} ms"


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
                    territory_level="departement",
                    territory_code="93",
                )
                assert await prepare_serving(pool, settings) is not None
                app = create_app(settings, pool=pool)
                async with app.test_app():
                    await _run(app.test_client(), pool, args)
            finally:
                await pool.close()


async def _run(client: TestClientProtocol, pool: Pool, args: argparse.Namespace) -> None:
    heading(
        f"lists on {args.organizations} organisations and {args.projects} projects "
        f"({args.requests} requests x {args.rounds} rounds)"
    )
    rare = "/projects?maturity=mature&territory=93006"
    paths = {
        "/projects (newest first)": "/projects",
        "/projects?maturity=mature": "/projects?maturity=mature",
        "/projects?maturity=mature&territory=Bagnolet": rare,
        "/organizations (projects left out)": "/organizations",
        "/api/v1/organizations (projects left out)": "/api/v1/organizations",
    }
    took: dict[str, list[float]] = {label: [] for label in paths}
    for _ in range(args.rounds):
        for label, path in paths.items():
            took[label] += await _time(client, path, args.requests)
    for label, values in took.items():
        print(_line(label, values), flush=True)

    heading("lever: indexes on maturity and territory for the rare filtered list, alternating")
    with_indexes: list[float] = []
    without: list[float] = []
    for _ in range(args.rounds):
        without += await _time(client, rare, args.requests)
        async with pool.acquire() as conn:
            for statement in INDEXES.values():
                await conn.execute(statement)
            await conn.execute("ANALYZE projects")
        with_indexes += await _time(client, rare, args.requests)
        async with pool.acquire() as conn:
            for index in INDEXES:
                await conn.execute(f"DROP INDEX {index}")
            await conn.execute("ANALYZE projects")
    print(_line("with the indexes", with_indexes))
    print(_line("without them", without))
    ratio = statistics.median(with_indexes) / statistics.median(without)
    print(f"ratio (with / without): {ratio:.2f}x   ({CAVEAT})", flush=True)

    heading("lever: migration 0034's index of organisations only, for /organizations, alternating")
    with_index: list[float] = []
    without_index: list[float] = []
    for _ in range(args.rounds):
        with_index += await _time(client, "/organizations", args.requests)
        async with pool.acquire() as conn:
            await conn.execute("DROP INDEX actors_organizations_only")
            await conn.execute("ANALYZE actors")
        without_index += await _time(client, "/organizations", args.requests)
        async with pool.acquire() as conn:
            await conn.execute(ORGANIZATIONS_ONLY)
            await conn.execute("ANALYZE actors")
    print(_line("with the partial index", with_index))
    print(_line("without it", without_index))
    ratio = statistics.median(with_index) / statistics.median(without_index)
    print(f"ratio (with / without): {ratio:.2f}x   ({CAVEAT})", flush=True)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=5_000)
    parser.add_argument("--projects", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    # How rare Bagnolet's projects are: the rarer, the more rows a newest-first scan reads.
    parser.add_argument("--bagnolet-one-in", type=int, default=100)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
