"""Scope benchmark: select_in_scope and select_near on a région-sized set of located items.

Run from the repository root (about 75 s with the defaults; see docs/benchmarks.md):

    .venv/bin/python -m bench.scope
    .venv/bin/python -m bench.scope --region 84 --items 100000 --iterations 200
    .venv/bin/python -m bench.scope --plan-cache-modes auto,force_custom_plan,force_generic_plan

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- imports the whole shipped territory file (fedicity.territories.importer.import_territories);
- picks a région (--region, 11 Île-de-France by default) and makes --items located items spread
  over its communes, weighted by population (a commune split into arrondissements municipaux,
  Paris, gets its items in its arrondissements, by their population); kinds post/event/proposal
  70/20/10 %; published uniformly over the last 2 years, inserted in published order (as a live
  instance receives them);
- gives every item a position: the shipped file has no coordinates, so each département gets a
  deterministic pseudo-random centre inside a rough box of the région, each commune a point
  around its département's centre, and each item a point jittered around its commune's (wider for
  bigger communes);
- loads them with COPY into a temporary table, then one INSERT ... SELECT that computes scope_ids
  from territory_ancestors exactly as fedicity.located.queries.upsert_item does, with the
  migrations' indexes in place; then VACUUM (ANALYZE);
- times, on one fresh connection per --plan-cache-modes entry (by default the mode the app's pool
  sets, force_custom_plan from fedicity.db.pool.SERVER_SETTINGS, then PostgreSQL's own auto for
  comparison in the same run), wall clock around the real
  query functions, so asyncpg's prepared-statement cache and PostgreSQL's plan cache behave as in
  the app, every query family --iterations times with random targets, all families shuffled
  together after a short warm-up:
  select_in_scope for the région, random départements, EPCIs and communes (first page of 20 and
  a deep page whose keyset cursor is a random item's (published, id), each with and without a
  random kind), and select_near with radii 1, 5 and 20 km around random items' positions (with
  and without a kind);
- prints p50, p95, p99 and max per family against the p99 target, and the p99s side by side;
- checks whether a connection whose first five select_in_scope calls have the costliest custom
  plans switches to the generic plan, by timing the région and its départements after them;
- runs EXPLAIN (ANALYZE, BUFFERS) of the first mode's slowest family's slowest call: as a custom
  plan, and as the generic plan a prepared statement may switch to after five executions.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from bench.common import CAVEAT, fresh_database, heading
from fedicity.db.pool import SERVER_SETTINGS, connect
from fedicity.located import queries as located
from fedicity.located.models import ITEM_KINDS
from fedicity.territories.importer import import_territories

# The plan_cache_mode every connection of the app's pool runs with: timed first, by default.
APP_MODE = SERVER_SETTINGS["plan_cache_mode"]
TARGET_P99_MS = 50.0
PAGE = 20
KIND_WEIGHTS = (0.7, 0.2, 0.1)  # post, event, proposal
RADII_KM = (1.0, 5.0, 20.0)
HISTORY = timedelta(days=730)
KM_PER_DEGREE = 111.2
# Rough boxes (south, north, west, east) of the régions, for synthetic positions.
REGION_BOXES: dict[str, tuple[float, float, float, float]] = {
    "01": (15.85, 16.50, -61.80, -61.00),  # Guadeloupe
    "02": (14.40, 14.87, -61.22, -60.82),  # Martinique
    "03": (2.20, 5.70, -54.50, -51.70),  # Guyane
    "04": (-21.38, -20.88, 55.22, 55.83),  # La Réunion
    "06": (-12.99, -12.64, 45.02, 45.29),  # Mayotte
    "11": (48.50, 49.20, 1.50, 3.60),  # Île-de-France
    "24": (46.40, 48.90, 0.10, 3.10),  # Centre-Val de Loire
    "27": (46.20, 48.40, 2.90, 7.10),  # Bourgogne-Franche-Comté
    "28": (48.20, 50.05, -1.90, 1.75),  # Normandie
    "32": (48.85, 51.05, 1.40, 4.20),  # Hauts-de-France
    "44": (47.45, 50.15, 3.40, 8.20),  # Grand Est
    "52": (46.30, 48.55, -2.60, 0.90),  # Pays de la Loire
    "53": (47.30, 48.85, -5.10, -1.05),  # Bretagne
    "75": (42.80, 47.15, -1.75, 2.60),  # Nouvelle-Aquitaine
    "76": (42.35, 45.00, -0.30, 4.80),  # Occitanie
    "84": (44.15, 46.78, 2.10, 7.15),  # Auvergne-Rhône-Alpes
    "93": (43.00, 45.10, 4.25, 7.70),  # Provence-Alpes-Côte d'Azur
    "94": (41.35, 43.00, 8.55, 9.55),  # Corse
}


# ---------------------------------------------------------------------------------------------
# The région and its synthetic geography


@dataclass
class Place:
    """Where items are located: a commune, or an arrondissement municipal of one."""

    territory_id: int
    population: int
    latitude: float
    longitude: float
    sigma_km: float


@dataclass
class Region:
    """The région's territory ids by level, and the places items go to."""

    id: int
    name: str
    departements: list[int]
    epcis: list[int]
    communes: list[int]
    places: list[Place]


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from its parts (stable across runs and machines)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


