"""Commune centres from a CSV (lat/lon columns or a geo_point_2d cell) or a GeoJSON (points,
polygons, multipolygons): unknown codes reported, the same file again changing nothing, hostile
files refused whole, and what reads coordinates (the radius query) finding a commune's items."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fedicity.audit.models import cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.imports import queries
from fedicity.imports.centres import import_file, polygon_centre
from fedicity.imports.files import FileRefused
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from tests.imports.test_organizations_csv import slice_without_centres

CSV = (
    "code_commune_insee;nom_commune;latitude;longitude\n"
    "93048;Montreuil;48,8638;2,4485\n"
    "93006;Bagnolet;48.8692;2.4183\n"
    "99999;Nulle part;45;5\n"
    "93048;Montreuil encore;48;2\n"
    "930;Trop court;48;2\n"
)
# Montreuil as a square of 0.02 degrees around its centre, Bagnolet as two squares.
MONTREUIL = [[[2.44, 48.85], [2.46, 48.85], [2.46, 48.87], [2.44, 48.87], [2.44, 48.85]]]
BAGNOLET = [
    [[[2.40, 48.86], [2.42, 48.86], [2.42, 48.88], [2.40, 48.88], [2.40, 48.86]]],
    [[[2.42, 48.86], [2.44, 48.86], [2.44, 48.88], [2.42, 48.88], [2.42, 48.86]]],
]


def geojson(*features: object) -> bytes:
    """A FeatureCollection of these features."""
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(code: object, geometry: object, key: str = "INSEE_COM") -> dict[str, object]:
    """A commune's feature."""
    return {"type": "Feature", "properties": {key: code, "NOM": "x"}, "geometry": geometry}


async def post_in_montreuil(conn: Connection, summary: str, now: datetime) -> int:
    """A local post located in Montreuil (93048); the commune's id."""
    montreuil: int = await conn.fetchval("SELECT id FROM territories WHERE code = '93048'")
    await located_queries.upsert_item(
        conn,
        NewItem(
            object_uri="http://fedicity.test/posts/1",
            kind="post",
            territory_id=montreuil,
            title="",
            summary=summary,
            url="http://fedicity.test/posts/1",
            author_uri="http://fedicity.test/actors/camille",
            origin_host="fedicity.test",
            published=now,
        ),
    )
    return montreuil


async def test_csv_then_geojson_polygons_then_what_reads_coordinates(
    pool: Pool, clock: FrozenClock, tmp_path: Path
) -> None:
    await slice_without_centres(pool, tmp_path)
    now = clock.now()
    async with pool.acquire() as conn:
        # A post written in Montreuil while its centre was unknown: no point yet.
        montreuil = await post_in_montreuil(conn, "Marché dimanche", now)
        near = await located_queries.select_near(conn, 48.8638, 2.4485, 2, limit=10)
        assert near == []

        dry = await import_file(
            conn, CSV.encode(), label="centres.csv", by=cli_actor(), now=now, dry_run=True
        )
        assert [(r.line, r.outcome, r.fields, r.reason) for r in dry.rows] == [
            (2, "created", ("latitude", "longitude"), ""),
            (3, "created", ("latitude", "longitude"), ""),
            (4, "refused", (), "unknown commune code"),
            (5, "refused", (), "the same commune as line 2"),
            (6, "refused", (), "code '930' is not an INSEE commune code"),
        ]
        assert (
            await conn.fetchval("SELECT latitude FROM territories WHERE id = $1", montreuil) is None
        )

        applied = await import_file(
            conn, CSV.encode(), label="centres.csv", by=cli_actor(), now=now, dry_run=False
        )
        assert applied.summary() == "2 created, 0 updated, 0 unchanged, 3 refused"
        row = await conn.fetchrow(
            "SELECT latitude, longitude FROM territories WHERE id = $1", montreuil
        )
        assert row is not None
        assert (row["latitude"], row["longitude"]) == (48.8638, 2.4485)
        (where,) = await queries.provenance_of(conn, "territory", montreuil)
        assert (where.source_label, where.external_id, where.row_number) == (
            "centres.csv",
            "93048",
            2,
        )
        # The radius query now finds what was written in Montreuil.
        near = await located_queries.select_near(conn, 48.8638, 2.4485, 2, limit=10)
        assert [i.object_uri for i in near] == ["http://fedicity.test/posts/1"]
        assert await located_queries.select_near(conn, 45.0, 5.0, 2, limit=10) == []

        again = await import_file(
            conn, CSV.encode(), label="centres.csv", by=cli_actor(), now=now, dry_run=False
        )
        assert again.summary() == "0 created, 0 updated, 2 unchanged, 3 refused"

        # IGN's communes with their outlines: centres and boxes computed.
        polygons = geojson(
            feature("93048", {"type": "Polygon", "coordinates": MONTREUIL}),
            feature(93006, {"type": "MultiPolygon", "coordinates": BAGNOLET}, key="code"),
            feature("99999", {"type": "Point", "coordinates": [5, 45]}),
            feature("93048", {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}),
            {"type": "Feature", "geometry": None},
        )
        plan = await import_file(
            conn, polygons, label="communes.geojson", by=cli_actor(), now=now, dry_run=False
        )
        assert [(r.outcome, r.fields, r.reason) for r in plan.rows] == [
            ("updated", ("latitude", "longitude", "bbox"), ""),
            ("updated", ("latitude", "longitude", "bbox"), ""),
            ("refused", (), "unknown commune code"),
            ("refused", (), "a geometry of type 'LineString' without a usable outline"),
            ("refused", (), "a feature without properties"),
        ]
        bagnolet = await conn.fetchrow(
            "SELECT latitude, longitude, bbox FROM territories WHERE code = '93006'"
        )
        assert bagnolet is not None
        assert (bagnolet["latitude"], bagnolet["longitude"]) == (48.87, 2.42)
        assert bagnolet["bbox"] == [2.4, 48.86, 2.44, 48.88]
        # A point moved: the radius query follows the commune's new centre.
        post = await located_queries.select_item(conn, "http://fedicity.test/posts/1")
        assert post is not None
        assert (post.latitude, post.longitude) == (48.8638, 2.4485)


