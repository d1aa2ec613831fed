"""What the map shows (upcoming events, organisations, and the located items that have a place:
points of interest, needs and offers, projects, proposals, posts, in a territory's scope) and
the GeoJSON FeatureCollection (RFC 7946) of it: the one piece of code behind the map's markers
(web/map.py) and the territory's map.geojson export."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from fedicity.activitypub.dates import format_datetime
from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.events.models import Event
from fedicity.exports import queries as export_queries
from fedicity.exports.models import DirectoryEntry
from fedicity.located import queries as located_queries
from fedicity.located.models import ItemKind, LocatedItem, point_problem
from fedicity.poi import queries as poi_queries
from fedicity.sanitize import safe_url
from fedicity.territories.models import Territory
from fedicity.urls import Urls

MapKind = Literal["event", "organization", "proposal", "post", "place", "listing", "project"]
# Read from located_items, each kind as it is: a new located kind is one more name here, in
# MapKind, and in the map's labels (web/map.py) and marker styles (fedicity.css).
LOCATED_KINDS: Final[tuple[MapKind, ...]] = ("place", "listing", "project", "proposal", "post")
KINDS: Final[tuple[MapKind, ...]] = ("event", "organization", *LOCATED_KINDS)
# Per kind, so that a busy agenda cannot push the organisations off the map: at most
# 7 x 200 markers, which Leaflet draws at once on a phone.
MAX_PER_KIND: Final = 200
MAX_NAME: Final = 120


@dataclass(frozen=True)
class MapItem:
    """One marker, and one line of the list under the map."""

    kind: MapKind
    name: str
    url: str
    latitude: float
    longitude: float
    when: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # At its commune's centre, having no point of its own.
    approximate: bool = False
    # An organisation's contacts, a place's kind and its label (GeoJSON property names).
    contacts: tuple[tuple[str, str], ...] = ()


def short_name(text: str) -> str:
    """A name on one line, cut at MAX_NAME characters."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_NAME else one_line[: MAX_NAME - 1] + "…"


def _event_item(
    event: Event, centre: tuple[float, float] | None, describe: Callable[[Event], str]
) -> MapItem | None:
    url = safe_url(event.uri) if event.is_local else safe_url(event.url) or safe_url(event.uri)
    latitude, longitude = centre or (event.location.latitude, event.location.longitude)
    if url is None or latitude is None or longitude is None:
        return None
    return MapItem(
        "event",
        short_name(event.title),
        url,
        latitude,
        longitude,
        describe(event),
        event.starts_at,
        event.ends_at,
        approximate=centre is not None,
    )


def contacts(entry: DirectoryEntry) -> dict[str, str]:
    """An organisation's contacts, those it has: its website only when safe to link."""
    found = {
        "address": entry.address,
        "postalCode": entry.postal_code,
        "website": safe_url(entry.website),
        "email": entry.email,
    }
    return {name: value for name, value in found.items() if value}


def _organization_item(entry: DirectoryEntry, urls: Urls) -> MapItem | None:
    latitude, longitude = entry.latitude, entry.longitude
    approximate = latitude is None or longitude is None
    if approximate:
        latitude, longitude = entry.centre_latitude, entry.centre_longitude
    if latitude is None or longitude is None:
        return None
    return MapItem(
        "organization",
        short_name(entry.name),
        urls.organization_page(entry.username),
        latitude,
        longitude,
        approximate=approximate,
        contacts=tuple(contacts(entry).items()),
    )


def _map_kind(kind: ItemKind) -> MapKind:
    return next((k for k in LOCATED_KINDS if k == kind), "post")


def _located_item(
    item: LocatedItem,
    unnamed: Callable[[MapKind], str],
    properties: tuple[tuple[str, str], ...] = (),
) -> MapItem | None:
    url = safe_url(item.url) or safe_url(item.object_uri)
    if url is None or item.latitude is None or item.longitude is None:
        return None
    kind = _map_kind(item.kind)
    name = short_name(item.title or item.summary) or unnamed(kind)
    return MapItem(
        kind,
        name,
        url,
        item.latitude,
        item.longitude,
        starts_at=item.starts_at,
        contacts=properties,
    )


