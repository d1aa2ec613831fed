"""The map: upcoming events, organisations and located items (points of interest, needs and
offers, projects, proposals, posts) that have a place, in the served
territory or one of its territories (`?territory=CODE`), as a page that lists them (usable with
no script and no tiles) and as the GeoJSON its script (static/map.js) draws with Leaflet; and
where the place picker (static/placepicker.js) starts."""

from __future__ import annotations

import re
from typing import Final

from quart import Blueprint, Response, render_template, request, url_for

from fedicity.db.pool import Connection
from fedicity.events.models import Event
from fedicity.events.text import when_in_words
from fedicity.exports import geojson
from fedicity.exports.geojson import KINDS, MAX_PER_KIND, MapItem, MapKind
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web import alternates
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import gettext, lazy
from fedicity.web.labels import label
from fedicity.web.times import reader_locale

blueprint = Blueprint("map", __name__)

KIND_LABELS: Final[dict[MapKind, str]] = {
    "event": lazy("Event"),
    "organization": lazy("Organisation"),
    "proposal": lazy("Proposal"),
    "post": lazy("Post"),
    "place": lazy("Place"),
    "listing": lazy("Need or offer"),
    "project": lazy("Project"),
}
# A territory code (COG, SIREN, a quartier's slug), optionally `level:` first.
_TERRITORY = re.compile(r"(?:[a-z]{1,12}:)?[0-9A-Za-z-]{1,80}")


def kind_label(kind: MapKind) -> str:
    """A kind of marker in the reader's language."""
    return gettext(KIND_LABELS[kind])


def place_kind_label(kind: str) -> str:
    """A point of interest's kind in the reader's language."""
    return label(kind, "place_kind")


def _when(event: Event) -> str:
    return when_in_words(
        event.starts_at,
        event.ends_at,
        event.timezone,
        all_day=event.all_day,
        locale=reader_locale(),
    )


async def map_items(
    conn: Connection, scope: Territory | None, root: Territory | None
) -> dict[MapKind, list[MapItem]]:
    """What the map shows in the scope (exports/geojson.py), in the reader's language."""
    return await geojson.collect(
        conn,
        now=state().clock.now(),
        scope=scope,
        root=root,
        urls=state().urls,
        describe=_when,
        unnamed=kind_label,
        place_kind_label=place_kind_label,
    )


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
        items = {} if has_centre else await map_items(conn, root, root)
    return picker_center(root, items)


@blueprint.get("/map")
async def map_page() -> str:
    """The map of the scope, with everything on it listed by kind underneath."""
    async with state().db.acquire() as conn:
        root = await _served_root(conn)
        scope = await _scope(conn, root)
        items = await map_items(conn, scope, root)
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
        items = await map_items(conn, scope, root)
    body = geojson.feature_collection(items, kind_label)
    return Response(body, content_type="application/geo+json; charset=utf-8")