async def load_region(conn: Any, code: str, box: tuple[float, float, float, float]) -> Region:
    """The région's tree from the database, and a plausible point per commune."""
    region = await conn.fetchrow(
        "SELECT id, name FROM territories WHERE level = 'region' AND code = $1", code
    )
    if region is None:
        raise SystemExit(f"no région with code {code!r} in the shipped file")
    below = await conn.fetch(
        """SELECT t.id, t.level, t.code, t.kind, t.population, t.parent_id
             FROM territory_ancestors a JOIN territories t ON t.id = a.descendant_id
            WHERE a.ancestor_id = $1 AND a.depth > 0""",
        region["id"],
    )
    by_level: dict[str, list[Any]] = defaultdict(list)
    for row in below:
        by_level[row["level"]].append(row)
    # A commune's département: its ancestor at level 'departement'.
    dept_of = {
        row["descendant_id"]: row["ancestor_id"]
        for row in await conn.fetch(
            """SELECT a.descendant_id, a.ancestor_id
                 FROM territory_ancestors a JOIN territories d ON d.id = a.ancestor_id
                WHERE d.level = 'departement' AND a.descendant_id = ANY($1::bigint[])""",
            [row["id"] for row in by_level["commune"]],
        )
    }
    south, north, west, east = box
    dept_code = {row["id"]: row["code"] for row in by_level["departement"]}
    # Each département's centre somewhere in the middle of the box; its communes around it.
    centres = {
        dept_id: (
            south + (0.2 + 0.6 * _unit("dept-lat", dept)) * (north - south),
            west + (0.2 + 0.6 * _unit("dept-lon", dept)) * (east - west),
        )
        for dept_id, dept in dept_code.items()
    }
    spread = 0.22 * (north - south)  # degrees of latitude around a département's centre
    arrondissements: dict[int, list[Any]] = defaultdict(list)
    for row in by_level["quartier"]:
        if row["kind"] == "arrondissement-municipal":
            arrondissements[row["parent_id"]].append(row)
    places: list[Place] = []
    for row in by_level["commune"]:
        c_lat, c_lon = centres[dept_of[row["id"]]]
        angle = 2 * math.pi * _unit("angle", row["code"])
        distance = spread * math.sqrt(_unit("dist", row["code"]))
        lat = _clamp(c_lat + distance * math.sin(angle), south, north)
        lon = _clamp(c_lon + distance * math.cos(angle) / math.cos(math.radians(c_lat)), west, east)
        population = row["population"] or 1
        subdivisions = arrondissements.get(row["id"])
        if not subdivisions:
            places.append(Place(row["id"], population, lat, lon, _sigma_km(population)))
            continue
        # A city with arrondissements: items go to them, on a small ring around the city.
        for index, sub in enumerate(sorted(subdivisions, key=lambda s: s["code"])):
            ring = 2 * math.pi * index / len(subdivisions)
            km = 1.0 + 3.0 * _unit("ring", sub["code"])
            places.append(
                Place(
                    sub["id"],
                    sub["population"] or 1,
                    lat + km / KM_PER_DEGREE * math.sin(ring),
                    lon + km / KM_PER_DEGREE * math.cos(ring) / math.cos(math.radians(lat)),
                    _sigma_km(sub["population"] or 1),
                )
            )
    if not places:
        raise SystemExit(f"région {code} has no commune")
    return Region(
        id=region["id"],
        name=region["name"],
        departements=[row["id"] for row in by_level["departement"]],
        epcis=[row["id"] for row in by_level["epci"]],
        communes=[row["id"] for row in by_level["commune"]],
        places=places,
    )


