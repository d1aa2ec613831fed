"""The territory import's checks and shape: which rows can go in (values, parents present in the
input or the database) and where each hangs in the tree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fedicity.territories.models import (
    COUNTRY_CODE,
    LEVEL_RANK,
    LEVELS,
    QUARTIER_KINDS,
    ZONES,
    Level,
    RowError,
    RowOrSkip,
    SkippedRow,
    TerritoryRow,
    valid_code,
)


@dataclass
class Known:
    """Parent codes that can be linked to: the database's, then the valid rows' as checked."""

    codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    region_of: dict[str, str] = field(default_factory=dict)  # département -> région
    # EPCIs of the input inside another: they go in the second EPCI round, so none can be
    # inside them (one round would not see the other's new row).
    nested_epcis: set[str] = field(default_factory=set)

    def has(self, level: Level, code: str) -> bool:
        """Whether a territory of that level and code can be linked to."""
        return code in self.codes[level]

    @classmethod
    def from_database(cls, parents: Iterable[tuple[str, str, str | None, str | None]]) -> Known:
        """What the database holds: (level, code, parent level, parent code) of its territories
        above the quartiers."""
        known = cls()
        for level, code, parent_level, parent_code in parents:
            known.codes[level].add(code)
            if level == "departement" and parent_level == "region" and parent_code is not None:
                known.region_of[code] = parent_code
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


def _check_parents(row: TerritoryRow, known: Known) -> None:
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
    rows: Sequence[RowOrSkip], known: Known
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
    checked.sort(key=batch_of)
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


def batch_of(row: TerritoryRow) -> int:
    """The upsert round of a row: parents go in a round before their children."""
    return LEVEL_RANK[row.level] * 2 + (1 if row.level == "epci" and row.epcis else 0)


# --- where a row hangs ------------------------------------------------------------------------

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


def parent_of(row: TerritoryRow) -> tuple[str | None, str | None]:
    """The level and code of the row's parent_id, if it has one."""
    for level, code, depth, _inherit in links(row):
        if depth == 1:
            return level, code
    return None, None
