"""Territory pages and their JSON: breadcrumb, sub-territories, what happens there, who is there."""

from __future__ import annotations

import json
import math
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.dates import format_datetime
from fedicity.actors import queries as actor_queries
from fedicity.events import queries as event_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import ITEM_KINDS, LocatedItem
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.urls import territory_path as page_path
from fedicity.web import alternates, api_models, schemaorg
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.negotiation import wants_html
from fedicity.web.openapi import documented
from fedicity.web.paging import moment_cursor, moment_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, current_account

blueprint = Blueprint("territories", __name__)
blueprint.before_request(check_csrf)

PAGE = 20
MAX_PAGE = 100
MAX_RADIUS_KM = 500.0
# A département has up to about 900 communes: all of them are listed.
MAX_CHILDREN = 1000


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
    return moment_cursor(item.published, item.id)


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


# What a territory page can show on its own, a page at a time (`?show=...`).
SECTIONS = ("events", "posts", "proposals", "people")


async def _overview(territory: Territory, show: str | None = None) -> dict[str, Any]:
    """A territory's page: every section's first page, or one section from a cursor on."""
    app_state = state()
    size = PAGE if show is None else PAGE * 2
    before = moment_cursor_arg() if show in ("posts", "proposals", "people") else None
    after = moment_cursor_arg("after") if show == "events" else None
    wanted = SECTIONS if show is None else (show,)
    sections: dict[str, list[Any]] = {name: [] for name in SECTIONS}
    viewer = current_account()
    more: dict[str, str | None] = {name: None for name in SECTIONS}
    async with app_state.db.acquire() as conn:
        ancestors = [
            t
            for t in await territory_queries.select_ancestors(conn, territory.id)
            if t.id != territory.id
        ]
        children = (
            await territory_queries.select_children(conn, territory.id, limit=MAX_CHILDREN)
            if show is None
            else []
        )
        if "events" in wanted:
            found = await located_queries.select_upcoming_in_scope(
                conn, territory.id, app_state.clock.now(), limit=size + 1, after=after
            )
            sections["events"] = found[:size]
            soonest_after = found[size - 1] if len(found) > size else None
            if soonest_after is not None and soonest_after.starts_at is not None:
                more["events"] = moment_cursor(soonest_after.starts_at, soonest_after.id)
        for name, kind in (("posts", "post"), ("proposals", "proposal")):
            if name in wanted:
                items = await located_queries.select_in_scope(
                    conn,
                    territory.id,
                    limit=size + 1,
                    kind=kind,
                    before=before,
                    viewer_id=viewer.actor_id if viewer is not None else None,
                )
                sections[name] = items[:size]
                more[name] = _cursor(items[size - 1]) if len(items) > size else None
        if "people" in wanted:
            people = await actor_queries.select_actors_in_territory(
                conn, territory.id, limit=size + 1, before=before
            )
            sections["people"] = people[:size]
            last = people[size - 1] if len(people) > size else None
            more["people"] = moment_cursor(last.created_at, last.id) if last else None
        actor = await actor_queries.select_territory_actor(conn, territory.id)
        authors = await known_actors(
            conn,
            app_state.urls,
            [
                *(i.author_uri for i in (*sections["posts"], *sections["proposals"])),
                *(e.author_uri for e in sections["events"]),
                *(app_state.urls.actor(a.username) for a in sections["people"]),
            ],
        )
        # Events are shown in their own zone: located items do not keep it.
        event_zones = await event_queries.select_timezones(
            conn, [i.object_uri for i in sections["events"]]
        )
    return {
        "territory": territory,
        "ancestors": ancestors,
        "children": children,
        **sections,
        "more": more,
        "show": show,
        "event_zones": event_zones,
        "authors": authors,
        "handle": f"@{actor.username}@{app_state.settings.host}" if actor else None,
        "actor_url": app_state.urls.actor(actor.username) if actor else None,
    }


def _show() -> str | None:
    show = request.args.get("show") or None
    if show is not None and show not in SECTIONS:
        raise Problem(400, f"show is one of {', '.join(SECTIONS)}", extra={"reason": "bad_show"})
    return show


