"""Dataclasses for the territory tree and its import, and the rules every territory code follows."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

Level = Literal["country", "region", "departement", "epci", "commune", "quartier"]
# From the top of the tree down: a territory's links always point to an earlier level,
# except an EPT's link to the métropole (EPCI) that contains it.
LEVELS: tuple[Level, ...] = get_args(Level)
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

# The root of the tree: every région hangs from it.
COUNTRY_CODE = "FR"
COUNTRY_NAME = "France"

# The official subtypes of a quartier; admin-made ones are plain 'quartier'.
QUARTIER_KINDS = ("commune-deleguee", "commune-associee", "arrondissement-municipal", "quartier")
ZONES = ("metro", "drom", "com")

# COG codes; the collectivités d'outre-mer (zone 'com') use their three-digit code as both
# région and département, as the source package does.
_COMMUNE = r"(?:\d{5}|2[AB]\d{3})"
CODE_PATTERNS: dict[Level, re.Pattern[str]] = {
    "country": re.compile(r"[A-Z]{2}"),
    "region": re.compile(r"\d{2}|97[5-8]|98[4-9]"),
    "departement": re.compile(r"0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-8]|98[4-9]"),
    "epci": re.compile(r"\d{9}"),
    "commune": re.compile(_COMMUNE),
    "quartier": re.compile(_COMMUNE + r"(?:-[a-z0-9]+(?:-[a-z0-9]+)*)?"),
}


@dataclass(frozen=True)
class Territory:
    """A node of the tree: the country, a région, département, EPCI, commune or quartier."""

    id: int
    level: Level
    code: str
    name: str
    kind: str | None
    # The nearest ancestor: a commune's innermost EPCI (else its département), an EPCI's
    # enclosing métropole (else the département holding most of its people).
    parent_id: int | None
    postal_codes: list[str]
    population: int | None
    zone: str | None
    latitude: float | None
    longitude: float | None
    # min longitude, min latitude, max longitude, max latitude
    bbox: list[float] | None
    updated_at: datetime


def valid_code(level: Level, code: str) -> bool:
    """Whether a code has the shape its level requires."""
    return CODE_PATTERNS[level].fullmatch(code) is not None


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def slugify(name: str) -> str:
    """A lowercase ASCII slug: 'Les Hauts-de-Belleville' -> 'les-hauts-de-belleville'."""
    spelled = name.lower().translate(_LIGATURES)
    ascii_name = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


# --- the import ----------------------------------------------------------------------------


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
            for level, c in sorted(self.counts.items(), key=lambda item: LEVEL_RANK[item[0]])
        ]
        lines.append(
            f"ancestry: {self.ancestors_added} links added, {self.ancestors_removed} removed, "
            f"{self.ancestors_changed} re-ranked"
        )
        lines.extend(f"skipped line {s.line}: {s.reason}" for s in self.skipped)
        lines.append(f"{len(self.skipped)} rows skipped; {self.seconds:.1f} s")
        return lines


RowOrSkip = TerritoryRow | SkippedRow
