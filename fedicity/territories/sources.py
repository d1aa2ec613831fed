"""The territory import's inputs: the shipped file, a CSV or a GeoJSON FeatureCollection (and
the package's data folder, read by package.py), each read whole into rows before anything touches
the database; and the shipped file written back from rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

from fedicity.territories.models import (
    ImportFormatError,
    RowError,
    RowOrSkip,
    SkippedRow,
    TerritoryRow,
)
from fedicity.territories.package import package_rows

SHIPPED_FILE = Path(__file__).parent / "data" / "fr-territories.csv.gz"
COLUMNS = (
    "level",
    "code",
    "name",
    "kind",
    "region",
    "departement",
    "epci",
    "commune",
    "postal_codes",
    "population",
    "zone",
    "latitude",
    "longitude",
    "bbox",
)
Format = Literal["auto", "shipped", "package", "csv", "geojson"]
FORMATS: tuple[Format, ...] = ("auto", "shipped", "package", "csv", "geojson")


# --- reading values --------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _words(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return tuple(str(value).split())


def _int(value: object, column: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowError(f"{column} is not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise RowError(f"{column} is not a whole number: {value!r}") from None


def _float(value: object, column: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(cast(str, value))
    except (TypeError, ValueError):
        raise RowError(f"{column} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise RowError(f"{column} is not a finite number: {value!r}")
    return number


def _bbox(value: object) -> tuple[float, float, float, float] | None:
    numbers = [_float(item, "bbox") for item in _words(value)]
    if not numbers:
        return None
    if len(numbers) != 4 or any(n is None for n in numbers):
        raise RowError(f"bbox needs 4 numbers (min lon, min lat, max lon, max lat): {value!r}")
    west, south, east, north = cast(list[float], numbers)
    return (west, south, east, north)


def row_from_fields(
    line: int, fields: Mapping[str, object], geometry: dict[str, Any] | None = None
) -> TerritoryRow:
    """A row from a CSV record or GeoJSON properties (RowError when a value cannot be read)."""
    departements = _words(fields.get("departement"))
    level = (_text(fields.get("level")) or "").lower()
    latitude = _float(fields.get("latitude"), "latitude")
    longitude = _float(fields.get("longitude"), "longitude")
    bbox = _bbox(fields.get("bbox"))
    if geometry is not None:
        bbox = bbox or geometry_bbox(geometry)
        if latitude is None and longitude is None and geometry.get("type") == "Point":
            longitude, latitude = (float(n) for n in geometry["coordinates"][:2])
    return TerritoryRow(
        line=line,
        level=level,
        code=_text(fields.get("code")) or "",
        name=_text(fields.get("name")) or "",
        kind=_text(fields.get("kind")),
        region=_text(fields.get("region")),
        departements=departements,
        epcis=_words(fields.get("epci")),
        commune=_text(fields.get("commune")),
        postal_codes=_words(fields.get("postal_codes")),
        population=_int(fields.get("population"), "population"),
        zone=_text(fields.get("zone")),
        latitude=latitude,
        longitude=longitude,
        bbox=bbox,
        geometry=geometry,
    )


def geometry_bbox(geometry: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """The bounding box of a GeoJSON geometry (RowError when it has no position)."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(node: object) -> None:
        if isinstance(node, list) and node and all(isinstance(n, int | float) for n in node):
            xs.append(float(node[0]))
            ys.append(float(node[1]))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            walk(part.get("coordinates") if isinstance(part, dict) else None)
    else:
        walk(geometry.get("coordinates"))
    if not xs:
        raise RowError("the geometry has no coordinates")
    return (min(xs), min(ys), max(xs), max(ys))


# --- reading files ---------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return cast(io.TextIOBase, gzip.open(path, "rt", encoding="utf-8", newline=""))
    return cast(io.TextIOBase, path.open(encoding="utf-8-sig", newline=""))


