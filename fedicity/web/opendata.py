"""Open data out: feeds (RSS 2.0, Atom) of an actor, a territory and the proposals; a hashtag's
agenda; a territory's map (GeoJSON), directory, events and proposals (CSV); the catalogue
(DCAT-AP JSON-LD) and the page that lists the datasets. Every one is public, readable from any
origin (CORS), cacheable for a few minutes and answered 304 when its ETag is sent back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from quart import Blueprint, Response, render_template, request, url_for

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.events.ical import calendar
from fedicity.exports import catalogue, feeds, geojson, tables
from fedicity.exports import queries as export_queries
from fedicity.exports import service as exports
from fedicity.exports.models import FEED_FORMATS, Dataset, Entry, Feed, FeedFormat
from fedicity.proposals.models import STATES
from fedicity.settings import ETALAB_LICENCE
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import gettext, lazy
from fedicity.web.map import kind_label, map_items
from fedicity.web.moderation import refuse_suspended
from fedicity.web.ratelimits import limit_heavy_export
from fedicity.web.territories import served_root

blueprint = Blueprint("opendata", __name__)

MEDIA_TYPES: Final[dict[FeedFormat, str]] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
CSV_TYPE = "text/csv; charset=utf-8"
# A few minutes: a reader polling every minute costs one small read in five, and a change is
# seen soon; readers that send the ETag back get a 304 without the body.
CACHE = "public, max-age=300"
# A feed with no entry has not changed since this moment (a stable body, a stable ETag).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_TAG = re.compile(r"\w{1,100}")
DATASET_DESCRIPTIONS: Final[dict[str, str]] = {
    "agenda": lazy("Public events here and in the territories within, cancellations included."),
    "organizations": lazy(
        "Associations, collectives, companies and public bodies registered here: name, kind, "
        "verified official identifier (SIREN, RNA), territory, links."
    ),
    "proposals": lazy("Citizens' proposals, their state and the results of their votes."),
    "posts": lazy(
        "What is published here and in the territories within: posts, events, proposals."
    ),
    "map": lazy(
        "Upcoming events, organisations and the places of what is published, in GeoJSON "
        "(RFC 7946, WGS 84) for uMap, QGIS or Leaflet."
    ),
}
DATASET_TITLES: Final[dict[str, str]] = {
    "agenda": lazy("Agenda"),
    "organizations": lazy("Directory of organisations"),
    "proposals": lazy("Proposals and their votes"),
    "posts": lazy("Live feed"),
    "map": lazy("Map"),
}


def _served(body: bytes | str, content_type: str, filename: str | None = None) -> Response:
    """A public file: CORS, Cache-Control, an ETag (304 when the reader has this body)."""
    data = body.encode() if isinstance(body, str) else body
    etag = hashlib.sha256(data).hexdigest()[:32]
    fresh = request.if_none_match.contains(etag)
    response = Response(b"" if fresh else data, status=304 if fresh else 200)
    if not fresh:
        response.headers["Content-Type"] = content_type
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Vary"] = "Accept-Language"
    if filename is not None and not fresh:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def _joined(lines: Callable[..., Iterator[str]], *args: Any) -> str:
    """A table's lines, written on a thread: thousands of rows take a good part of a second of
    CPU, which the event loop would not give to other requests meanwhile."""
    return await asyncio.to_thread(lambda: "".join(lines(*args)))


def _format(fmt: str) -> FeedFormat:
    for known in FEED_FORMATS:
        if fmt == known:
            return known
    raise Problem(404, "feeds are feed.rss and feed.atom")


async def _territory(conn: Connection, level: str, code: str) -> Territory:
    # Codes are short (COG, SIREN, a quartier's slug): a longer one is no territory.
    found = (
        await territory_queries.select_territory(conn, level, code)
        if len(level) <= 20 and len(code) <= 100
        else None
    )
    if found is None:
        raise Problem(404, "no such territory here")
    return found


def _feed(feed: Feed, entries: list[Entry], fmt: FeedFormat) -> Response:
    return _served(feeds.render(feed, entries, fmt), MEDIA_TYPES[fmt])


@blueprint.get("/actors/<username>/feed.<fmt>")
async def actor_feed(username: str, fmt: str) -> Response:
    """An actor's public posts (a person, an organisation, a territory) as RSS or Atom."""
    kind = _format(fmt)
    urls = state().urls
    async with state().db.acquire() as conn:
        actor: Actor | None = (
            await actor_queries.select_actor_by_username(conn, username)
            if len(username) <= 100
            else None
        )
        if actor is None or actor.kind == "application":
            raise Problem(404, "no such actor here")
        await refuse_suspended(actor.id, conn)
        entries = await exports.actor_entries(conn, urls, actor)
    feed = Feed(
        title=gettext("Posts of %(name)s", name=actor.name),
        subtitle=gettext(
            "The public posts of %(name)s on %(instance)s",
            name=actor.name,
            instance=state().settings.instance_name,
        ),
        page=urls.profile(actor.username),
        rss_url=urls.actor_feed(actor.username, "rss"),
        atom_url=urls.actor_feed(actor.username, "atom"),
        updated=exports.newest(entries, actor.created_at),
        language=state().settings.default_locale,
    )
    return _feed(feed, entries, kind)


@blueprint.get("/territoires/<level>/<code>/feed.<fmt>")
async def territory_feed(level: str, code: str, fmt: str) -> Response:
    """A territory's live feed (what happens in it and below it) as RSS or Atom."""
    kind = _format(fmt)
    urls = state().urls
    async with state().db.acquire() as conn:
        territory = await _territory(conn, level, code)
        entries = await exports.territory_entries(conn, territory)
    feed = Feed(
        title=gettext("Live feed: %(name)s", name=territory.name),
        subtitle=gettext(
            "What is published in %(name)s and the territories within it", name=territory.name
        ),
        page=urls.territory(level, code),
        rss_url=urls.territory_feed(level, code, "rss"),
        atom_url=urls.territory_feed(level, code, "atom"),
        updated=exports.newest(entries, EPOCH),
        language=state().settings.default_locale,
    )
    return _feed(feed, entries, kind)


