"""Import the territory tree: from the shipped file, the source package's JSON, a CSV or GeoJSON.

Every row is checked first (level, code shape, parents present in the input or the database); a bad
row is skipped with its line and reason, and so are the rows that hang from it. The rest goes in
as one transaction: COPY into temporary tables, one upsert per level that leaves a row alone unless
something in it changed, then the closure table rebuilt for the imported territories (and the ones
below them) by set difference. Territories absent from the input are left alone, never deleted.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from fedicity.db.pool import Connection
from fedicity.territories.models import LEVELS, QUARTIER_KINDS, ZONES, Level, valid_code

SHIPPED_FILE = Path(__file__).parent / "data" / "fr-territories.csv.gz"
COUNTRY_CODE = "FR"
COUNTRY_NAME = "France"
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
_LOCK_KEY = 0x7465727269  # "terri"
_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}


class ImportFormatError(Exception):
    """The input cannot be read at all (missing file, not CSV/GeoJSON, no level column...)."""


class RowError(ValueError):
    """Why one row cannot be imported."""


@dataclass(frozen=True)
class TerritoryRow:
    """One territory as a file describes it: codes of its parents, not database ids.

    line is the row's line in a CSV file (the header is line 1), or the 1-based index of a
    GeoJSON feature, or the line the row has in the file `build-data` writes for a package.
    """

    line: int
    level: str
    code: str
    name: str
    kind: str | None = None
    region: str | None = None
    # An EPCI's départements (the one holding most of its people first); a commune's one.
    departements: tuple[str, ...] = ()
    # A commune's EPCIs, innermost first (an EPT, then the métropole); an EPT's métropole.
    epcis: tuple[str, ...] = ()
    commune: str | None = None
    postal_codes: tuple[str, ...] = ()
    population: int | None = None
    zone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    bbox: tuple[float, float, float, float] | None = None
    geometry: dict[str, Any] | None = None


@dataclass(frozen=True)
class SkippedRow:
    """A row left out, and why."""

    line: int
    reason: str


@dataclass
class LevelCounts:
    """What an import did to the territories of one level."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did, level by level, and what it left out."""

    counts: dict[Level, LevelCounts] = field(default_factory=dict)
    skipped: list[SkippedRow] = field(default_factory=list)
    ancestors_added: int = 0
    ancestors_removed: int = 0
    ancestors_changed: int = 0
    seconds: float = 0.0

    @property
    def inserted(self) -> int:
        """Territories created."""
        return sum(c.inserted for c in self.counts.values())

    @property
    def updated(self) -> int:
        """Territories that existed and differed."""
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        """Territories that existed exactly as imported."""
        return sum(c.unchanged for c in self.counts.values())

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything at all."""
        return bool(
            self.inserted
            or self.updated
            or self.ancestors_added
            or self.ancestors_removed
            or self.ancestors_changed
        )

    def summary(self) -> list[str]:
        """Human-readable lines: one per level, the ancestry, the skipped rows, the time."""
        lines = [
            f"{level}: {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged"
            for level, c in sorted(self.counts.items(), key=lambda item: _RANK[item[0]])
        ]
        lines.append(
            f"ancestry: {self.ancestors_added} links added, {self.ancestors_removed} removed, "
            f"{self.ancestors_changed} re-ranked"
        )
        lines.extend(f"skipped line {s.line}: {s.reason}" for s in self.skipped)
        lines.append(f"{len(self.skipped)} rows skipped; {self.seconds:.1f} s")
        return lines


# --- reading ---------------------------------------------------------------------------------


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


RowOrSkip = TerritoryRow | SkippedRow


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


def _load_json(directory: Path, name: str) -> list[dict[str, Any]]:
    path = directory / name
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ImportFormatError(
            f"{directory}: no {name} (not the package's data folder?)"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImportFormatError(f"{path}: unreadable JSON ({error})") from error
    if not isinstance(data, list):
        raise ImportFormatError(f"{path}: expected a JSON array")
    return cast(list[dict[str, Any]], data)


def package_rows(directory: Path) -> list[TerritoryRow]:
    """The tree from @etalab/decoupage-administratif's data folder, in the shipped file's order.

    Communes actuelles are communes; communes déléguées, associées and arrondissements municipaux
    are quartiers of theirs. EPTs (ept.json, if present) are EPCIs inside the métropole that
    holds their communes. Populations above the commune are sums over their communes.
    """
    try:
        return _package_rows(directory)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ImportFormatError(f"{directory}: unexpected package data ({error!r})") from error


def _package_rows(directory: Path) -> list[TerritoryRow]:
    regions = _load_json(directory, "regions.json")
    departements = _load_json(directory, "departements.json")
    epcis = _load_json(directory, "epci.json")
    communes = _load_json(directory, "communes.json")
    epts = _load_json(directory, "ept.json") if (directory / "ept.json").exists() else []

    actuelles = {c["code"]: c for c in communes if c.get("type") == "commune-actuelle"}
    population: Counter[str] = Counter()  # per région, département and EPCI code, and FR
    populated: set[str] = set()

    def count(key: str, commune: Mapping[str, Any]) -> None:
        if commune.get("population") is not None:
            population[key] += int(commune["population"])
            populated.add(key)

    for commune in actuelles.values():
        for key in (COUNTRY_CODE, "r" + commune["region"], "d" + commune["departement"]):
            count(key, commune)

    def pop(key: str) -> int | None:
        return population[key] if key in populated else None

    member_of: dict[str, list[str]] = defaultdict(list)  # commune -> EPCIs, innermost first
    rows: list[TerritoryRow] = [
        TerritoryRow(0, "country", COUNTRY_CODE, COUNTRY_NAME, population=pop(COUNTRY_CODE))
    ]
    rows += [
        TerritoryRow(
            0, "region", r["code"], r["nom"], zone=r.get("zone"), population=pop("r" + r["code"])
        )
        for r in regions
    ]
    rows += [
        TerritoryRow(
            0,
            "departement",
            d["code"],
            d["nom"],
            region=d["region"],
            zone=d.get("zone"),
            population=pop("d" + d["code"]),
        )
        for d in departements
    ]
    epci_of: dict[str, str] = {}
    for epci in epcis:
        for member in epci["membres"]:
            epci_of[member["code"]] = epci["code"]
    for group, outer in ((epts, True), (epcis, False)):
        for epci in group:
            members = [actuelles[m["code"]] for m in epci["membres"] if m["code"] in actuelles]
            by_departement: Counter[str] = Counter()
            for commune in members:
                member_of[commune["code"]].append(epci["code"])
                count("e" + epci["code"], commune)
                by_departement[commune["departement"]] += int(commune.get("population") or 0)
            # An EPT lies inside the EPCI (the Métropole du Grand Paris) holding its communes.
            containers = Counter(epci_of[c["code"]] for c in members if c["code"] in epci_of)
            zones = Counter(c.get("zone") for c in members)
            rows.append(
                TerritoryRow(
                    0,
                    "epci",
                    epci["code"],
                    epci["nom"],
                    kind=epci.get("type") or None,
                    departements=tuple(
                        sorted(by_departement, key=lambda d: (-by_departement[d], d))
                    ),
                    epcis=(containers.most_common(1)[0][0],) if outer and containers else (),
                    population=pop("e" + epci["code"]),
                    zone=zones.most_common(1)[0][0] if zones else None,
                )
            )
    for commune in actuelles.values():
        rows.append(
            TerritoryRow(
                0,
                "commune",
                commune["code"],
                commune["nom"],
                region=commune["region"],
                departements=(commune["departement"],),
                epcis=tuple(member_of.get(commune["code"], ())),
                postal_codes=tuple(commune.get("codesPostaux") or ()),
                population=commune.get("population"),
                zone=commune.get("zone"),
            )
        )
    for quartier in communes:
        if quartier.get("type") == "commune-actuelle":
            continue
        rows.append(
            TerritoryRow(
                0,
                "quartier",
                quartier["code"],
                quartier["nom"],
                kind=quartier.get("type"),
                commune=quartier.get("commune") or quartier.get("chefLieu"),
                postal_codes=tuple(quartier.get("codesPostaux") or ()),
                population=quartier.get("population"),
                zone=quartier.get("zone"),
            )
        )
    rows.sort(key=lambda row: (_RANK.get(row.level, len(LEVELS)), row.code))
    return [replace(row, line=line) for line, row in enumerate(rows, start=2)]


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


# --- checking --------------------------------------------------------------------------------


@dataclass
class _Known:
    """Parent codes that can be linked to: the database's, then the valid rows' as checked."""

    codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    region_of: dict[str, str] = field(default_factory=dict)  # département -> région
    # EPCIs of the input inside another: they go in the second EPCI round, so none can be
    # inside them (one round would not see the other's new row).
    nested_epcis: set[str] = field(default_factory=set)

    def has(self, level: Level, code: str) -> bool:
        return code in self.codes[level]


async def _known_in_database(conn: Connection) -> _Known:
    known = _Known()
    rows = await conn.fetch(
        """SELECT t.level, t.code, p.level AS parent_level, p.code AS parent_code
             FROM territories t LEFT JOIN territories p ON p.id = t.parent_id
            WHERE t.level <> 'quartier'"""
    )
    for row in rows:
        known.codes[row["level"]].add(row["code"])
        if row["level"] == "departement" and row["parent_level"] == "region":
            known.region_of[row["code"]] = row["parent_code"]
    return known


def _check_values(row: TerritoryRow) -> None:
    if row.level not in LEVELS:
        raise RowError(f"unknown level {row.level!r}")
    level = row.level
    if not valid_code(level, row.code):
        raise RowError(f"{row.code!r} is not a {level} code")
    if not row.name:
        raise RowError("no name")
    if row.zone is not None and row.zone not in ZONES:
        raise RowError(f"unknown zone {row.zone!r} (expected {', '.join(ZONES)})")
    if level == "quartier" and (row.kind or "quartier") not in QUARTIER_KINDS:
        raise RowError(f"unknown quartier kind {row.kind!r}")
    if row.population is not None and row.population < 0:
        raise RowError("negative population")
    if (row.latitude is None) != (row.longitude is None):
        raise RowError("latitude and longitude go together")
    if row.latitude is not None and not -90 <= row.latitude <= 90:
        raise RowError(f"latitude out of range: {row.latitude}")
    if row.longitude is not None and not -180 <= row.longitude <= 180:
        raise RowError(f"longitude out of range: {row.longitude}")
    if row.bbox is not None and (row.bbox[0] > row.bbox[2] or row.bbox[1] > row.bbox[3]):
        raise RowError("bbox is not min lon, min lat, max lon, max lat")


def _check_parents(row: TerritoryRow, known: _Known) -> None:
    def need(level: Level, code: str) -> None:
        if not known.has(level, code):
            raise RowError(f"unknown {level} {code!r}")

    level = row.level
    if level == "region":
        need("country", COUNTRY_CODE)
    elif level == "departement":
        if not row.region:
            raise RowError("no region")
        need("region", row.region)
    elif level == "epci":
        if not row.departements:
            raise RowError("no departement")
        for code in row.departements:
            need("departement", code)
        if len(row.epcis) > 1:
            raise RowError("an EPCI lies inside one EPCI at most")
        for code in row.epcis:
            need("epci", code)
            if code in known.nested_epcis:
                raise RowError(f"EPCI {code!r} is itself inside an EPCI")
    elif level == "commune":
        if len(row.departements) != 1:
            raise RowError("a commune needs exactly one departement")
        departement = row.departements[0]
        need("departement", departement)
        expected = known.region_of.get(departement)
        if row.region and expected and row.region != expected:
            raise RowError(
                f"region {row.region!r} is not département {departement!r}'s ({expected!r})"
            )
        for code in row.epcis:
            need("epci", code)
    elif level == "quartier":
        if not row.commune:
            raise RowError("no commune")
        need("commune", row.commune)
        if "-" in row.code and row.code.split("-", 1)[0] != row.commune:
            raise RowError(f"{row.code!r} does not start with its commune's code {row.commune!r}")


def check_rows(
    rows: Sequence[RowOrSkip], known: _Known
) -> tuple[list[TerritoryRow], list[SkippedRow]]:
    """Split rows into those to import and those to skip (with why), parents before children."""
    skipped = [row for row in rows if isinstance(row, SkippedRow)]
    candidates = [row for row in rows if isinstance(row, TerritoryRow)]
    valid: list[TerritoryRow] = []
    seen: dict[tuple[str, str], int] = {}
    checked: list[TerritoryRow] = []
    for row in candidates:
        try:
            _check_values(row)
        except RowError as error:
            skipped.append(SkippedRow(row.line, str(error)))
            continue
        first = seen.setdefault((row.level, row.code), row.line)
        if first != row.line:
            skipped.append(SkippedRow(row.line, f"{row.level} {row.code} already at line {first}"))
            continue
        checked.append(row)
    checked.sort(key=_batch)
    for row in checked:
        try:
            _check_parents(row, known)
        except RowError as error:
            skipped.append(SkippedRow(row.line, str(error)))
            continue
        valid.append(row)
        known.codes[row.level].add(row.code)
        if row.level == "departement" and row.region:
            known.region_of[row.code] = row.region
        if row.level == "epci" and row.epcis:
            known.nested_epcis.add(row.code)
    skipped.sort(key=lambda s: s.line)
    return valid, skipped


def _batch(row: TerritoryRow) -> int:
    """The upsert round of a row: parents go in a round before their children."""
    return _RANK[row.level] * 2 + (1 if row.level == "epci" and row.epcis else 0)


# --- writing ---------------------------------------------------------------------------------

# (parent level, parent code, depth from the child, whether the parent's ancestors are the
# child's too). A commune's EPCIs are not inherited from: an EPCI spanning départements is
# above all of them, its communes only above their own.
Link = tuple[Level, str, int, bool]


def links(row: TerritoryRow) -> list[Link]:
    """Where a valid row hangs in the tree; the first link at depth 1 is its parent_id."""
    if row.level == "region":
        return [("country", COUNTRY_CODE, 1, True)]
    if row.level == "departement":
        assert row.region is not None
        return [("region", row.region, 1, True)]
    if row.level in ("epci", "commune"):
        above: list[Link] = [("epci", code, i, False) for i, code in enumerate(row.epcis, 1)]
        depth = len(row.epcis) + 1
        return above + [("departement", code, depth, True) for code in row.departements]
    if row.level == "quartier":
        assert row.commune is not None
        return [("commune", row.commune, 1, True)]
    return []


_CREATE_TEMP = """
DROP TABLE IF EXISTS _ti_rows, _ti_links, _ti_affected, _ti_edges, _ti_want;
CREATE TEMP TABLE _ti_rows (
    batch integer, level text, code text, name text, kind text, parent_level text,
    parent_code text, postal_codes text[], population integer, zone text,
    latitude double precision, longitude double precision, bbox double precision[],
    geometry text
) ON COMMIT DROP;
CREATE TEMP TABLE _ti_links (
    child_level text, child_code text, parent_level text, parent_code text, depth integer,
    inherit boolean
) ON COMMIT DROP;
"""

_UPSERT = """
WITH upserted AS (
    INSERT INTO territories AS t (level, code, name, kind, parent_id, postal_codes, population,
                                  zone, latitude, longitude, bbox, geometry)
    SELECT i.level, i.code, i.name, i.kind, p.id, i.postal_codes, i.population, i.zone,
           i.latitude, i.longitude, i.bbox, i.geometry::jsonb
      FROM _ti_rows i
      LEFT JOIN territories p ON p.level = i.parent_level AND p.code = i.parent_code
     WHERE i.batch = $1
    ON CONFLICT (level, code) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
        postal_codes = EXCLUDED.postal_codes, population = EXCLUDED.population,
        zone = EXCLUDED.zone,
        latitude = COALESCE(EXCLUDED.latitude, t.latitude),
        longitude = COALESCE(EXCLUDED.longitude, t.longitude),
        bbox = COALESCE(EXCLUDED.bbox, t.bbox),
        geometry = COALESCE(EXCLUDED.geometry, t.geometry),
        updated_at = now()
    WHERE (t.name, t.kind, t.parent_id, t.postal_codes, t.population, t.zone, t.latitude,
           t.longitude, t.bbox, t.geometry)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.parent_id, EXCLUDED.postal_codes,
           EXCLUDED.population, EXCLUDED.zone, COALESCE(EXCLUDED.latitude, t.latitude),
           COALESCE(EXCLUDED.longitude, t.longitude), COALESCE(EXCLUDED.bbox, t.bbox),
           COALESCE(EXCLUDED.geometry, t.geometry))
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
  FROM upserted
