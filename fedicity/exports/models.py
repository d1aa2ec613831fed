"""Dataclasses of the exports: a row of the organisations' directory, a feed and its entries,
the datasets of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FeedFormat = Literal["rss", "atom"]
FEED_FORMATS: tuple[FeedFormat, ...] = ("rss", "atom")


@dataclass(frozen=True)
class DirectoryEntry:
    """An organisation as the directory lists it."""

    username: str
    name: str
    organization_kind: str | None
    official_id_kind: str | None
    official_id_value: str | None
    latitude: float | None
    longitude: float | None
    territory_level: str | None
    territory_code: str | None
    territory_name: str | None
    address: str | None = None
    postal_code: str | None = None
    website: str | None = None
    email: str | None = None
    # The home commune's centre: where the map puts an organisation with no point of its own.
    centre_latitude: float | None = None
    centre_longitude: float | None = None


@dataclass(frozen=True)
class Entry:
    """One item of a feed: its id (our object URI), its page, its sanitised HTML."""

    id: str
    title: str
    link: str
    content_html: str
    published: datetime
    updated: datetime | None = None
    author: str | None = None


@dataclass(frozen=True)
class Feed:
    """A feed's own facts: its page, its addresses in both formats, its words (French by
    default) and the moment it last changed (the newest entry's, so the body is stable)."""

    title: str
    subtitle: str
    page: str
    rss_url: str
    atom_url: str
    updated: datetime
    language: str = "fr"


@dataclass(frozen=True)
class Distribution:
    """One file of a dataset: its address, IANA media type and format name."""

    url: str
    media_type: str
    format: str


@dataclass(frozen=True)
class Dataset:
    """One dataset of the catalogue (`key` names it for the pages' words)."""

    key: str
    title: str
    description: str
    page: str
    distributions: tuple[Distribution, ...]