def test_polygon_centre() -> None:
    assert polygon_centre({"type": "Polygon", "coordinates": MONTREUIL}) == pytest.approx(
        (2.45, 48.86)
    )
    # Clockwise or anticlockwise, holes ignored, a third coordinate (altitude) allowed.
    reversed_ring = [[[*p, 100.0] for p in reversed(MONTREUIL[0])]]
    assert polygon_centre({"type": "Polygon", "coordinates": reversed_ring}) == pytest.approx(
        (2.45, 48.86)
    )


async def test_hostile_files(pool: Pool, clock: FrozenClock, tmp_path: Path) -> None:
    await slice_without_centres(pool, tmp_path)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    async with pool.acquire() as conn:
        deep = (
            b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        )
        files: list[tuple[bytes, str, str]] = [
            (deep, "deep.json", "nested too deeply"),
            (b'{"type": "FeatureCollection", "features": [', "cut.geojson", "unreadable JSON"),
            (b'{"type": "Feature"}', "one.geojson", "not a GeoJSON FeatureCollection"),
            (b"nom;latitude\nx;1\n", "nocode.csv", "no INSEE code column"),
            (b"insee;nom\n93048;x\n", "nopoint.csv", "no latitude and longitude"),
        ]
        for data, name, reason in files:
            with pytest.raises(FileRefused, match=reason):
                await import_file(conn, data, label=name, by=cli_actor(), now=now, dry_run=False)
        hostile = (
            b"codgeo,geo_point_2d,nom\n"
            b'93048,"NaN, 2",x\n'
            b'93006,"48.9, 1e999",x\n'
            b'93048,"91, 2",x\n'
            b'93006\x00,"48.9, 2.4",x\n'
        )
        plan = await import_file(
            conn, hostile, label="hostile.csv", by=cli_actor(), now=now, dry_run=False
        )
        assert [(r.outcome, r.reason) for r in plan.rows] == [
            ("refused", "latitude 'NaN' is not between -90 and 90"),
            ("refused", "longitude ' 1e999' is not between -180 and 180"),
            ("refused", "latitude '91' is not between -90 and 90"),
            ("created", ""),
        ]
        points = geojson(
            feature("93048", {"type": "Point", "coordinates": [2.4, "x"]}),
            feature("93006", {"type": "Polygon", "coordinates": [[[1e999, 2]]]}),
            feature("93006", {"type": "MultiPolygon", "coordinates": "nope"}),
        )
        plan = await import_file(
            conn, points, label="bad.geojson", by=cli_actor(), now=now + timedelta(1), dry_run=True
        )
        assert [r.outcome for r in plan.rows] == ["refused"] * 3
        assert plan.rows[0].reason == "latitude 'x' is not a number"