def _sigma_km(population: int) -> float:
    """How far items spread around their place: 0.3 km for a hamlet, about 2 km for 200,000."""
    return min(0.3 + 0.004 * math.sqrt(population), 4.0)


# ---------------------------------------------------------------------------------------------
# Loading


ITEM_COLUMNS = [
    "object_uri", "kind", "territory_id", "latitude", "longitude", "title", "summary", "url",
    "author_uri", "origin_host", "via", "published", "starts_at",
]  # fmt: skip


def make_items(
    region: Region, count: int, now: datetime, rng: random.Random
) -> list[tuple[Any, ...]]:
    """`count` item records (COPY order of ITEM_COLUMNS), oldest first."""
    places = rng.choices(region.places, weights=[p.population for p in region.places], k=count)
    kinds = rng.choices(ITEM_KINDS, weights=KIND_WEIGHTS, k=count)
    span = HISTORY.total_seconds()
    stamps = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(count))
    records = []
    hosts = [f"city{n}.example" for n in range(12)]
    for index, (place, kind, published) in enumerate(zip(places, kinds, stamps, strict=True)):
        sigma = place.sigma_km / KM_PER_DEGREE
        lat = place.latitude + rng.gauss(0, sigma)
        lon = place.longitude + rng.gauss(0, sigma) / math.cos(math.radians(place.latitude))
        host = hosts[index % len(hosts)]
        author = f"https://{host}/users/u{rng.randrange(5000)}"
        uri = f"https://{host}/objects/{index}"
        starts = published + timedelta(days=rng.uniform(1, 60)) if kind == "event" else None
        records.append(
            (
                uri,
                kind,
                place.territory_id,
                lat,
                lon,
                f"{kind.title()} {index}: la fête du quartier, le marché, le conseil",
                "Un résumé d'une centaine de caractères, comme le serait celui d'un vrai "
                "message, avec des accents.",
                uri,
                author,
                host,
                None if index % 3 else f"https://{host}/territories/t{place.territory_id}",
                published,
                starts,
            )
        )
    return records


async def load_items(conn: Any, records: Sequence[tuple[Any, ...]]) -> tuple[float, float]:
    """COPY into a temporary table, then INSERT ... SELECT computing scope_ids.

    Returns the seconds of the COPY and of the INSERT."""
    started = time.perf_counter()
    columns = ", ".join(ITEM_COLUMNS)
    await conn.execute(
        f"CREATE TEMP TABLE _bench_items AS SELECT {columns} FROM located_items WITH NO DATA"  # noqa: S608
    )
    await conn.copy_records_to_table("_bench_items", records=records, columns=ITEM_COLUMNS)
    copied = time.perf_counter()
    await conn.execute(
        f"""INSERT INTO located_items (scope_ids, {columns})
            SELECT ARRAY(SELECT ancestor_id FROM territory_ancestors
                          WHERE descendant_id = s.territory_id), {columns}
              FROM _bench_items s
             ORDER BY published, object_uri"""  # noqa: S608 - constant column list
    )
    inserted = time.perf_counter()
    await conn.execute("DROP TABLE _bench_items")
    return copied - started, inserted - copied


# ---------------------------------------------------------------------------------------------
# Timing


Call = Callable[[Any], Awaitable[list[Any]]]


@dataclass
class Family:
    """A query family: its samples (ms), and the slowest call to explain."""

    name: str
    samples: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    slowest: tuple[float, str, Call] | None = None

    def record(self, ms: float, rows: int, label: str, call: Call) -> None:
        self.samples.append(ms)
        self.rows.append(rows)
        if self.slowest is None or ms > self.slowest[0]:
            self.slowest = (ms, label, call)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Task:
    family: str
    label: str
    call: Call


