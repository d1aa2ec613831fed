"""The map: upcoming events, organisations, proposals and posts that have a place, in the served
territory or one of its territories (`?territory=CODE`), as a page that lists them (usable with
no script and no tiles) and as the GeoJSON its script (static/map.js) draws with Leaflet; and
where the place picker (static/placepicker.js) starts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from quart import Blueprint, Response, render_template, request, url_for

from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.events.models import Event
from fedicity.events.text import when_in_words
from fedicity.located import queries as located_queries
from fedicity.located.models import LocatedItem
from fedicity.organizations import queries as organization_queries
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web import alternates
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import gettext, lazy
from fedicity.web.times import reader_locale

blueprint = Blueprint("map", __name__)

MapKind = Literal["event", "organization", "proposal", "post"]
KINDS: Final[tuple[MapKind, ...]] = ("event", "organization", "proposal", "post")
KIND_LABELS: Final[dict[MapKind, str]] = {
    "event": lazy("Event"),
    "organization": lazy("Organisation"),
    "proposal": lazy("Proposal"),
    "post": lazy("Post"),
}
# Per kind, so that a busy agenda cannot push the organisations off the map: at most
# 4 x 200 markers, which Leaflet draws at once on a phone.
MAX_PER_KIND: Final = 200
MAX_NAME: Final = 120
# A territory code (COG, SIREN, a quartier's slug), optionally `level:` first.
_TERRITORY = re.compile(r"(?:[a-z]{1,12}:)?[0-9A-Za-z-]{1,80}")


@dataclass(frozen=True)
class MapItem:
    """One marker, and one line of the list under the map."""

    kind: MapKind
    name: str
    url: str
    latitude: float
    longitude: float
    when: str | None = None


def _name(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_NAME else one_line[: MAX_NAME - 1] + "…"


def _event_item(event: Event) -> MapItem | None:
    url = safe_url(event.uri) if event.is_local else safe_url(event.url) or safe_url(event.uri)
    latitude, longitude = event.location.latitude, event.location.longitude
    if url is None or latitude is None or longitude is None:
        return None
    when = when_in_words(
        event.starts_at,
        event.ends_at,
        event.timezone,
        all_day=event.all_day,
        locale=reader_locale(),
    )
    return MapItem("event", _name(event.title), url, latitude, longitude, when)


def _located_item(item: LocatedItem) -> MapItem | None:
    url = safe_url(item.url) or safe_url(item.object_uri)
    if url is None or item.latitude is None or item.longitude is None:
        return None
    kind: MapKind = "proposal" if item.kind == "proposal" else "post"
    name = _name(item.title or item.summary) or gettext(KIND_LABELS[kind])
    return MapItem(kind, name, url, item.latitude, item.longitude)


async def _items(
    conn: Connection, scope: Territory | None, root: Territory | None
) -> dict[MapKind, list[MapItem]]:
    """What the map shows in the scope (everything here when the instance serves none)."""
    scope_id = scope.id if scope is not None else None
    # What is ours and has no territory happens in the one this instance serves.
    unplaced = scope is not None and root is not None and scope.id == root.id
    events = await event_queries.select_upcoming_placed(
        conn,
        state().clock.now(),
        scope_id=scope_id,
        unplaced_in_scope=unplaced,
        limit=MAX_PER_KIND,
    )
    organizations = await organization_queries.select_placed(
        conn, scope_id=scope_id, unplaced_in_scope=unplaced, limit=MAX_PER_KIND
    )
    urls = state().urls
    found: dict[MapKind, list[MapItem]] = {
        "event": [i for i in map(_event_item, events) if i is not None],
        "organization": [
            MapItem(
                "organization", _name(actor.name), urls.organization_page(actor.username), lat, lon
            )
            for actor, lat, lon in organizations
        ],
    }
    for kind in ("proposal", "post"):
        located = await located_queries.select_placed(conn, scope_id, kind=kind, limit=MAX_PER_KIND)
        found[kind] = [i for i in map(_located_item, located) if i is not None]
    return found


async def _served_root(conn: Connection) -> Territory | None:
    settings = state().settings
    return await territory_service.served_root(
        conn, settings.territory_level, settings.territory_code
    )


async def _scope(conn: Connection, root: Territory | None) -> Territory | None:
    """The territory `?territory=` names (a code, or level:code), at or under the served one;
    the served territory when the parameter is absent."""
    asked = _asked()
    if asked is None:
        return root
    if root is None or not _TERRITORY.fullmatch(asked):
        raise Problem(404, "territory: not a territory this instance serves")
    level, _, code = asked.rpartition(":")
    if level:
        found = await territory_queries.select_territory(conn, level, code)
        if found is not None and not await territory_service.is_served(conn, root, found.id):
            found = None
    else:
        found = await territory_queries.select_served_by_code(conn, root.id, code)
    if found is None:
        raise Problem(404, "territory: not a territory this instance serves")
    return found


def _asked() -> str | None:
    return request.args.get("territory", "").strip() or None


def _feature(item: MapItem) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "kind": item.kind,
        "kindLabel": gettext(KIND_LABELS[item.kind]),
        "name": item.name,
        "url": item.url,
    }
    if item.when is not None:
        properties["when"] = item.when
    return {
        "type": "Feature",
        # GeoJSON (RFC 7946) puts the longitude first.
        "geometry": {"type": "Point", "coordinates": [item.longitude, item.latitude]},
        "properties": properties,
    }


def picker_center(root: Territory | None, items: dict[MapKind, list[MapItem]]) -> str:
    """Where a map with nothing picked yet opens, as "lat,lon": the served territory's centre,
    else the middle of what the map shows, else "" (the script then shows France)."""
    if root is not None and root.latitude is not None and root.longitude is not None:
        return f"{root.latitude:.6f},{root.longitude:.6f}"
    points = [(i.latitude, i.longitude) for kind in KINDS for i in items.get(kind, [])]
    if not points:
        return ""
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return f"{(min(lats) + max(lats)) / 2:.6f},{(min(lons) + max(lons)) / 2:.6f}"


async def default_center() -> str:
    """The place picker's starting point on this instance (see picker_center)."""
    async with state().db.acquire() as conn:
        root = await _served_root(conn)
        has_centre = root is not None and root.latitude is not None
        items = {} if has_centre else await _items(conn, root, root)
    return picker_center(root, items)


