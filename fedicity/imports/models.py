"""Dataclasses for import sources and the provenance of imported rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

SourceKind = Literal["ical", "openagenda", "organizations_csv", "commune_centres"]
ObjectKind = Literal["event", "organization", "territory"]
# What recording a row's provenance found: a row new to its source, one whose content changed
# since it was last read, or the same content again.
Change = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ImportSource:
    """A feed followed (url set) or a file applied (url None), and its schedule."""

    id: int
    kind: SourceKind
    label: str
    url: str | None
    owner_actor_id: int | None
    created_by: int | None
    created_at: datetime
    active: bool
    next_fetch_at: datetime | None
    locked_until: datetime | None
    attempts: int
    last_fetched_at: datetime | None
    last_error: str | None
    etag: str | None
    last_modified: str | None
    # Migration 0030: a feed added as "auto" (its format read from its first answer), and what
    # the last fetch did.
    detect_format: bool = False
    last_report: dict[str, Any] | None = None


@dataclass(frozen=True)
class Provenance:
    """Where an imported row came from: its source, its identity there, its line, when."""

    id: int
    source_id: int | None
    source_label: str
    object_kind: ObjectKind
    object_id: int
    external_id: str
    row_number: int | None
    content_hash: str
    first_imported_at: datetime
    imported_at: datetime


def content_hash(fields: dict[str, Any]) -> str:
    """A stable digest of what was read for one row (key order does not matter)."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


FeedFormat = Literal["ical", "openagenda"]
FEED_FORMATS: tuple[FeedFormat, ...] = ("ical", "openagenda")


@dataclass(frozen=True)
class FeedEvent:
    """One occurrence read from a feed, in plain values: what an event is made or updated from.

    Text is plain (never HTML), URLs passed sanitize.safe_url, times are aware."""

    external_id: str
    position: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    all_day: bool = False
    description: str = ""
    cancelled: bool = False
    url: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()
    place_name: str | None = None
    street: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = None

    def digest(self) -> str:
        """What decides whether the event changed (its position in the feed does not)."""
        fields = {k: v for k, v in self.__dict__.items() if k != "position"}
        return content_hash(fields)


@dataclass(frozen=True)
class Skipped:
    """A row of a feed left out, and why (a code, then words)."""

    position: int
    external_id: str | None
    reason: str


@dataclass(frozen=True)
class ParsedFeed:
    """A feed read whole: its occurrences and the rows it left out."""

    format: FeedFormat
    events: tuple[FeedEvent, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class FeedRefused:
    """A feed refused whole (unreadable, too many events): nothing of it is applied."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"