def read_csv(path: Path) -> list[RowOrSkip]:
    """Rows of a CSV file (plain or gzipped) with the shipped file's columns."""
    out: list[RowOrSkip] = []
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            header = set(reader.fieldnames or ())
            missing = {"level", "code", "name"} - header
            if missing:
                raise ImportFormatError(
                    f"{path}: not a territory CSV (no {', '.join(sorted(missing))} column)"
                )
            for record in reader:
                line = reader.line_num
                if None in record:
                    out.append(SkippedRow(line, "more values than columns"))
                    continue
                try:
                    out.append(row_from_fields(line, record))
                except RowError as error:
                    out.append(SkippedRow(line, str(error)))
    except (UnicodeDecodeError, csv.Error, gzip.BadGzipFile, EOFError) as error:
        raise ImportFormatError(f"{path}: unreadable CSV ({error})") from error
    return out


def read_geojson(path: Path) -> list[RowOrSkip]:
    """Rows of a GeoJSON FeatureCollection whose properties carry the CSV's columns."""
    try:
        with _open_text(path) as handle:
            document = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ImportFormatError(f"{path}: unreadable GeoJSON ({error})") from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFormatError(f"{path}: not a GeoJSON FeatureCollection")
    out: list[RowOrSkip] = []
    for index, feature in enumerate(document.get("features") or [], start=1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            out.append(SkippedRow(index, "a feature without properties"))
            continue
        geometry = feature.get("geometry")
        properties = dict(feature["properties"])
        if isinstance(feature.get("bbox"), list) and "bbox" not in properties:
            properties["bbox"] = feature["bbox"][:2] + feature["bbox"][-2:]
        try:
            if geometry is not None and not isinstance(geometry, dict):
                raise RowError("the geometry is not a GeoJSON object")
            out.append(row_from_fields(index, properties, geometry))
        except RowError as error:
            out.append(SkippedRow(index, str(error)))
    return out


def detect_format(source: Path | None) -> Format:
    """What kind of input a path is: a folder is the package, .json/.geojson GeoJSON, else CSV."""
    if source is None:
        return "shipped"
    if source.is_dir():
        return "package"
    suffixes = [s.lower() for s in source.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in (".json", ".geojson"):
        return "geojson"
    return "csv"


def read_source(source: Path | str | None, source_format: Format = "auto") -> list[RowOrSkip]:
    """The rows of an input, read whole before anything touches the database."""
    path = None if source is None else Path(source)
    if source_format == "auto":
        source_format = detect_format(path)
    if source_format == "shipped":
        return read_csv(path or SHIPPED_FILE)
    if path is None:
        raise ImportFormatError(f"the {source_format} format needs a file or folder")
    if source_format != "package" and not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    if source_format == "package":
        if not path.is_dir():
            raise ImportFormatError(f"{path}: not a folder")
        return list(package_rows(path))
    if source_format == "geojson":
        return read_geojson(path)
    return read_csv(path)


# --- writing the shipped file ----------------------------------------------------------------


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def row_fields(row: TerritoryRow) -> dict[str, str]:
    """A row as the shipped file's columns."""
    return {
        "level": row.level,
        "code": row.code,
        "name": row.name,
        "kind": row.kind or "",
        "region": row.region or "",
        "departement": " ".join(row.departements),
        "epci": " ".join(row.epcis),
        "commune": row.commune or "",
        "postal_codes": " ".join(row.postal_codes),
        "population": "" if row.population is None else str(row.population),
        "zone": row.zone or "",
        "latitude": _number(row.latitude),
        "longitude": _number(row.longitude),
        "bbox": " ".join(_number(n) for n in row.bbox) if row.bbox else "",
    }


def write_csv(rows: Iterable[TerritoryRow], out: Path) -> None:
    """Write rows with the shipped file's columns; gzipped (byte-for-byte reproducible) if the
    name ends in .gz."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row_fields(row) for row in rows)
    data = buffer.getvalue().encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.name.endswith(".gz"):
        with (
            out.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
        ):
            packed.write(data)
    else:
        out.write_bytes(data)


def build_data(directory: Path, out: Path) -> int:
    """Derive the shipped file from the package's data folder; returns the number of rows."""
    rows = package_rows(directory)
    write_csv(rows, out)
    return len(rows)