"""

# The territories whose ancestry is rebuilt: the imported ones and everything below them now.
# Links of those below come from their current ancestry, since no input row describes them.
_PREPARE_ANCESTRY = """
CREATE TEMP TABLE _ti_affected (id bigint PRIMARY KEY, level text, imported boolean)
    ON COMMIT DROP;
INSERT INTO _ti_affected
SELECT t.id, t.level, true FROM _ti_rows i JOIN territories t USING (level, code);
INSERT INTO _ti_affected
SELECT DISTINCT a.descendant_id, d.level, false
  FROM _ti_affected x
  JOIN territory_ancestors a ON a.ancestor_id = x.id AND a.depth > 0
  JOIN territories d ON d.id = a.descendant_id
ON CONFLICT (id) DO NOTHING;
CREATE TEMP TABLE _ti_edges (child_id bigint, parent_id bigint, depth integer, inherit boolean)
    ON COMMIT DROP;
INSERT INTO _ti_edges
SELECT c.id, p.id, l.depth, l.inherit
  FROM _ti_links l
  JOIN territories c ON c.level = l.child_level AND c.code = l.child_code
  JOIN territories p ON p.level = l.parent_level AND p.code = l.parent_code;
INSERT INTO _ti_edges
SELECT x.id, p.id, a.depth, p.level <> 'epci'
  FROM _ti_affected x
  JOIN territory_ancestors a ON a.descendant_id = x.id AND a.depth > 0
  JOIN territories p ON p.id = a.ancestor_id
 WHERE NOT x.imported
   AND (x.level, p.level) IN (('region', 'country'), ('departement', 'region'),
                              ('epci', 'epci'), ('epci', 'departement'),
                              ('commune', 'epci'), ('commune', 'departement'),
                              ('quartier', 'commune'));