async def _properties(
    conn: Connection, kind: MapKind, items: list[LocatedItem], label: Callable[[str], str]
) -> dict[str, tuple[tuple[str, str], ...]]:
    """What a marker of this kind says besides its name: a place's kind and its label."""
    if kind != "place" or not items:
        return {}
    kinds = await poi_queries.select_kinds(conn, [i.object_uri for i in items])
    return {
        uri: (("placeKind", place_kind), ("placeKindLabel", label(place_kind)))
        for uri, place_kind in kinds.items()
    }


async def collect(
    conn: Connection,
    *,
    now: datetime,
    scope: Territory | None,
    root: Territory | None,
    urls: Urls,
    describe: Callable[[Event], str],
    unnamed: Callable[[MapKind], str],
    place_kind_label: Callable[[str], str] = str,
) -> dict[MapKind, list[MapItem]]:
    """What the map shows in the scope (everything here when the instance serves none):
    `describe` puts an event's dates in words, `unnamed` names what has no title,
    `place_kind_label` names a point of interest's kind."""
    scope_id = scope.id if scope is not None else None
    # What is ours and has no territory happens in the one this instance serves.
    unplaced = scope is not None and root is not None and scope.id == root.id
    events = await event_queries.select_upcoming_placed(
        conn, now, scope_id=scope_id, unplaced_in_scope=unplaced, limit=MAX_PER_KIND
    )
    organizations = await export_queries.select_directory(
        conn, scope_id=scope_id, unplaced_in_scope=unplaced, limit=MAX_PER_KIND, placed_only=True
    )
    found: dict[MapKind, list[MapItem]] = {
        "event": [i for i in (_event_item(e, c, describe) for e, c in events) if i is not None],
        "organization": [
            i for i in (_organization_item(o, urls) for o in organizations) if i is not None
        ],
    }
    for kind in LOCATED_KINDS:
        located = await located_queries.select_placed(conn, scope_id, kind=kind, limit=MAX_PER_KIND)
        extra = await _properties(conn, kind, located, place_kind_label)
        items = (_located_item(x, unnamed, extra.get(x.object_uri, ())) for x in located)
        found[kind] = [i for i in items if i is not None]
    return found


def feature(item: MapItem, kind_label: str) -> dict[str, Any]:
    """One marker as a GeoJSON Feature: a Point, and its name, kind, page and dates."""
    properties: dict[str, Any] = {
        "kind": item.kind,
        "kindLabel": kind_label,
        "name": item.name,
        "url": item.url,
    }
    if item.when is not None:
        properties["when"] = item.when
    if item.starts_at is not None:
        properties["startsAt"] = format_datetime(item.starts_at)
    if item.ends_at is not None:
        properties["endsAt"] = format_datetime(item.ends_at)
    if item.approximate:
        properties["approximate"] = True
    properties.update(item.contacts)
    return {
        "type": "Feature",
        # RFC 7946: WGS 84, the longitude first.
        "geometry": {"type": "Point", "coordinates": [item.longitude, item.latitude]},
        "properties": properties,
    }


def feature_collection(
    items: dict[MapKind, list[MapItem]], kind_label: Callable[[MapKind], str]
) -> str:
    """The markers as a FeatureCollection, serialised; a point off the Earth (a row from
    before places were checked) is left out rather than make the file invalid."""
    document = {
        "type": "FeatureCollection",
        "features": [
            feature(item, kind_label(kind))
            for kind in KINDS
            for item in items.get(kind, [])
            if point_problem(item.latitude, item.longitude) is None
        ],
    }
    # Names are data: json.dumps escapes quotes and controls, and the map's script puts them in
    # the page as text only. "<" is escaped too, so that no reader can take the body for markup.
    return json.dumps(document, ensure_ascii=False).replace("<", "\\u003c")