def build_tasks(
    region: Region,
    cursors: Sequence[tuple[datetime, int]],
    points: Sequence[tuple[float, float]],
    iterations: int,
    rng: random.Random,
) -> tuple[list[str], list[Task]]:
    """Every family's calls with random targets; the family names in print order."""
    levels = [
        ("région", [region.id]),
        ("département", region.departements),
        ("EPCI", region.epcis),
        ("commune", region.communes),
    ]
    names: list[str] = []
    tasks: list[Task] = []
    for level, ids in levels:
        if not ids:
            continue
        for deep in (False, True):
            for with_kind in (False, True):
                name = f"scope {level}, {'deep page' if deep else 'page 1'}" + (
                    ", kind" if with_kind else ""
                )
                names.append(name)
                for _ in range(iterations):
                    tid = rng.choice(ids)
                    kind = rng.choice(ITEM_KINDS) if with_kind else None
                    before = rng.choice(cursors) if deep else None
                    tasks.append(Task(name, f"territory {tid} kind={kind} before={before}",
                                      _scope_call(tid, kind, before)))  # fmt: skip
    for radius in RADII_KM:
        for with_kind in (False, True):
            name = f"near {radius:g} km" + (", kind" if with_kind else "")
            names.append(name)
            for _ in range(iterations):
                lat, lon = rng.choice(points)
                kind = rng.choice(ITEM_KINDS) if with_kind else None
                tasks.append(Task(name, f"({lat:.5f}, {lon:.5f}) r={radius:g} kind={kind}",
                                  _near_call(lat, lon, radius, kind)))  # fmt: skip
    return names, tasks


def _scope_call(tid: int, kind: str | None, before: tuple[datetime, int] | None) -> Call:
    def call(conn: Any) -> Awaitable[list[Any]]:
        return located.select_in_scope(conn, tid, limit=PAGE, kind=kind, before=before)

    return call


def _near_call(lat: float, lon: float, radius: float, kind: str | None) -> Call:
    def call(conn: Any) -> Awaitable[list[Any]]:
        return located.select_near(conn, lat, lon, radius, limit=PAGE, kind=kind)

    return call


async def run_tasks(conn: Any, tasks: Sequence[Task], families: dict[str, Family]) -> None:
    for task in tasks:
        started = time.perf_counter()
        rows = await task.call(conn)
        ms = (time.perf_counter() - started) * 1000
        families[task.family].record(ms, len(rows), task.label, task.call)


class _Capture:
    """Stands in for a connection to catch the SQL and arguments a query function sends."""

    def __init__(self) -> None:
        self.sql = ""
        self.args: tuple[Any, ...] = ()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.sql, self.args = sql, args
        return []


