"""Territory pages and their JSON: breadcrumb, sub-territories, what happens there, who is there."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from quart import Blueprint, Response, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.collections import parse_cursor
from fedicity.activitypub.dates import format_datetime
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import ITEM_KINDS, LocatedItem
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.urls import territory_path as page_path
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.negotiation import wants_html

blueprint = Blueprint("territories", __name__)

PAGE = 20
MAX_PAGE = 100
MAX_RADIUS_KM = 500.0


def territory_path(territory: Territory) -> str:
    """The page of a territory."""
    return page_path(territory.level, territory.code)


def territory_json(territory: Territory) -> dict[str, Any]:
    """A territory as the JSON API shows it."""
    return {
        "level": territory.level,
        "code": territory.code,
        "name": territory.name,
        "kind": territory.kind,
        "postalCodes": territory.postal_codes,
        "population": territory.population,
        "latitude": territory.latitude,
        "longitude": territory.longitude,
        "url": state().urls.territory(territory.level, territory.code),
    }


def item_json(item: LocatedItem) -> dict[str, Any]:
    """A located item as the JSON API shows it."""
    return {
        "id": item.object_uri,
        "kind": item.kind,
        "title": item.title,
        "summary": item.summary,
        "url": safe_url(item.url),
        "author": item.author_uri,
        "origin": item.origin_host,
        "via": item.via,
        "published": format_datetime(item.published),
        "startsAt": format_datetime(item.starts_at) if item.starts_at else None,
        "latitude": item.latitude,
        "longitude": item.longitude,
        "cursor": _cursor(item),
    }


def _cursor(item: LocatedItem) -> str:
    return f"{item.published.timestamp():.6f}_{item.id}"


def _parse_cursor(raw: str | None) -> tuple[datetime, int] | None:
    if not raw:
        return None
    stamp, _, row_id = raw.partition("_")
    key = parse_cursor(row_id)  # a bigint row id, as in every other cursor
    try:
        from datetime import UTC

        moment = datetime.fromtimestamp(float(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None or not isinstance(key, int):
        raise Problem(
            400, "before is a cursor taken from a previous page", extra={"reason": "bad_cursor"}
        )
    return moment, key


def _kind() -> str | None:
    kind = request.args.get("kind")
    if kind is None or kind == "":
        return None
    if kind not in ITEM_KINDS:
        raise Problem(400, f"kind is one of {', '.join(ITEM_KINDS)}")
    return kind


def _limit() -> int:
    raw = request.args.get("limit", str(PAGE))
    # isdigit() alone admits '²', and int() refuses over 4300 digits: both would be a 500.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_PAGE:
        raise Problem(400, f"limit is a number from 1 to {MAX_PAGE}")
    return int(raw)


def _json(document: Any) -> Response:
    response = Response(json.dumps(document), content_type="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def _territory(level: str, code: str) -> Territory:
    async with state().db.acquire() as conn:
        found = await territory_queries.select_territory(conn, level, code)
    if found is None:
        raise Problem(404, f"no {level} with code {code!r} here")
    return found


async def _overview(territory: Territory) -> dict[str, Any]:
    app_state = state()
    async with app_state.db.acquire() as conn:
        ancestors = [
            t
            for t in await territory_queries.select_ancestors(conn, territory.id)
            if t.id != territory.id
        ]
        children = await territory_queries.select_children(conn, territory.id, limit=500)
        posts = await located_queries.select_in_scope(conn, territory.id, limit=PAGE, kind="post")
        events = await located_queries.select_in_scope(conn, territory.id, limit=PAGE, kind="event")
        proposals = await located_queries.select_in_scope(
            conn, territory.id, limit=PAGE, kind="proposal"
        )
        people = await actor_queries.select_actors_in_territory(conn, territory.id, limit=100)
        actor = await actor_queries.select_territory_actor(conn, territory.id)
        authors = await _author_names(conn, [i.author_uri for i in (*posts, *events, *proposals)])
        # Events are shown in their own zone: located items do not keep it.
        event_zones = await event_queries.select_timezones(conn, [i.object_uri for i in events])
    return {
        "territory": territory,
        "ancestors": ancestors,
        "children": children,
        "posts": posts,
        "events": events,
        "event_zones": event_zones,
        "proposals": proposals,
        "people": people,
        "authors": authors,
        "handle": f"@{actor.username}@{app_state.settings.host}" if actor else None,
        "actor_url": app_state.urls.actor(actor.username) if actor else None,
    }


async def _author_names(conn: Connection, uris: list[str]) -> dict[str, str]:
    """@handles for the authors of listed items: local ones by username, remote ones as known."""
    urls = state().urls
    prefix = urls.actor("")
    names = {uri: f"@{uri.removeprefix(prefix)}" for uri in uris if uri.startswith(prefix)}
    remote = [uri for uri in set(uris) if uri not in names]
    for known in await actor_queries.select_remote_actors(conn, remote):
        names[known.uri] = known.handle
    return names


@blueprint.get("/territoires/<level>/<code>")
async def territory_page(level: str, code: str) -> str | Response | WerkzeugResponse:
    """A territory: its page for browsers, its JSON for programs."""
    territory = await _territory(level, code)
    overview = await _overview(territory)
    if not wants_html(request):
        return _json(_overview_json(overview))
    return await render_template("territory.html", **overview, path=territory_path)


def _overview_json(overview: dict[str, Any]) -> dict[str, Any]:
    urls = state().urls
    return {
        **territory_json(overview["territory"]),
        "actor": overview["actor_url"],
        "handle": overview["handle"],
        "breadcrumb": [territory_json(t) for t in overview["ancestors"]],
        "children": [territory_json(t) for t in overview["children"]],
        "posts": [item_json(i) for i in overview["posts"]],
        "events": [item_json(i) for i in overview["events"]],
        "proposals": [item_json(i) for i in overview["proposals"]],
        "directory": [
            {"id": urls.actor(a.username), "name": a.name, "kind": a.organization_kind or a.kind}
            for a in overview["people"]
        ],
    }


@blueprint.get("/api/territories/<level>/<code>")
async def territory_api(level: str, code: str) -> Response:
    """The territory overview as JSON."""
    territory = await _territory(level, code)
    return _json(_overview_json(await _overview(territory)))


@blueprint.get("/api/territories/<level>/<code>/items")
async def territory_items(level: str, code: str) -> Response:
    """What happens in a territory or below it, newest first; `before` pages on."""
    territory = await _territory(level, code)
    limit = _limit()
    async with state().db.acquire() as conn:
        items = await located_queries.select_in_scope(
            conn,
            territory.id,
            limit=limit,
            kind=_kind(),
            before=_parse_cursor(request.args.get("before")),
        )
    return _json(
        {
            "territory": territory_json(territory),
            "items": [item_json(i) for i in items],
            "next": _cursor(items[-1]) if len(items) == limit else None,
        }
    )


def _coordinate(name: str, bound: float) -> float:
    raw = request.args.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        raise Problem(400, f"{name} is a number in degrees") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise Problem(400, f"{name} is between -{bound:g} and {bound:g}")
    return value


@blueprint.get("/api/near")
async def near() -> Response:
    """What happens within radius_km of a point (lat, lon), newest first."""
    latitude = _coordinate("lat", 90)
    longitude = _coordinate("lon", 180)
    try:
        radius = float(request.args.get("radius_km", "5"))
    except ValueError:
        raise Problem(400, "radius_km is a number of kilometres") from None
    if not math.isfinite(radius) or not 0 < radius <= MAX_RADIUS_KM:
        raise Problem(400, f"radius_km is between 0 and {MAX_RADIUS_KM:g}")
    limit = _limit()
    async with state().db.acquire() as conn:
        items = await located_queries.select_near(
            conn,
            latitude,
            longitude,
            radius,
            limit=limit,
            kind=_kind(),
            before=_parse_cursor(request.args.get("before")),
        )
    return _json(
        {
            "items": [item_json(i) for i in items],
            "next": _cursor(items[-1]) if len(items) == limit else None,
        }
    )


@blueprint.get("/api/territories/search")
async def search() -> Response:
    """Territories by name prefix or postal code."""
    text = request.args.get("q", "").strip()
    if not text or len(text) > 100:
        raise Problem(400, "q is 1 to 100 characters: a name or a postal code")
    async with state().db.acquire() as conn:
        found = await territory_queries.search_territories(conn, text, limit=_limit())
    return _json({"results": [territory_json(t) for t in found]})


async def served_root() -> Territory | None:
    """The territory this instance serves (None until configured and imported)."""
    settings = state().settings
    async with state().db.acquire() as conn:
        return await territory_service.served_root(
            conn, settings.territory_level, settings.territory_code
        )


async def resolve_place(text: str) -> Territory | None:
    """A served territory from what a person types: 'level:code', a commune's COG code, or a name
    or postal code (first match); None when nothing served matches."""
    value = text.strip()
    if not value:
        return None
    root = await served_root()
    async with state().db.acquire() as conn:
        if ":" in value:
            level, _, code = value.partition(":")
            found = await territory_queries.select_territory(conn, level, code)
        else:
            found = await territory_queries.select_territory(conn, "commune", value)
            if found is None:
                matches = await territory_queries.search_territories(conn, value, limit=1)
                found = matches[0] if matches else None
        if found is None or root is None:
            return None
        if not await territory_service.is_served(conn, root, found.id):
            return None
    return found
