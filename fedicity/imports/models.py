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