async def explain(conn: Any, call: Call, generic: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the call's SQL: a custom plan (the parameters' values are
    known to the planner), or the generic plan a prepared statement can switch to after five
    executions (PREPARE, then EXECUTE under plan_cache_mode = force_generic_plan)."""
    capture = _Capture()
    await call(capture)
    if not generic:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + capture.sql, *capture.args)
        return [row[0] for row in rows]
    rows = await _explain_generic(conn, capture, "ANALYZE, BUFFERS")
    return [row[0] for row in rows]


async def _explain_generic(conn: Any, capture: _Capture, options: str) -> list[Any]:
    statement = await conn.prepare(capture.sql)
    types = [param.name for param in statement.get_parameters()]
    values = ", ".join(
        _literal(value, type_) for value, type_ in zip(capture.args, types, strict=True)
    )
    await conn.execute(f"PREPARE _bench_explain ({', '.join(types)}) AS {capture.sql}")
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            rows: list[Any] = await conn.fetch(
                f"EXPLAIN ({options}) EXECUTE _bench_explain ({values})"
            )
    finally:
        await conn.execute("DEALLOCATE _bench_explain")
    return rows


def _literal(value: object, type_: str) -> str:
    """A SQL literal of a parameter as asyncpg would send it (it truncates floats to ints)."""
    if value is None:
        return "NULL"
    if type_ in ("int2", "int4", "int8"):
        value = int(cast(float, value))
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'::" + type_


# ---------------------------------------------------------------------------------------------
# The run


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fedicity-bench-scope-"))
    box = _box(args)
    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"fedicity scope benchmark, {now:%Y-%m-%d %H:%M} UTC; {CAVEAT}")
    print(
        f"region={args.region} items={args.items} iterations={args.iterations} page={PAGE} "
        f"seed={args.seed} plan_cache_modes={','.join(args.modes)} target p99 < "
        f"{TARGET_P99_MS:g} ms"
    )
    try:
        async with fresh_database(tmp / "pg", "fedicity_bench_scope") as db:
            conn = await connect(db.dsn)
            try:
                await _run(conn, db.dsn, args, box, rng, now)
            finally:
                await conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _run(
    conn: Any,
    dsn: str,
    args: argparse.Namespace,
    box: tuple[float, float, float, float],
    rng: random.Random,
    now: datetime,
) -> None:
    settings = {
        name: await conn.fetchval(f"SHOW {name}")
        for name in ("server_version", "shared_buffers", "work_mem", "random_page_cost")
    }
    print("PostgreSQL " + ", ".join(f"{name} {value}" for name, value in settings.items()))

    heading("Territories: the shipped file")
    report = await import_territories(conn)
    counts = {level: c.inserted for level, c in report.counts.items()}
    print(f"  imported {report.inserted:,} territories in {report.seconds:.1f} s: {counts}")
    print(f"  territory_ancestors: {report.ancestors_added:,} links")

    region = await load_region(conn, args.region, box)
    print(
        f"  région {args.region} {region.name}: {len(region.departements)} départements, "
        f"{len(region.epcis)} EPCIs, {len(region.communes)} communes, "
        f"{len(region.places)} places items go to (box {box})"
    )

    heading(f"Dataset: {args.items:,} located items in {region.name}")
    started = time.perf_counter()
    records = make_items(region, args.items, now, rng)
    generated = time.perf_counter() - started
    copy_s, insert_s = await load_items(conn, records)
    started = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) located_items")
    vacuum_s = time.perf_counter() - started
    print(
        f"  generated in {generated:.1f} s; COPY {copy_s:.1f} s; INSERT ... SELECT with scope_ids "
        f"{insert_s:.1f} s ({args.items / insert_s:,.0f} rows/s, indexes in place); "
        f"VACUUM (ANALYZE) {vacuum_s:.1f} s"
    )
    print(f"  load time (COPY + INSERT + VACUUM ANALYZE): {copy_s + insert_s + vacuum_s:.1f} s")
    sizes = await conn.fetchrow(
        """SELECT count(*) AS n, pg_total_relation_size('located_items') AS total,
                  pg_relation_size('located_items') AS heap,
                  pg_relation_size('located_items_scope') AS gin,
                  pg_relation_size('located_items_position') AS position
             FROM located_items"""
    )
    mb = 1024 * 1024
    print(
        f"  {sizes['n']:,} rows; table + indexes {sizes['total'] / mb:.0f} MB (heap "
        f"{sizes['heap'] / mb:.0f} MB, GIN scope {sizes['gin'] / mb:.1f} MB, position "
        f"{sizes['position'] / mb:.1f} MB)"
    )
    await _print_scope_sizes(conn, region)

    cursor_rows = await conn.fetch("SELECT published, id FROM located_items")
    cursors = [(row["published"], row["id"]) for row in cursor_rows]
    points = [(r[3], r[4]) for r in records]
    names, tasks = build_tasks(region, cursors, points, args.iterations, rng)
    warmup = [rng.choice(tasks) for _ in range(min(len(tasks), 10 * len(names)))]
    rng.shuffle(tasks)

    results: dict[str, dict[str, Family]] = {}
    for mode in args.modes:
        families = {name: Family(name) for name in names}
        results[mode] = families
        timed = await connect(dsn)
        try:
            await timed.execute(f"SET plan_cache_mode = {mode}")
            started = time.perf_counter()
            await run_tasks(timed, warmup, {name: Family(name) for name in names})
            warm_s = time.perf_counter() - started
            as_app = " (as the app runs)" if mode == APP_MODE else ""
            heading(
                f"Timing, plan_cache_mode = {mode}{as_app}"
                f": {len(tasks):,} calls, {args.iterations} per family, all families shuffled "
                f"together on one fresh connection, after {len(warmup)} warm-up calls "
                f"({warm_s:.1f} s)"
            )
            started = time.perf_counter()
            await run_tasks(timed, tasks, families)
            print(f"  {time.perf_counter() - started:.1f} s of queries")
        finally:
            await timed.close()
        _print_table(families)
        _print_verdict(families)

    if len(results) > 1:
        heading("p99 per family and plan_cache_mode (ms)")
        print(f"  {'family':<34} " + " ".join(f"{mode:>18}" for mode in results))
        for name in names:
            p99s = [percentile(sorted(results[mode][name].samples), 0.99) for mode in results]
            print(f"  {name:<34} " + " ".join(f"{value:18.2f}" for value in p99s))

    if not args.no_flip:
        await flip_check(conn, dsn, region, args.modes)

    families = results[args.modes[0]]
    worst = max(families.values(), key=lambda f: percentile(sorted(f.samples), 0.99))
    assert worst.slowest is not None
    ms, label, call = worst.slowest
    heading(
        f"EXPLAIN (ANALYZE, BUFFERS) of the slowest call of '{worst.name}' "
        f"({ms:.1f} ms with plan_cache_mode = {args.modes[0]})"
    )
    print(f"  {label}")
    for generic in (False, True):
        print(
            "\n  -- "
            + (
                "generic plan (PREPARE; EXECUTE under force_generic_plan)"
                if generic
                else "custom plan (the planner sees the parameters' values)"
            )
        )
        for line in await explain(conn, call, generic):
            print("  " + line)


def _print_verdict(families: dict[str, Family]) -> None:
    worst = max(families.values(), key=lambda f: percentile(sorted(f.samples), 0.99))
    worst_p99 = percentile(sorted(worst.samples), 0.99)
    met = worst_p99 < TARGET_P99_MS
    print(
        f"\n  target p99 < {TARGET_P99_MS:g} ms for every family: {'met' if met else 'NOT met'} "
        f"(slowest family: {worst.name}, p99 {worst_p99:.1f} ms)"
    )
    missed = [
        f.name for f in families.values() if percentile(sorted(f.samples), 0.99) >= TARGET_P99_MS
    ]
    if missed:
        print(f"  families over the target: {', '.join(missed)}")


async def flip_check(conn: Any, dsn: str, region: Region, modes: Sequence[str]) -> None:
    """Whether a few expensive calls make a connection's select_in_scope switch to its generic
    plan for good: five calls on the scopes whose custom plans cost most, then large scopes."""
    costs: list[tuple[float, int, str | None]] = []
    for tid in region.epcis + region.communes:
        for kind in (None, *ITEM_KINDS):
            capture = _Capture()
            await located.select_in_scope(cast(Any, capture), tid, limit=PAGE, kind=kind)
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + capture.sql, *capture.args)
            costs.append((float(plan[0]["Plan"]["Total Cost"]), tid, kind))
    costs.sort(key=lambda cost: cost[0])
    first = costs[-5:]
    generic = await explain_cost(conn, first[-1][1], first[-1][2])
    heading(
        "Plan cache: a fresh connection's first five select_in_scope calls are the five whose "
        f"custom plans cost most ({first[0][0]:,.0f} to {first[-1][0]:,.0f}; the generic plan "
        f"costs {generic:,.0f}), then the région and its départements, first page"
    )
    large = [region.id, *region.departements]
    for mode in modes:
        timed = await connect(dsn)
        try:
            await timed.execute(f"SET plan_cache_mode = {mode}")
            opening = [await _time_scope(timed, tid, kind) for _, tid, kind in first]
            after = sorted([await _time_scope(timed, tid, None) for tid in large for _ in range(3)])
        finally:
            await timed.close()
        print(
            f"  {mode:<18} first five calls {' '.join(f'{ms:.1f}' for ms in opening)} ms; then "
            f"{len(after)} région/département calls: median {percentile(after, 0.5):.1f} ms, "
            f"max {after[-1]:.1f} ms"
        )


async def _time_scope(conn: Any, tid: int, kind: str | None) -> float:
    started = time.perf_counter()
    await located.select_in_scope(conn, tid, limit=PAGE, kind=kind)
    return (time.perf_counter() - started) * 1000


async def explain_cost(conn: Any, tid: int, kind: str | None) -> float:
    """The estimated total cost of select_in_scope's generic plan."""
    capture = _Capture()
    await located.select_in_scope(cast(Any, capture), tid, limit=PAGE, kind=kind)
    rows = await _explain_generic(conn, capture, "FORMAT JSON")
    return float(rows[0][0][0]["Plan"]["Total Cost"])