@blueprint.get("/territoires/<level>/<code>")
async def territory_page(level: str, code: str) -> str | Response | WerkzeugResponse:
    """A territory: its page for browsers, its JSON for programs."""
    territory = await _territory(level, code)
    overview = await _overview(territory, _show())
    if not wants_html(request):
        return _json(_overview_json(overview))
    account = current_account()
    home_id = None
    if account is not None:
        async with state().db.acquire() as conn:
            me = await actor_queries.select_actor_by_id(conn, account.actor_id)
        home_id = me.home_territory_id if me is not None else None
    parent = next((t for t in overview["ancestors"] if t.id == territory.parent_id), None)
    return await render_template(
        "territory.html",
        **overview,
        path=territory_path,
        is_home=home_id == territory.id,
        notice=request.args.get("notice"),
        alternates=alternates.territory(state().urls, territory),
        structured_data=schemaorg.territory(territory, parent, state().urls),
    )


MAX_PLACE_QUERY = 100


@blueprint.get("/territoires")
async def find_place() -> str | WerkzeugResponse | tuple[str, int]:
    """Go to a place by name, postal code or code: straight to it when one served place matches,
    else the served places that match."""
    text = request.args.get("q", "").strip()[:MAX_PLACE_QUERY]
    if not text:
        return await render_template(
            "territory_find.html", query="", matches=[], place_path=territory_path
        )
    found = await resolve_place(text)
    if found is not None and (":" in text or text.isdigit()):
        return redirect(territory_path(found), 303)
    root = await served_root()
    matches: list[Territory] = []
    if root is not None:
        async with state().db.acquire() as conn:
            for match in await territory_queries.search_territories(conn, text, limit=40):
                if await territory_service.is_served(conn, root, match.id):
                    matches.append(match)
    if len(matches) == 1:
        return redirect(territory_path(matches[0]), 303)
    if not matches and not wants_html(request):
        raise Problem(404, "no place served by this instance matches", extra={"reason": "no_place"})
    page = await render_template(
        "territory_find.html", query=text, matches=matches[:20], place_path=territory_path
    )
    return (page, 200) if matches else (page, 404)


@blueprint.post("/territoires/<level>/<code>/communect")
async def communect(level: str, code: str) -> WerkzeugResponse:
    """Make this served territory my communexion (my home territory), or leave it."""
    account = current_account()
    if account is None:
        return redirect(url_for("accounts.login", next=page_path(level, code)), 303)
    territory = await _territory(level, code)
    root = await served_root()
    form = await request.form
    leave = form.get("leave") == "1"
    async with state().db.acquire() as conn:
        if root is None or not await territory_service.is_served(conn, root, territory.id):
            raise Problem(404, "this instance does not serve this territory")
        me = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert me is not None
        if leave and me.home_territory_id != territory.id:
            return redirect(territory_path(territory), 303)
        await actor_queries.update_home_territory(conn, me.id, None if leave else territory.id)
    state().actor_documents.pop(me.username, None)
    notice = "left" if leave else "communected"
    return redirect(f"{territory_path(territory)}?notice={notice}", 303)


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
@documented(responses={200: api_models.Overview}, problems=(404,))
async def territory_api(level: str, code: str) -> Response:
    """The territory overview as JSON."""
    territory = await _territory(level, code)
    return _json(_overview_json(await _overview(territory)))


@blueprint.get("/api/territories/<level>/<code>/items")
@documented(query=api_models.ItemsQuery, responses={200: api_models.ItemsPage}, problems=(404,))
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
            before=moment_cursor_arg(),
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
@documented(query=api_models.NearQuery, responses={200: api_models.NearPage})
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
            before=moment_cursor_arg(),
        )
    return _json(
        {
            "items": [item_json(i) for i in items],
            "next": _cursor(items[-1]) if len(items) == limit else None,
        }
    )


@blueprint.get("/api/territories/search")
@documented(query=api_models.SearchQuery, responses={200: api_models.SearchResults})
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
            if found is None and root is not None:
                # Names repeat across France (Saint-Denis): the first one this instance serves.
                for match in await territory_queries.search_territories(conn, value, limit=20):
                    if await territory_service.is_served(conn, root, match.id):
                        return match
        if found is None or root is None:
            return None
        if not await territory_service.is_served(conn, root, found.id):
            return None
    return found
