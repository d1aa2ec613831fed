"""Dataclasses for located items."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

ItemKind = Literal["post", "event", "proposal", "place", "listing", "project"]
ITEM_KINDS: tuple[ItemKind, ...] = get_args(ItemKind)


def point_problem(latitude: float | None, longitude: float | None) -> str | None:
    """Why a (latitude, longitude) pair in degrees is no place on Earth: a refusal code
    (latitude_invalid, longitude_invalid, coordinates_incomplete), or None when it is one or
    when both are absent."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        return "coordinates_incomplete"
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        return "latitude_invalid"
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        return "longitude_invalid"
    return None


@dataclass(frozen=True)
class LocatedItem:
    """Something that happens in a territory, here or on another instance."""

    id: int
    object_uri: str
    kind: ItemKind
    territory_id: int
    latitude: float | None
    longitude: float | None
    title: str
    summary: str
    url: str | None
    author_uri: str
    origin_host: str
    via: str | None
    published: datetime
    starts_at: datetime | None


@dataclass(frozen=True)
class NewItem:
    """A located item before it has a row."""

    object_uri: str
    kind: ItemKind
    territory_id: int
    title: str
    summary: str
    url: str | None
    author_uri: str
    origin_host: str
    published: datetime
    latitude: float | None = None
    longitude: float | None = None
    via: str | None = None
    starts_at: datetime | None = None