async def _print_scope_sizes(conn: Any, region: Region) -> None:
    rows = await conn.fetch(
        """SELECT s AS territory_id, count(*) AS n
             FROM located_items, unnest(scope_ids) AS s
            WHERE deleted_at IS NULL GROUP BY s"""
    )
    per = Counter({row["territory_id"]: row["n"] for row in rows})
    for level, ids in (
        ("département", region.departements),
        ("EPCI", region.epcis),
        ("commune", region.communes),
    ):
        if not ids:
            continue
        values = sorted(per[i] for i in ids)
        print(
            f"  items per {level}: min {values[0]:,}, median {values[len(values) // 2]:,}, "
            f"max {values[-1]:,} ({sum(1 for v in values if v == 0):,} of {len(values):,} "
            "with none)"
        )


def _print_table(families: dict[str, Family]) -> None:
    print(
        f"\n  {'family':<34} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}   "
        f"{'rows/call':>9}  p99 < {TARGET_P99_MS:g} ms"
    )
    for family in families.values():
        values = sorted(family.samples)
        p99 = percentile(values, 0.99)
        print(
            f"  {family.name:<34} {percentile(values, 0.5):7.2f} {percentile(values, 0.95):7.2f} "
            f"{p99:7.2f} {values[-1]:7.2f}   {sum(family.rows) / len(family.rows):9.1f}  "
            f"{'yes' if p99 < TARGET_P99_MS else 'NO'}"
        )
    print("  (milliseconds of wall clock per call, including asyncpg and building LocatedItems)")


