"""Dataclasses for the territory tree, and the rules every territory code follows."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Level = Literal["country", "region", "departement", "epci", "commune", "quartier"]
# From the top of the tree down: a territory's links always point to an earlier level,
# except an EPT's link to the métropole (EPCI) that contains it.
LEVELS: tuple[Level, ...] = get_args(Level)

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