@blueprint.get("/proposals/feed.<fmt>")
async def proposals_feed(fmt: str) -> Response:
    """The published proposals as RSS or Atom; `?state=` narrows them to one state."""
    kind = _format(fmt)
    wanted = request.args.get("state") or None
    if wanted is not None and (wanted not in STATES or wanted == "draft"):
        raise Problem(400, "state: not a proposal state", extra={"reason": "bad_state"})
    urls = state().urls
    async with state().db.acquire() as conn:
        entries = await exports.proposal_entries(conn, wanted)
    suffix = f"?state={wanted}" if wanted else ""
    feed = Feed(
        title=gettext("Proposals on %(instance)s", instance=state().settings.instance_name),
        subtitle=gettext("Citizens' proposals, their amendments and their votes"),
        page=urls.absolute(url_for("proposals.proposals_index")) + suffix,
        rss_url=urls.proposals_feed("rss") + suffix,
        atom_url=urls.proposals_feed("atom") + suffix,
        updated=exports.newest(entries, EPOCH),
        language=state().settings.default_locale,
    )
    return _feed(feed, entries, kind)


@blueprint.get("/tags/<tag>/agenda.ics")
async def tag_agenda(tag: str) -> Response:
    """The public events carrying a hashtag as iCalendar (cancelled ones included)."""
    await limit_heavy_export()
    name = tag.lower()
    if not _TAG.fullmatch(name):
        raise Problem(404, "no such hashtag")
    now = state().clock.now()
    async with state().db.acquire() as conn:
        if not await export_queries.tag_known(conn, name):
            raise Problem(404, "no such hashtag")
        found = await exports.agenda(
            conn, scope=None, root=None, tag=name, since=now - exports.AGENDA_PAST
        )
    body = await asyncio.to_thread(calendar, found, name=f"#{name}", stamp=now)
    return _served(body, "text/calendar; charset=utf-8")


@blueprint.get("/territoires/<level>/<code>/map.geojson")
async def territory_map(level: str, code: str) -> Response:
    """What the map shows in a territory, as a GeoJSON FeatureCollection (RFC 7946)."""
    await limit_heavy_export()
    async with state().db.acquire() as conn:
        territory = await _territory(conn, level, code)
        items = await map_items(conn, territory, await served_root())
    body = geojson.feature_collection(items, kind_label)
    return _served(body, "application/geo+json; charset=utf-8", f"{code}-map.geojson")


@blueprint.get("/territoires/<level>/<code>/organizations.csv")
async def organizations_csv(level: str, code: str) -> Response:
    """A territory's directory of organisations as CSV."""
    async with state().db.acquire() as conn:
        territory = await _territory(conn, level, code)
        found = await exports.directory(conn, territory, await served_root())
    body = await _joined(tables.organizations, found, state().urls)
    return _served(body, CSV_TYPE, f"{code}-organizations.csv")


@blueprint.get("/territoires/<level>/<code>/events.csv")
async def events_csv(level: str, code: str) -> Response:
    """A territory's public events (descendants included, cancelled ones too) of the last year
    and to come, soonest first, as CSV."""
    await limit_heavy_export()
    async with state().db.acquire() as conn:
        territory = await _territory(conn, level, code)
        found = await exports.agenda(
            conn,
            scope=territory,
            root=await served_root(),
            since=state().clock.now() - exports.TABLE_PAST,
            limit=exports.TABLE_ROWS,
        )
    body = await _joined(tables.events, found)
    return _served(body, CSV_TYPE, f"{code}-events.csv")


@blueprint.get("/territoires/<level>/<code>/proposals.csv")
async def proposals_csv(level: str, code: str) -> Response:
    """A territory's published proposals with their votes and outcome as CSV."""
    await limit_heavy_export()
    async with state().db.acquire() as conn:
        territory = await _territory(conn, level, code)
        found, tallies = await exports.proposals_with_tallies(conn, territory, await served_root())
    body = await _joined(tables.proposals, found, tallies)
    return _served(body, CSV_TYPE, f"{code}-proposals.csv")


def _datasets(root: Territory | None) -> list[Dataset]:
    return catalogue.datasets(state().urls, root)


@blueprint.get("/opendata/catalogue.jsonld")
async def catalogue_document() -> Response:
    """The catalogue of the datasets (DCAT-AP, JSON-LD)."""
    settings = state().settings
    root = await served_root()
    name = settings.territory_name or (root.name if root else settings.instance_name)
    document = catalogue.catalogue(
        urls=state().urls,
        name=name,
        publisher=settings.instance_name,
        licence=settings.open_data_licence,
        found=_datasets(root),
    )
    body = json.dumps(document, ensure_ascii=False)
    return _served(body, "application/ld+json; charset=utf-8")


@blueprint.get("/opendata")
async def opendata_page() -> str:
    """The datasets with their files, formats and licence, for people."""
    root = await served_root()
    return await render_template(
        "opendata.html",
        datasets=_datasets(root),
        titles={key: gettext(title) for key, title in DATASET_TITLES.items()},
        descriptions={key: gettext(text) for key, text in DATASET_DESCRIPTIONS.items()},
        licence=state().settings.open_data_licence,
        is_etalab=state().settings.open_data_licence == ETALAB_LICENCE,
        catalogue_url=state().urls.catalogue,
    )
