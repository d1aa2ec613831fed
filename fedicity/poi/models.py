"""Dataclasses of points of interest: their kinds, address, photos, and the limits of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args

from fedicity.errors import DomainError

PlaceKind = Literal[
    "compost_point",
    "shared_library",
    "artwork",
    "recycling_centre",
    "heritage",
    "parking",
    "other",
]
PLACE_KINDS: Final[tuple[PlaceKind, ...]] = get_args(PlaceKind)

MAX_NAME: Final = 200
MAX_DESCRIPTION: Final = 20_000
MAX_ADDRESS_PART: Final = 200
MAX_PHOTOS: Final = 4
# Pixels a side an image may claim (as media/images.py reads from uploads).
MAX_SIDE: Final = 16384


class PlaceError(DomainError):
    """A point of interest was refused; `code` says why."""


@dataclass(frozen=True)
class Address:
    """Where it is, in words (schema.org PostalAddress: street, postal code, locality)."""

    street: str = ""
    postal_code: str = ""
    locality: str = ""

    def one_line(self) -> str:
        """The address on one line, the parts it has."""
        town = " ".join(part for part in (self.postal_code, self.locality) if part)
        return ", ".join(part for part in (self.street, town) if part)


@dataclass(frozen=True)
class Photo:
    """An image of the place: ours (an upload) or a remote server's."""

    url: str
    media_type: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class PlaceData:
    """A point of interest before (or as) it is stored."""

    uri: str
    kind: PlaceKind
    name: str
    description_html: str
    latitude: float
    longitude: float
    territory_id: int
    author_uri: str
    local: bool
    published: datetime
    address: Address = field(default_factory=Address)
    photos: tuple[Photo, ...] = ()
    token: str | None = None
    url: str | None = None
    description_source: str | None = None
    local_actor_id: int | None = None
    via: str | None = None
    raw: dict[str, object] | None = field(default=None, compare=False)
    updated: datetime | None = None


@dataclass(frozen=True)
class Place(PlaceData):
    """A stored point of interest."""

    id: int = 0
    deleted_at: datetime | None = None