def _box(args: argparse.Namespace) -> tuple[float, float, float, float]:
    if args.box:
        south, north, west, east = (float(part) for part in args.box.split(","))
        return (south, north, west, east)
    if args.region not in REGION_BOXES:
        raise SystemExit(f"no rough box for région {args.region}: pass --box S,N,W,E")
    return REGION_BOXES[args.region]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark fedicity's scope and radius queries on a région-sized dataset."
    )
    parser.add_argument("--region", default="11", help="région code (default 11, Île-de-France)")
    parser.add_argument("--items", type=int, default=200_000, help="located items (200000)")
    parser.add_argument(
        "--iterations", type=int, default=300, help="calls per query family (default 300)"
    )
    parser.add_argument(
        "--box", help="south,north,west,east degrees for synthetic positions (default: built in)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--plan-cache-modes",
        default=f"{APP_MODE},auto",
        help="PostgreSQL plan_cache_mode of the timed connection, one timing pass per mode, "
        f"comma-separated: auto, force_custom_plan, force_generic_plan (default {APP_MODE},auto: "
        f"{APP_MODE} is what the app's pool sets)",
    )
    parser.add_argument(
        "--no-flip", action="store_true", help="skip the plan-cache flip check (a few seconds)"
    )
    args = parser.parse_args()
    args.modes = [mode.strip() for mode in args.plan_cache_modes.split(",") if mode.strip()]
    known = {"auto", "force_custom_plan", "force_generic_plan"}
    if not args.modes or set(args.modes) - known:
        parser.error(f"--plan-cache-modes takes a comma-separated list of {sorted(known)}")
    if args.items < 1 or args.iterations < 1:
        parser.error("--items and --iterations must be positive")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
