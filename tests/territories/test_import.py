"""The territory import: the full shipped file once into a scratch database (read-only checks
after), and small CSV, GeoJSON and package inputs into the per-test clean database."""

from __future__ import annotations

import argparse
import gzip
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fedicity.cli.territories import register
from fedicity.db.migrate import migrate
from fedicity.db.pool import Connection, Pool, connect
from fedicity.settings import Settings
from fedicity.territories import queries
from fedicity.territories.importer import import_territories
from fedicity.territories.models import (
    ImportFormatError,
    ImportReport,
    Territory,
    TerritoryRow,
    slugify,
)
from fedicity.territories.sources import COLUMNS, SHIPPED_FILE, build_data, read_csv
from tests.conftest import _with_database

SCRATCH_DATABASE = "fedicity_territories_test"


@dataclass
class Tree:
    """The scratch database holding the whole shipped tree."""

    conn: asyncpg.Connection[asyncpg.Record]
    report: ImportReport
    rows: list[TerritoryRow]


@pytest.fixture(scope="module")
async def tree(pg_server_dsn: str) -> AsyncIterator[Tree]:
    """A database of its own with the full shipped file imported once, for this module."""
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{SCRATCH_DATABASE}"')
    finally:
        await admin.close()
    conn = await connect(_with_database(pg_server_dsn, SCRATCH_DATABASE))
    try:
        await migrate(conn)
        report = await import_territories(conn)
        print(*report.summary(), sep="\n")
        rows = [row for row in read_csv(SHIPPED_FILE) if isinstance(row, TerritoryRow)]
        yield Tree(conn, report, rows)
    finally:
        await conn.close()
        admin = await asyncpg.connect(pg_server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
        finally:
            await admin.close()


async def _get(conn: Connection, level: str, code: str) -> Territory:
    found = await queries.select_territory(conn, level, code)
    assert found is not None, (level, code)
    return found


async def _trail(conn: Connection, level: str, code: str) -> list[tuple[str, str]]:
    territory = await _get(conn, level, code)
    ancestors = await queries.select_ancestors(conn, territory.id, include_self=True)
    return [(t.level, t.code) for t in ancestors]


# --- the full shipped file -------------------------------------------------------------------


def test_shipped_file_is_compact_and_complete() -> None:
    assert SHIPPED_FILE.stat().st_size < 1_500_000
    with gzip.open(SHIPPED_FILE, "rt", encoding="utf-8") as handle:
        assert handle.readline().strip() == ",".join(COLUMNS)
    rows = read_csv(SHIPPED_FILE)
    assert all(isinstance(row, TerritoryRow) for row in rows)
    levels = Counter(row.level for row in rows if isinstance(row, TerritoryRow))
    assert levels["commune"] == 34_969
    assert levels["departement"] == 109
    assert levels["quartier"] == 37_590 - 34_969


async def test_full_import_counts(tree: Tree) -> None:
    report = tree.report
    assert report.skipped == []
    assert report.seconds < 60, report.seconds
    expected = Counter(row.level for row in tree.rows)
    assert {level: c.inserted for level, c in report.counts.items()} == expected
    assert report.updated == report.unchanged == 0
    assert report.ancestors_removed == report.ancestors_changed == 0
    rows = await tree.conn.fetch(
        """SELECT level, count(*) AS n, count(*) FILTER (WHERE zone <> 'com') AS outside_com,
                  count(*) FILTER (WHERE kind = 'EPT') AS ept
             FROM territories GROUP BY level"""
    )
    counts = {row["level"]: row for row in rows}
    assert counts["country"]["n"] == 1
    # 13 metropolitan régions and 5 overseas ones; the 8 collectivités d'outre-mer come extra.
    assert counts["region"]["outside_com"] == 18
    assert counts["region"]["n"] == 26
    assert counts["departement"]["outside_com"] == 101
    assert counts["departement"]["n"] == 109
    # 1,255 EPCIs with their own taxes, plus the 11 EPTs of the Métropole du Grand Paris.
    assert counts["epci"]["n"] - counts["epci"]["ept"] == 1_255
    assert counts["epci"]["ept"] == 11
    assert counts["commune"]["n"] == 34_969
    assert counts["quartier"]["n"] == 2_621


async def test_every_territory_has_its_ancestry(tree: Tree) -> None:
    conn = tree.conn
    missing_self = await conn.fetchval(
        """SELECT count(*) FROM territories t WHERE NOT EXISTS (
               SELECT 1 FROM territory_ancestors a
                WHERE a.ancestor_id = t.id AND a.descendant_id = t.id AND a.depth = 0)"""
    )
    assert missing_self == 0
    # Each commune and quartier is under exactly one département, one région and the country.
    wrong = await conn.fetchval(
        """SELECT count(*) FROM (
               SELECT a.descendant_id,
                      count(*) FILTER (WHERE p.level = 'departement') AS departements,
                      count(*) FILTER (WHERE p.level = 'region') AS regions,
                      count(*) FILTER (WHERE p.level = 'country') AS countries
                 FROM territory_ancestors a
                 JOIN territories c ON c.id = a.descendant_id
                 JOIN territories p ON p.id = a.ancestor_id
                WHERE c.level IN ('commune', 'quartier')
                GROUP BY a.descendant_id) s
            WHERE departements <> 1 OR regions <> 1 OR countries <> 1"""
    )
    assert wrong == 0
    # parent_id is always the ancestor one step up.
    stray = await conn.fetchval(
        """SELECT count(*) FROM territories t
            WHERE t.parent_id IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM territory_ancestors a
                   WHERE a.descendant_id = t.id AND a.ancestor_id = t.parent_id
                     AND a.depth = 1)"""
    )
    assert stray == 0
    assert await conn.fetchval("SELECT count(*) FROM territories WHERE parent_id IS NULL") == 1


async def test_importing_twice_changes_nothing(tree: Tree) -> None:
    conn = tree.conn
    before = await conn.fetch("SELECT id, updated_at FROM territories ORDER BY id")
    closure = await conn.fetchval(
        "SELECT md5(string_agg(ancestor_id || ':' || descendant_id || ':' || depth, ','"
        " ORDER BY ancestor_id, descendant_id)) FROM territory_ancestors"
    )
    report = await import_territories(conn)
    print(*report.summary(), sep="\n")
    assert not report.changed
    assert report.inserted == report.updated == 0
    assert report.unchanged == len(tree.rows)
    assert all(c.unchanged > 0 for c in report.counts.values())
    after = await conn.fetch("SELECT id, updated_at FROM territories ORDER BY id")
    assert after == before
    assert (
        await conn.fetchval(
            "SELECT md5(string_agg(ancestor_id || ':' || descendant_id || ':' || depth, ','"
            " ORDER BY ancestor_id, descendant_id)) FROM territory_ancestors"
        )
        == closure
    )


async def test_commune_in_an_ept_of_the_metropole(tree: Tree) -> None:
    conn = tree.conn
    assert await _trail(conn, "commune", "93048") == [
        ("country", "FR"),
        ("region", "11"),
        ("departement", "93"),
        ("epci", "200054781"),  # Métropole du Grand Paris
        ("epci", "200057875"),  # Est Ensemble
        ("commune", "93048"),
    ]
    montreuil = await _get(conn, "commune", "93048")
    est_ensemble = await _get(conn, "epci", "200057875")
    assert montreuil.name == "Montreuil"
    assert montreuil.parent_id == est_ensemble.id
    assert montreuil.postal_codes == ["93100"]
    assert montreuil.zone == "metro"
    assert est_ensemble.kind == "EPT"
    # The métropole spans six départements; Montreuil is only under its own.
    metropole = await _get(conn, "epci", "200054781")
    assert [t.code for t in await queries.select_ancestors(conn, metropole.id)] == [
        "FR",
        "11",
        "75",
        "91",
        "92",
        "93",
        "94",
        "95",
    ]
    assert await queries.is_descendant(conn, metropole.id, montreuil.id)
    paris = await _get(conn, "departement", "75")
    assert not await queries.is_descendant(conn, paris.id, montreuil.id)


async def test_communes_outside_any_epci(tree: Tree) -> None:
    conn = tree.conn
    # The four metropolitan communes in no EPCI are islands.
    outside = await conn.fetch(
        """SELECT c.code FROM territories c
            WHERE c.level = 'commune' AND c.zone <> 'com' AND NOT EXISTS (
                  SELECT 1 FROM territory_ancestors a JOIN territories e ON e.id = a.ancestor_id
                   WHERE a.descendant_id = c.id AND e.level = 'epci')
            ORDER BY c.code"""
    )
    assert [row["code"] for row in outside] == ["22016", "29083", "29155", "85113"]
    for code in ("29083", "29155"):  # Île-de-Sein, Ouessant
        assert await _trail(conn, "commune", code) == [
            ("country", "FR"),
            ("region", "53"),
            ("departement", "29"),
            ("commune", code),
        ]
    finistere = await _get(conn, "departement", "29")
    ouessant = await _get(conn, "commune", "29155")
    assert ouessant.parent_id == finistere.id
    children = await queries.select_children(conn, finistere.id, limit=1000, level="commune")
    assert {t.code for t in children} == {"29083", "29155"}


async def test_overseas_commune(tree: Tree) -> None:
    conn = tree.conn
    assert await _trail(conn, "commune", "97101") == [
        ("country", "FR"),
        ("region", "01"),
        ("departement", "971"),
        ("epci", "200018653"),  # CA Cap Excellence
        ("commune", "97101"),
    ]
    abymes = await _get(conn, "commune", "97101")
    assert abymes.zone == "drom"
    assert abymes.postal_codes == ["97139", "97142"]
    # A collectivité d'outre-mer is its own région and département.
    assert await _trail(conn, "commune", "98735") == [
        ("country", "FR"),
        ("region", "987"),
        ("departement", "987"),
        ("commune", "98735"),
    ]


async def test_paris_arrondissements_are_quartiers(tree: Tree) -> None:
    conn = tree.conn
    paris = await _get(conn, "commune", "75056")
    arrondissements = await queries.select_children(conn, paris.id, limit=100)
    assert sorted(t.code for t in arrondissements) == [f"751{n:02d}" for n in range(1, 21)]
    assert {t.kind for t in arrondissements} == {"arrondissement-municipal"}
    assert {t.parent_id for t in arrondissements} == {paris.id}
    assert await _trail(conn, "quartier", "75111") == [
        ("country", "FR"),
        ("region", "11"),
        ("departement", "75"),
        ("epci", "200054781"),
        ("commune", "75056"),
        ("quartier", "75111"),
    ]
    eleventh = await _get(conn, "quartier", "75111")
    assert eleventh.postal_codes == ["75011"]
    assert eleventh.population is not None


async def test_communes_deleguees_and_associees(tree: Tree) -> None:
    conn = tree.conn
    # Esquibien, commune déléguée of Audierne (in the CC Cap Sizun - Pointe du Raz).
    assert await _trail(conn, "quartier", "29052") == [
        ("country", "FR"),
        ("region", "53"),
        ("departement", "29"),
        ("epci", "242900629"),
        ("commune", "29003"),
        ("quartier", "29052"),
    ]
    esquibien = await _get(conn, "quartier", "29052")
    assert esquibien.kind == "commune-deleguee"
    # A commune déléguée may keep its commune nouvelle's code: another level, no clash.
    assert (await _get(conn, "quartier", "01015")).parent_id == (
        await _get(conn, "commune", "01015")
    ).id
    # Escaufourt (an old code of the Aisne) is associated with Saint-Souplet, in the Nord.
    escaufourt = await _trail(conn, "quartier", "02285")
    assert escaufourt[-2:] == [("commune", "59545"), ("quartier", "02285")]
    assert ("departement", "59") in escaufourt
    assert (await _get(conn, "quartier", "02285")).kind == "commune-associee"


async def test_descendants_of_a_departement(tree: Tree) -> None:
    conn = tree.conn
    seine_saint_denis = await _get(conn, "departement", "93")
    communes = {
        row.code for row in tree.rows if row.level == "commune" and row.departements == ("93",)
    }
    epcis = {row.code for row in tree.rows if row.level == "epci" and "93" in row.departements}
    assert len(communes) == 39
    assert await queries.count_descendants(conn, seine_saint_denis.id, "commune") == 39
    ids = await queries.select_descendant_ids(conn, seine_saint_denis.id, "commune")
    found = await conn.fetch("SELECT code FROM territories WHERE id = ANY($1)", ids)
    assert {row["code"] for row in found} == communes
    ids = await queries.select_descendant_ids(conn, seine_saint_denis.id, "epci")
    found = await conn.fetch("SELECT code FROM territories WHERE id = ANY($1)", ids)
    assert {row["code"] for row in found} == epcis
    assert "200057875" in epcis
    assert "200054781" in epcis
    total = await queries.count_descendants(conn, seine_saint_denis.id)
    assert total == len(communes) + len(epcis) + await conn.fetchval(
        """SELECT count(*) FROM territories q JOIN territories c ON c.id = q.parent_id
            WHERE q.level = 'quartier' AND c.code = ANY($1)""",
        list(communes),
    )
    by_level = await queries.count_descendants_by_level(conn, seine_saint_denis.id)
    assert by_level["commune"] == 39
    # A région holds its départements and all their communes.
    france = await _get(conn, "country", "FR")
    assert await queries.count_descendants(conn, france.id, "commune") == 34_969
    idf = await _get(conn, "region", "11")
    assert await queries.count_descendants(conn, idf.id, "departement") == 8
    assert await queries.count_descendants(conn, idf.id, "commune") == sum(
        1 for row in tree.rows if row.level == "commune" and row.region == "11"
    )


async def test_children_are_paged_by_name(tree: Tree) -> None:
    conn = tree.conn
    finistere = await _get(conn, "departement", "29")
    everything = await queries.select_children(conn, finistere.id, limit=1000)
    paged: list[Territory] = []
    after: tuple[str, int] | None = None
    while page := await queries.select_children(conn, finistere.id, limit=7, after=after):
        paged.extend(page)
        after = (page[-1].name, page[-1].id)
    assert [t.id for t in paged] == [t.id for t in everything]
    # One step below a département: its EPCIs and its communes in none.
    assert {t.level for t in everything} == {"epci", "commune"}
    assert len(everything) == len({t.id for t in everything})


async def test_search(tree: Tree) -> None:
    conn = tree.conn
    found = await queries.search_territories(conn, "montreuil", limit=5)
    assert found[0].code == "93048"
    found = await queries.search_territories(conn, "saint etienne", limit=3)
    assert found[0].code == "42218"  # Saint-Étienne, the most populous
    found = await queries.search_territories(conn, "ILE DE SEIN", limit=3)
    assert [t.code for t in found] == ["29083"]
    found = await queries.search_territories(conn, "93100", limit=3)
    assert [t.code for t in found] == ["93048"]
    found = await queries.search_territories(conn, "Seine-Saint", limit=3)
    assert found[0].level == "departement"
    found = await queries.search_territories(conn, "93", limit=3)
    assert {(t.level, t.code) for t in found[:2]} == {("departement", "93"), ("region", "93")}
    assert await queries.search_territories(conn, "%", limit=3) == []
    assert await queries.search_territories(conn, "  ", limit=3) == []


async def test_scope_and_served_ancestors(tree: Tree) -> None:
    conn = tree.conn
    montreuil = await _get(conn, "commune", "93048")
    seine_saint_denis = await _get(conn, "departement", "93")
    scope = await queries.select_scope_ids(conn, montreuil.id)
    assert scope[0] == montreuil.id
    assert len(scope) == 6
    served = await queries.select_served_ancestors(conn, seine_saint_denis.id, montreuil.id)
    # The métropole counts as under the département: it spans it.
    assert [t.code for t in served] == ["93048", "200057875", "200054781", "93"]
    subtree = await queries.select_subtree(conn, seine_saint_denis.id)
    assert subtree[0].id == seine_saint_denis.id
    assert len(subtree) == 1 + await queries.count_descendants(conn, seine_saint_denis.id)


# --- small inputs into the per-test database ---------------------------------------------------

HEADER = ",".join(COLUMNS)
SMALL_CSV = f"""{HEADER}
country,FR,France,,,,,,,,,,,
region,11,Île-de-France,,,,,,,,metro,,,
departement,93,Seine-Saint-Denis,,11,,,,,,metro,,,
epci,200054781,Métropole du Grand Paris,METRO,,93,,,,,metro,,,
epci,200057875,Est Ensemble,EPT,,93,200054781,,,,metro,,,
commune,93048,Montreuil,,11,93,200057875 200054781,,93100,111934,metro,48.8638,2.4485,
commune,9306,Bagnolet,,11,93,200057875 200054781,,93170,43086,metro,,,
commune,93006,Bagnolet,,11,94,200057875,,93170,43086,metro,,,
commune,93066,Saint-Denis,,11,93,200054781,,93200,abc,metro,,,
commune,93001,Aubervilliers,,11,93,,,93300,88365,metro,,,
quartier,93006-la-noue,La Noue,quartier,,,,93006,,,metro,,,
quartier,93048-bas-montreuil,Bas Montreuil,quartier,,,,93048,,,metro,,,
town,93999,Nowhere,,,,,,,,,,,
commune,93048,Montreuil again,,11,93,,,,,metro,,,
"""


async def test_csv_with_bad_rows_imports_the_rest(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(SMALL_CSV, encoding="utf-8")
    async with pool.acquire() as conn:
        report = await import_territories(conn, path)
        assert [(s.line, s.reason) for s in report.skipped] == [
            (8, "'9306' is not a commune code"),
            (9, "unknown departement '94'"),
            (10, "population is not a whole number: 'abc'"),
            (12, "unknown commune '93006'"),
            (14, "unknown level 'town'"),
            (15, "commune 93048 already at line 7"),
        ]
        assert {level: c.inserted for level, c in report.counts.items()} == {
            "country": 1,
            "region": 1,
            "departement": 1,
            "epci": 2,
            "commune": 2,
            "quartier": 1,
        }
        assert await _trail(conn, "quartier", "93048-bas-montreuil") == [
            ("country", "FR"),
            ("region", "11"),
            ("departement", "93"),
            ("epci", "200054781"),
            ("epci", "200057875"),
            ("commune", "93048"),
            ("quartier", "93048-bas-montreuil"),
        ]
        montreuil = await _get(conn, "commune", "93048")
        assert (montreuil.latitude, montreuil.longitude) == (48.8638, 2.4485)
        assert await _trail(conn, "commune", "93001") == [
            ("country", "FR"),
            ("region", "11"),
            ("departement", "93"),
            ("commune", "93001"),
        ]
        # Nothing half-done: no territory, no ancestry row for the skipped lines.
        assert await conn.fetchval("SELECT count(*) FROM territories") == 8
        assert await conn.fetchval("SELECT count(*) FROM territory_ancestors WHERE depth = 0") == 8


async def test_partial_reimport_moves_what_hangs_below(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(SMALL_CSV, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path)
        montreuil = await _get(conn, "commune", "93048")
        added = await queries.insert_quartier(conn, montreuil.id, "Croix-de-Chavaux")
        assert added is not None
        # Montreuil leaves Est Ensemble for the métropole alone; its quartiers follow it, even
        # the admin-made one that no file describes.
        moved = tmp_path / "moved.csv"
        moved.write_text(
            f"{HEADER}\ncommune,93048,Montreuil,,11,93,200054781,,93100,111934,metro,,,\n",
            encoding="utf-8",
        )
        report = await import_territories(conn, moved)
        assert report.counts["commune"].updated == 1
        assert report.skipped == []
        for level, code in (("commune", "93048"), ("quartier", "93048-croix-de-chavaux")):
            trail = await _trail(conn, level, code)
            assert ("epci", "200057875") not in trail
            assert ("epci", "200054781") in trail
        assert (await _get(conn, "commune", "93048")).parent_id == (
            await _get(conn, "epci", "200054781")
        ).id
        # The coordinates a file leaves out are kept.
        assert (await _get(conn, "commune", "93048")).latitude == 48.8638


async def test_insert_quartier(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(SMALL_CSV, encoding="utf-8")
    async with pool.acquire() as conn:
        await import_territories(conn, path)
        montreuil = await _get(conn, "commune", "93048")
        quartier = await queries.insert_quartier(
            conn, montreuil.id, "Le Bel-Air \u2013 Grands Pêchers"
        )
        assert quartier is not None
        assert quartier.code == "93048-le-bel-air-grands-pechers"
        assert (quartier.level, quartier.kind, quartier.parent_id) == (
            "quartier",
            "quartier",
            montreuil.id,
        )
        commune_trail = await _trail(conn, "commune", "93048")
        assert await _trail(conn, "quartier", quartier.code) == [
            *commune_trail,
            ("quartier", quartier.code),
        ]
        assert (
            await queries.insert_quartier(conn, montreuil.id, "le bel air grands pechers") is None
        )
        epci = await _get(conn, "epci", "200057875")
        with pytest.raises(ValueError, match="not a commune"):
            await queries.insert_quartier(conn, epci.id, "Centre")
        with pytest.raises(ValueError, match="letter or a digit"):
            await queries.insert_quartier(conn, montreuil.id, "—")
        # Importing the file again leaves the admin's quartier and its ancestry alone.
        report = await import_territories(conn, path)
        assert not report.changed
        assert await _get(conn, "quartier", quartier.code) == quartier
    assert slugify("Cœur de Ville") == "coeur-de-ville"


def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


async def test_geojson_import(pool: Pool, tmp_path: Path) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [
            [[2.41, 48.84], [2.49, 48.84], [2.49, 48.88], [2.41, 48.88], [2.41, 48.84]]
        ],
    }
    collection = {
        "type": "FeatureCollection",
        "features": [
            _feature(None, level="country", code="FR", name="France"),
            _feature(None, level="region", code="11", name="Île-de-France", zone="metro"),
            _feature(
                {"type": "MultiPolygon", "coordinates": [square["coordinates"]]},
                level="departement",
                code="93",
                name="Seine-Saint-Denis",
                region="11",
            ),
            _feature(
                square,
                level="commune",
                code="93048",
                name="Montreuil",
                departement="93",
                region="11",
                postal_codes=["93100"],
                population=111934,
                latitude=48.8638,
                longitude=2.4485,
            ),
            _feature(
                {"type": "Point", "coordinates": [2.4381, 48.8552]},
                level="quartier",
                code="93048-bas-montreuil",
                name="Bas Montreuil",
                commune="93048",
            ),
            # A number loses the leading zero of a COG code.
            _feature(None, level="commune", code=1053, name="Bourg-en-Bresse", departement="01"),
        ],
    }
    path = tmp_path / "montreuil.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    async with pool.acquire() as conn:
        report = await import_territories(conn, path)
        assert [(s.line, s.reason) for s in report.skipped] == [(6, "'1053' is not a commune code")]
        montreuil = await _get(conn, "commune", "93048")
        assert montreuil.bbox == [2.41, 48.84, 2.49, 48.88]
        assert montreuil.postal_codes == ["93100"]
        assert montreuil.population == 111934
        geometry = await conn.fetchval(
            "SELECT geometry FROM territories WHERE id = $1", montreuil.id
        )
        assert geometry == square
        bas = await _get(conn, "quartier", "93048-bas-montreuil")
        assert (bas.latitude, bas.longitude) == (48.8552, 2.4381)
        assert bas.bbox == [2.4381, 48.8552, 2.4381, 48.8552]
        assert (await _get(conn, "departement", "93")).bbox == [2.41, 48.84, 2.49, 48.88]
        assert await _trail(conn, "quartier", "93048-bas-montreuil") == [
            ("country", "FR"),
            ("region", "11"),
            ("departement", "93"),
            ("commune", "93048"),
            ("quartier", "93048-bas-montreuil"),
        ]
        # A later CSV without geometry keeps it.
        csv_path = tmp_path / "again.csv"
        csv_path.write_text(
            f"{HEADER}\ncommune,93048,Montreuil,,11,93,,,93100,111934,,,,\n",
            encoding="utf-8",
        )
        report = await import_territories(conn, csv_path)
        assert report.counts["commune"].unchanged == 1
        assert (
            await conn.fetchval("SELECT geometry FROM territories WHERE id = $1", montreuil.id)
            == square
        )


async def test_unreadable_inputs_write_nothing(pool: Pool, tmp_path: Path) -> None:
    not_csv = tmp_path / "names.csv"
    not_csv.write_text("nom,insee\nMontreuil,93048\n", encoding="utf-8")
    not_collection = tmp_path / "point.geojson"
    not_collection.write_text(json.dumps({"type": "Point", "coordinates": [0, 0]}))
    async with pool.acquire() as conn:
        with pytest.raises(ImportFormatError, match="no code, level, name column"):
            await import_territories(conn, not_csv)
        with pytest.raises(ImportFormatError, match="not a GeoJSON FeatureCollection"):
            await import_territories(conn, not_collection)
        with pytest.raises(ImportFormatError, match=r"no regions\.json"):
            await import_territories(conn, tmp_path, source_format="package")
        with pytest.raises(ImportFormatError, match="no such file"):
            await import_territories(conn, tmp_path / "missing.csv")
        assert await conn.fetchval("SELECT count(*) FROM territories") == 0


# Real entries of @etalab/decoupage-administratif 6.0.0, trimmed to a few communes.
PACKAGE_SUBSET: dict[str, list[dict[str, Any]]] = {
    "regions.json": [
        {"code": "01", "nom": "Guadeloupe", "zone": "drom"},
        {"code": "11", "nom": "Île-de-France", "zone": "metro"},
        {"code": "53", "nom": "Bretagne", "zone": "metro"},
    ],
    "departements.json": [
        {"code": "29", "nom": "Finistère", "region": "53", "zone": "metro"},
        {"code": "75", "nom": "Paris", "region": "11", "zone": "metro"},
        {"code": "93", "nom": "Seine-Saint-Denis", "region": "11", "zone": "metro"},
        {"code": "971", "nom": "Guadeloupe", "region": "01", "zone": "drom"},
    ],
    "communes.json": [
        {"code": "29003", "nom": "Audierne", "type": "commune-actuelle", "departement": "29",
         "region": "53", "zone": "metro", "codesPostaux": ["29770"], "population": 3727},
        {"code": "29019", "nom": "Brest", "type": "commune-actuelle", "departement": "29",
         "region": "53", "zone": "metro", "codesPostaux": ["29200"], "population": 142346},
        {"code": "29052", "nom": "Esquibien", "type": "commune-deleguee", "departement": "29",
         "region": "53", "zone": "metro", "chefLieu": "29003"},
        {"code": "29155", "nom": "Ouessant", "type": "commune-actuelle", "departement": "29",
         "region": "53", "zone": "metro", "codesPostaux": ["29242"], "population": 860},
        {"code": "75056", "nom": "Paris", "type": "commune-actuelle", "departement": "75",
         "region": "11", "zone": "metro", "codesPostaux": ["75001", "75002"],
         "population": 2103778},
        {"code": "75101", "nom": "Paris 1er Arrondissement", "type": "arrondissement-municipal",
         "departement": "75", "region": "11", "zone": "metro", "codesPostaux": ["75001"],
         "population": 15114, "commune": "75056"},
        {"code": "75102", "nom": "Paris 2e Arrondissement", "type": "arrondissement-municipal",
         "departement": "75", "region": "11", "zone": "metro", "codesPostaux": ["75002"],
         "population": 19847, "commune": "75056"},
        {"code": "93006", "nom": "Bagnolet", "type": "commune-actuelle", "departement": "93",
         "region": "11", "zone": "metro", "codesPostaux": ["93170"], "population": 43086},
        {"code": "93048", "nom": "Montreuil", "type": "commune-actuelle", "departement": "93",
         "region": "11", "zone": "metro", "codesPostaux": ["93100"], "population": 111934},
        {"code": "97101", "nom": "Les Abymes", "type": "commune-actuelle", "departement": "971",
         "region": "01", "zone": "drom", "codesPostaux": ["97139", "97142"],
         "population": 51055},
    ],
    "epci.json": [
        {"code": "200018653", "nom": "CA CAP Excellence", "type": "CA",
         "membres": [{"code": "97101"}]},
        {"code": "200054781", "nom": "Métropole du Grand Paris", "type": "METRO",
         "membres": [{"code": "75056"}, {"code": "93048"}, {"code": "93006"}]},
        {"code": "242900314", "nom": "Brest Métropole", "type": "METRO",
         "membres": [{"code": "29019"}]},
        {"code": "242900629", "nom": "CC Cap Sizun - Pointe du Raz", "type": "CC",
         "membres": [{"code": "29003"}]},
    ],
    "ept.json": [
        {"code": "200057875", "nom": "Est Ensemble", "type": "EPT",
         "membres": [{"code": "93006"}, {"code": "93048"}]},
    ],
}  # fmt: skip


def _package_subset(directory: Path) -> Path:
    directory.mkdir()
    for name, entries in PACKAGE_SUBSET.items():
        (directory / name).write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return directory


async def test_package_directory_import(pool: Pool, tmp_path: Path) -> None:
    package = _package_subset(tmp_path / "data")
    async with pool.acquire() as conn:
        report = await import_territories(conn, package)
        assert report.skipped == []
        assert {level: c.inserted for level, c in report.counts.items()} == {
            "country": 1,
            "region": 3,
            "departement": 4,
            "epci": 5,
            "commune": 7,
            "quartier": 3,
        }
        assert await _trail(conn, "commune", "93048") == [
            ("country", "FR"),
            ("region", "11"),
            ("departement", "93"),
            ("epci", "200054781"),
            ("epci", "200057875"),
            ("commune", "93048"),
        ]
        assert await _trail(conn, "commune", "29155") == [
            ("country", "FR"),
            ("region", "53"),
            ("departement", "29"),
            ("commune", "29155"),
        ]
        assert (await _get(conn, "quartier", "75102")).kind == "arrondissement-municipal"
        # Populations above the commune are sums over their communes.
        assert (await _get(conn, "departement", "93")).population == 111934 + 43086
        assert (await _get(conn, "epci", "200057875")).population == 111934 + 43086
        assert (await _get(conn, "country", "FR")).population == sum(
            c["population"]
            for c in PACKAGE_SUBSET["communes.json"]
            if c["type"] == "commune-actuelle"
        )
        again = await import_territories(conn, package, source_format="package")
        assert not again.changed


def test_build_data_matches_the_package_import(tmp_path: Path) -> None:
    package = _package_subset(tmp_path / "data")
    out = tmp_path / "out" / "territories.csv.gz"
    assert build_data(package, out) == 23
    first = out.read_bytes()
    build_data(package, out)
    assert out.read_bytes() == first  # reproducible, byte for byte
    rows = read_csv(out)
    assert [r.line for r in rows] == list(range(2, 25))
    montreuil = next(r for r in rows if isinstance(r, TerritoryRow) and r.code == "93048")
    assert montreuil.epcis == ("200057875", "200054781")


PACKAGE_DIR = os.environ.get("FEDICITY_TERRITORIES_PACKAGE")


@pytest.mark.skipif(
    PACKAGE_DIR is None,
    reason="FEDICITY_TERRITORIES_PACKAGE (the package's data folder) is not set",
)
def test_shipped_file_is_rebuilt_from_the_package(tmp_path: Path) -> None:
    assert PACKAGE_DIR is not None
    out = tmp_path / "fr-territories.csv.gz"
    build_data(Path(PACKAGE_DIR), out)
    assert out.read_bytes() == SHIPPED_FILE.read_bytes()


# --- the commands ------------------------------------------------------------------------------


def _parser(pool: Pool) -> argparse.ArgumentParser:
    async def with_conn(
        settings: Settings, action: Callable[[Connection], Awaitable[None]]
    ) -> None:
        async with pool.acquire() as conn:
            await action(conn)

    parser = argparse.ArgumentParser(prog="fedicity")
    register(parser.add_subparsers(dest="command", required=True), with_conn)
    return parser


async def test_commands(
    pool: Pool, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = _parser(pool)
    package = _package_subset(tmp_path / "data")
    out = tmp_path / "built.csv.gz"

    args = parser.parse_args(
        ["territories", "build-data", "--from", str(package), "--out", str(out)]
    )
    await args.handler(settings, args)
    assert "wrote 23 territories" in capsys.readouterr().out

    args = parser.parse_args(["territories", "import", "--file", str(out)])
    await args.handler(settings, args)
    printed = capsys.readouterr().out
    assert "commune: 7 inserted, 0 updated, 0 unchanged" in printed
    assert "0 rows skipped" in printed

    args = parser.parse_args(["territories", "show", "commune", "93048"])
    await args.handler(settings, args)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "France (country FR) > Île-de-France (region 11) > Seine-Saint-Denis (departement 93)"
        " > Métropole du Grand Paris (epci 200054781) > Est Ensemble (epci 200057875)"
        " > Montreuil (commune 93048)"
    )
    assert lines[-1] == "below: nothing"

    args = parser.parse_args(["territories", "quartier-add", "93048", "Bas Montreuil"])
    await args.handler(settings, args)
    assert "added quartier 93048-bas-montreuil" in capsys.readouterr().out

    args = parser.parse_args(["territories", "show", "departement", "93"])
    await args.handler(settings, args)
    assert capsys.readouterr().out.splitlines()[-1] == "below: 2 epci, 2 commune, 1 quartier"

    from fedicity.cli.lifecycle import CommandError

    for argv, message in (
        (["territories", "show", "commune", "99999"], "no commune with code '99999'"),
        (["territories", "quartier-add", "99999", "X"], "no commune with code '99999'"),
        (["territories", "quartier-add", "93048", "Bas-Montreuil"], "already exists"),
        (["territories", "import", "--file", str(tmp_path / "nope.csv")], "no such file"),
    ):
        args = parser.parse_args(argv)
        with pytest.raises(CommandError, match=message):
            await args.handler(settings, args)
