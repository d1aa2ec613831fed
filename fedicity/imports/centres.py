"""Commune centres from an open dataset given as a file: a CSV (the INSEE code and a latitude
and longitude, or a `geo_point_2d` "lat, lon" cell) or a GeoJSON FeatureCollection (a Point, or
a Polygon or MultiPolygon whose centre and box are computed), applied with the machinery of
every file (imports/files.py): dry run, one transaction, provenance."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fedicity.audit.models import Actor as AuditActor
from fedicity.db.pool import Connection
from fedicity.imports import queries
from fedicity.imports.files import (
    FileJob,
    FilePlan,
    FileRefused,
    Outcome,
    Reason,
    RowPlan,
    clean_cell,
    decode,
    fold,
    lazy,
    read_table,
    refused,
    run,
)
from fedicity.imports.models import ImportSource, content_hash
from fedicity.territories.models import RowError
from fedicity.territories.sources import geometry_bbox

# The IGN communes with their polygons run to hundreds of megabytes; the centres alone to a few.
MAX_FILE_BYTES: Final = 256 * 1024 * 1024
MAX_ROWS: Final = 100_000
# Folded header names: the code's, then the coordinates'.
CODE_COLUMNS: Final = (
    "code_commune_insee",
    "codgeo",
    "code_insee",
    "insee_com",
    "insee",
    "cog",
    "com_code",
    "code_commune",
    "code",
)
LATITUDE_COLUMNS: Final = ("latitude", "lat", "latitude_centre", "centre_lat", "y")
LONGITUDE_COLUMNS: Final = (
    "longitude",
    "lon",
    "lng",
    "long",
    "longitude_centre",
    "centre_lon",
    "x",
)
POINT_COLUMNS: Final = ("geo_point_2d", "geo_point", "centre", "coordonnees_gps")
_CODE = re.compile(r"[0-9][0-9AB][0-9]{3}")


@dataclass(frozen=True)
class Centre:
    """A commune's centre as read, and its box when a polygon gave one."""

    code: str
    latitude: float
    longitude: float
    bbox: tuple[float, float, float, float] | None


class _Refusal(Exception):
    pass