@blueprint.get("/map")
async def map_page() -> str:
    """The map of the scope, with everything on it listed by kind underneath."""
    async with state().db.acquire() as conn:
        root = await _served_root(conn)
        scope = await _scope(conn, root)
        items = await _items(conn, scope, root)
        ancestors = (
            await territory_queries.select_served_ancestors(conn, root.id, scope.id)
            if root is not None and scope is not None
            else []
        )
        children = (
            await territory_queries.select_children(conn, scope.id, limit=MAX_PER_KIND)
            if scope is not None
            else []
        )
    features = url_for("map.features", territory=_asked())
    return await render_template(
        "map.html",
        scope=scope,
        # The scope form: up to the served territory, the scope itself, and one step down.
        choices=[*reversed(ancestors[1:]), *([scope] if scope is not None else [])],
        children_of_scope=children,
        items=items,
        kinds=KINDS,
        total=sum(len(found) for found in items.values()),
        features_url=features,
        center=picker_center(scope, items),
        alternates=alternates.map_of(state().urls, scope),
    )


@blueprint.get("/map/features.geojson")
async def features() -> Response:
    """The map's markers as a GeoJSON FeatureCollection, for static/map.js."""
    async with state().db.acquire() as conn:
        root = await _served_root(conn)
        scope = await _scope(conn, root)
        items = await _items(conn, scope, root)
    document = {
        "type": "FeatureCollection",
        "features": [_feature(item) for kind in KINDS for item in items[kind]],
    }
    # Names are data: json.dumps escapes quotes and controls, and the script puts them in the
    # page as text only. "<" is escaped too, so that no reader can take the body for markup.
    body = json.dumps(document, ensure_ascii=False).replace("<", "\\u003c")
    return Response(body, content_type="application/geo+json; charset=utf-8")