CREATE INDEX ON _ti_edges (child_id);
CREATE TEMP TABLE _ti_want (
    ancestor_id bigint, descendant_id bigint, depth integer,
    PRIMARY KEY (descendant_id, ancestor_id)
) ON COMMIT DROP;
ANALYZE _ti_affected;
ANALYZE _ti_edges;
"""

# One level at a time, top down: an inherited link points to a level already done (or to a
# territory outside the rebuild, whose ancestry stands).
_WANT_LEVEL = """
INSERT INTO _ti_want (ancestor_id, descendant_id, depth)
SELECT ancestor_id, descendant_id, min(depth) FROM (
    SELECT x.id AS ancestor_id, x.id AS descendant_id, 0 AS depth
      FROM _ti_affected x WHERE x.level = $1
    UNION ALL
    SELECT e.parent_id, e.child_id, e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
     WHERE x.level = $1 AND NOT e.inherit
    UNION ALL
    SELECT w.ancestor_id, e.child_id, w.depth + e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
      JOIN _ti_want w ON w.descendant_id = e.parent_id
     WHERE x.level = $1 AND e.inherit
    UNION ALL
    SELECT a.ancestor_id, e.child_id, a.depth + e.depth
      FROM _ti_edges e JOIN _ti_affected x ON x.id = e.child_id
      JOIN territory_ancestors a ON a.descendant_id = e.parent_id
     WHERE x.level = $1 AND e.inherit
       AND NOT EXISTS (SELECT 1 FROM _ti_affected y WHERE y.id = e.parent_id)
) pairs
GROUP BY ancestor_id, descendant_id
"""

_REMOVE_STALE = """
DELETE FROM territory_ancestors a
 USING _ti_affected x
 WHERE a.descendant_id = x.id
   AND NOT EXISTS (SELECT 1 FROM _ti_want w
                    WHERE w.descendant_id = a.descendant_id AND w.ancestor_id = a.ancestor_id)