def _coordinate(value: object, name: str, bound: float) -> float:
    if isinstance(value, bool):
        raise _Refusal(Reason(lazy("%(field)s is not a number"), field=name))
    try:
        number = float(str(value).strip().replace(",", ".") if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Refusal(
            Reason(
                lazy("%(field)s %(value)s is not a number"),
                field=name,
                value=repr(str(value)[:40]),
            )
        ) from None
    if not math.isfinite(number) or abs(number) > bound:
        raise _Refusal(
            Reason(
                lazy("%(field)s %(value)s is not between -%(bound)s and %(bound)s"),
                field=name,
                value=repr(str(value)[:40]),
                bound=f"{bound:g}",
            )
        )
    return number


def _code(value: object) -> str:
    text = clean_cell(str(value))[0].upper() if value is not None else ""
    if len(text) == 4 and text.isdigit():
        text = "0" + text  # a spreadsheet dropped the leading zero of 01001
    if not _CODE.fullmatch(text):
        raise _Refusal(
            Reason(lazy("code %(value)s is not an INSEE commune code"), value=repr(text[:20]))
        )
    return text


def _pick(names: dict[str, int], wanted: tuple[str, ...]) -> int | None:
    return next((names[w] for w in wanted if w in names), None)


def read_csv(text: str) -> list[tuple[int, Centre | str, str]]:
    """(line, centre or why not, code) for each row of a CSV of centres."""
    header, rows = read_table(text, max_rows=MAX_ROWS)
    names: dict[str, int] = {}
    for index, name in enumerate(header):
        names.setdefault(fold(name), index)
    code_at = _pick(names, CODE_COLUMNS)
    lat_at, lon_at = _pick(names, LATITUDE_COLUMNS), _pick(names, LONGITUDE_COLUMNS)
    point_at = _pick(names, POINT_COLUMNS)
    if code_at is None:
        raise FileRefused(
            Reason(
                lazy("no INSEE code column (one of %(columns)s)"), columns=", ".join(CODE_COLUMNS)
            )
        )
    if point_at is None and (lat_at is None or lon_at is None):
        raise FileRefused(
            Reason(lazy("no latitude and longitude columns, nor a geo_point_2d column"))
        )
    out: list[tuple[int, Centre | str, str]] = []
    for line, cells in rows:

        def cell(at: int, cells: list[str] = cells) -> str:
            return clean_cell(cells[at])[0] if at < len(cells) else ""

        code = cell(code_at)
        try:
            code = _code(code)
            if lat_at is not None and lon_at is not None and cell(lat_at) and cell(lon_at):
                lat_text, lon_text = cell(lat_at), cell(lon_at)
            elif point_at is not None and cell(point_at).count(",") == 1:
                lat_text, lon_text = cell(point_at).split(",")
            else:
                raise _Refusal(Reason(lazy("no coordinates")))
            latitude = _coordinate(lat_text, "latitude", 90)
            longitude = _coordinate(lon_text, "longitude", 180)
            out.append((line, Centre(code, latitude, longitude, None), code))
        except _Refusal as refusal:
            out.append((line, refusal.args[0], code[:20]))
    return out


def polygon_centre(geometry: dict[str, Any]) -> tuple[float, float]:
    """(longitude, latitude) of a Polygon's or MultiPolygon's centroid, weighted by the area of
    its outer rings (holes are small for communes); the first point for a degenerate one."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    total = sx = sy = 0.0
    first: tuple[float, float] | None = None
    for polygon in polygons:
        ring = polygon[0]
        for start, end in itertools.pairwise(ring):
            (x0, y0), (x1, y1) = start[:2], end[:2]
            first = first or (x0, y0)
            cross = x0 * y1 - x1 * y0
            total += cross
            sx += (x0 + x1) * cross
            sy += (y0 + y1) * cross
    if first is None:
        raise _Refusal(Reason(lazy("the polygon has no points")))
    if abs(total) < 1e-12:
        return first
    return sx / (3 * total), sy / (3 * total)


def _ring_points_ok(geometry: dict[str, Any]) -> bool:
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    if not isinstance(polygons, list) or not polygons:
        return False
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon or not isinstance(polygon[0], list):
            return False
        for point in polygon[0]:
            if (
                not isinstance(point, list)
                or len(point) < 2
                or not all(isinstance(n, int | float) and math.isfinite(n) for n in point[:2])
            ):
                return False
    return True


def _feature(index: int, feature: object) -> tuple[int, Centre | str, str]:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return index, Reason(lazy("a feature without properties")), ""
    properties = {fold(str(k)): v for k, v in feature["properties"].items()}
    raw = next((properties[c] for c in CODE_COLUMNS if properties.get(c) not in (None, "")), None)
    geometry = feature.get("geometry")
    try:
        if raw is None:
            raise _Refusal(Reason(lazy("no INSEE code in the properties")))
        code = _code(raw)
    except _Refusal as refusal:
        return index, refusal.args[0], ""
    try:
        if not isinstance(geometry, dict):
            raise _Refusal(Reason(lazy("no geometry")))
        kind = geometry.get("type")
        if kind == "Point":
            position = geometry.get("coordinates")
            if not isinstance(position, list) or len(position) < 2:
                raise _Refusal(Reason(lazy("a Point without coordinates")))
            longitude = _coordinate(position[0], "longitude", 180)
            latitude = _coordinate(position[1], "latitude", 90)
            return index, Centre(code, latitude, longitude, None), code
        if kind not in ("Polygon", "MultiPolygon") or not _ring_points_ok(geometry):
            raise _Refusal(
                Reason(
                    lazy("a geometry of type %(value)s without a usable outline"),
                    value=repr(str(kind)[:30]),
                )
            )
        x, y = polygon_centre(geometry)
        longitude = _coordinate(x, "longitude", 180)
        latitude = _coordinate(y, "latitude", 90)
        try:
            west, south, east, north = geometry_bbox(geometry)
        except RowError as error:
            raise _Refusal(Reason(lazy("the geometry has no coordinates"))) from error
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise _Refusal(Reason(lazy("the outline lies outside the Earth")))
        return index, Centre(code, latitude, longitude, (west, south, east, north)), code
    except _Refusal as refusal:
        return index, refusal.args[0], code


def read_geojson(text: str) -> list[tuple[int, Centre | str, str]]:
    """(feature number, centre or why not, code) for each feature of a FeatureCollection."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise FileRefused(Reason(lazy("the GeoJSON is nested too deeply"))) from None
    except json.JSONDecodeError as error:
        raise FileRefused(
            Reason(
                lazy("line %(line)s: unreadable JSON (%(error)s)"),
                line=error.lineno,
                error=error.msg,
            )
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise FileRefused(Reason(lazy("not a GeoJSON FeatureCollection")))
    features = document.get("features")
    if not isinstance(features, list):
        raise FileRefused(Reason(lazy("the FeatureCollection has no features list")))
    if len(features) > MAX_ROWS:
        raise FileRefused(Reason(lazy("the file has more than %(max)s features"), max=MAX_ROWS))
    return [_feature(index, f) for index, f in enumerate(features, start=1)]


def read_file(data: bytes, name: str) -> list[tuple[int, Centre | str, str]]:
    """The centres of a file: GeoJSON by its name (.json, .geojson) or its first character."""
    text = decode(data, max_bytes=MAX_FILE_BYTES)
    if name.lower().endswith((".json", ".geojson")) or text.lstrip()[:1] == "{":
        return read_geojson(text)
    return read_csv(text)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


async def plan_rows(
    conn: Connection, rows: list[tuple[int, Centre | str, str]]
) -> list[RowPlan[Centre]]:
    """Each row's plan against the communes the database knows."""
    communes = await queries.select_communes(conn)
    seen: dict[str, int] = {}
    out: list[RowPlan[Centre]] = []
    for line, read, code in rows:
        if isinstance(read, str):
            out.append(refused(line, code, code, read))
            continue
        commune = communes.get(read.code)
        if commune is None:
            out.append(refused(line, read.code, read.code, Reason(lazy("unknown commune code"))))
            continue
        if read.code in seen:
            out.append(
                refused(
                    line,
                    read.code,
                    commune["name"],
                    Reason(lazy("the same commune as line %(line)s"), line=seen[read.code]),
                )
            )
            continue
        seen[read.code] = line
        centre = Centre(
            read.code,
            round(read.latitude, 6),
            round(read.longitude, 6),
            None if read.bbox is None else tuple(round(n, 6) for n in read.bbox),  # type: ignore[arg-type]
        )
        changed = [
            name
            for name, now, new in (
                ("latitude", commune["latitude"], centre.latitude),
                ("longitude", commune["longitude"], centre.longitude),
            )
            if _rounded(now) != new
        ]
        if centre.bbox is not None and [_rounded(n) for n in commune["bbox"] or []] != list(
            centre.bbox
        ):
            changed.append("bbox")
        was_empty = commune["latitude"] is None
        outcome: Outcome = "unchanged" if not changed else ("created" if was_empty else "updated")
        out.append(
            RowPlan(
                line,
                read.code,
                commune["name"],
                outcome,
                tuple(changed),
                digest=content_hash(
                    {"lat": centre.latitude, "lon": centre.longitude, "bbox": centre.bbox}
                ),
                payload=centre,
                object_id=commune["id"],
            )
        )
    return out


async def _write_all(conn: Connection, rows: Sequence[RowPlan[Centre]]) -> None:
    centres = [
        (
            row.object_id or 0,
            row.payload.latitude,
            row.payload.longitude,
            None if row.payload.bbox is None else list(row.payload.bbox),
        )
        for row in rows
        if row.payload is not None and row.outcome != "unchanged"
    ]
    if centres:
        await queries.set_centres(conn, centres)


async def import_file(
    conn: Connection, data: bytes, *, label: str, by: AuditActor, now: datetime, dry_run: bool
) -> FilePlan[Centre]:
    """Read, plan and (unless a dry run) apply a file of commune centres."""
    rows = read_file(data, label)

    async def plan(conn: Connection, source: ImportSource | None) -> list[RowPlan[Centre]]:
        return await plan_rows(conn, rows)

    async def write(conn: Connection, row: RowPlan[Centre]) -> int:
        return row.object_id or 0

    job = FileJob(
        "commune_centres",
        "territory",
        "import.centres",
        plan,
        write,
        write_all=_write_all,
    )
    return await run(conn, job, label, dry_run=dry_run, by=by, now=now)