"""
_RERANK = """
UPDATE territory_ancestors a SET depth = w.depth
  FROM _ti_want w
 WHERE a.descendant_id = w.descendant_id AND a.ancestor_id = w.ancestor_id
   AND a.depth <> w.depth
"""
_ADD_MISSING = """
INSERT INTO territory_ancestors (ancestor_id, descendant_id, depth)
SELECT w.ancestor_id, w.descendant_id, w.depth FROM _ti_want w
 WHERE NOT EXISTS (SELECT 1 FROM territory_ancestors a
                    WHERE a.descendant_id = w.descendant_id AND a.ancestor_id = w.ancestor_id)
"""


def _affected_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _parent(row: TerritoryRow) -> tuple[str | None, str | None]:
    for level, code, depth, _inherit in links(row):
        if depth == 1:
            return level, code
    return None, None


async def import_territories(
    conn: Connection,
    rows_source: Path | str | Sequence[RowOrSkip] | None = None,
    *,
    source_format: Format = "auto",
) -> ImportReport:
    """Import territories in one transaction; the shipped file when no source is given.

    rows_source: a CSV (plain or .gz), a GeoJSON FeatureCollection, the package's data folder,
    or rows already read. Raises ImportFormatError, before writing anything, when the input
    cannot be read at all.
    """
    started = time.perf_counter()
    if rows_source is None or isinstance(rows_source, str | Path):
        rows: Sequence[RowOrSkip] = read_source(rows_source, source_format)
    else:
        rows = rows_source
    report = ImportReport()
    async with conn.transaction():
        # One import at a time: two would each rebuild the ancestry from a stale view.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        known = await _known_in_database(conn)
        valid, report.skipped = check_rows(rows, known)
        await conn.execute(_CREATE_TEMP)
        await conn.copy_records_to_table(
            "_ti_rows",
            records=(_record(row) for row in valid),
            columns=[
                "batch", "level", "code", "name", "kind", "parent_level", "parent_code",
                "postal_codes", "population", "zone", "latitude", "longitude", "bbox",
                "geometry",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "_ti_links",
            records=_link_records(valid),
            columns=[
                "child_level",
                "child_code",
                "parent_level",
                "parent_code",
                "depth",
                "inherit",
            ],
        )
        await conn.execute("ANALYZE _ti_rows")
        rows_per_level = Counter(cast(Level, row.level) for row in valid)
        for batch in sorted({_batch(row) for row in valid}):
            level = LEVELS[batch // 2]
            result = await conn.fetchrow(_UPSERT, batch)
            assert result is not None
            counts = report.counts.setdefault(level, LevelCounts())
            counts.inserted += result["inserted"]
            counts.updated += result["updated"]
        for level, total in rows_per_level.items():
            counts = report.counts[level]
            counts.unchanged = total - counts.inserted - counts.updated
        await conn.execute(_PREPARE_ANCESTRY)
        for level in LEVELS:
            await conn.execute(_WANT_LEVEL, level)
        report.ancestors_removed = _affected_count(await conn.execute(_REMOVE_STALE))
        report.ancestors_changed = _affected_count(await conn.execute(_RERANK))
        report.ancestors_added = _affected_count(await conn.execute(_ADD_MISSING))
        await conn.execute("DROP TABLE _ti_rows, _ti_links, _ti_affected, _ti_edges, _ti_want")
    report.seconds = time.perf_counter() - started
    return report


def _record(row: TerritoryRow) -> tuple[object, ...]:
    parent_level, parent_code = _parent(row)
    kind = row.kind or ("quartier" if row.level == "quartier" else None)
    return (
        _batch(row),
        row.level,
        row.code,
        row.name,
        kind,
        parent_level,
        parent_code,
        list(row.postal_codes),
        row.population,
        row.zone,
        row.latitude,
        row.longitude,
        None if row.bbox is None else list(row.bbox),
        None if row.geometry is None else json.dumps(row.geometry, separators=(",", ":")),
    )


def _link_records(rows: Iterable[TerritoryRow]) -> Iterator[tuple[object, ...]]:
    for row in rows:
        for level, code, depth, inherit in links(row):
            yield (row.level, row.code, level, code, depth, inherit)
