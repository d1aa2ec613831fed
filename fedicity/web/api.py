"""The JSON API's reads, /api/v1: events, organisations, proposals and places (located items),
paged by cursor and filtered by territory, type, dates, tag and box; one of each by its token or
username. What an anonymous reader of the pages may see, nothing more; CORS open to all.

Every /api/v1 view is marked `for_programs`: no cookie is read, so no session, no CSRF token and
no language; the writes (web/api_write.py) know their caller from the bearer token alone."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, request

from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.events.models import Event
from fedicity.located import queries as located_queries
from fedicity.located.models import LocatedItem
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.models import ListedOrganization
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.web import api_models as models
from fedicity.web.app import for_programs, state
from fedicity.web.errors import Problem
from fedicity.web.moderation import refuse_suspended
from fedicity.web.openapi import documented
from fedicity.web.paging import cursor_arg, moment_cursor, moment_cursor_arg

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
Q = TypeVar("Q", bound=BaseModel)
T = TypeVar("T")
# Moments outside these years are refused (activitypub/dates.py reads them as absent): an offset
# at year 1 or 9999 would overflow on its way to UTC.
FIRST_YEAR, LAST_YEAR = 1000, 9998


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as (field, reason) pairs, without the values sent."""
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "reason": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


@cache
def allowed_values(model: type[BaseModel]) -> dict[str, list[str]]:
    """The enumerated arguments of a query model and the values each allows, as its schema
    declares them."""
    found: dict[str, list[str]] = {}
    for name, spec in model.model_json_schema(by_alias=True)["properties"].items():
        for choice in (spec, *spec.get("anyOf", ())):
            if "enum" in choice:
                found[name] = [str(value) for value in choice["enum"]]
    return found


def read_query(model: type[Q]) -> Q:
    """The query string read into its model; a 400 naming each refused argument, and for an
    enumerated one the values it allows."""
    try:
        return model.model_validate({key: request.args[key] for key in request.args})
    except ValidationError as error:
        errors: list[dict[str, Any]] = [dict(item) for item in field_errors(error)]
        enums = allowed_values(model)
        details = []
        for item in errors:
            if item["field"] in enums:
                item["allowed"] = enums[item["field"]]
                details.append(f"{item['field']} is one of {', '.join(item['allowed'])}")
        raise Problem(
            400,
            "; ".join(details) or "some query arguments are refused",
            extra={"reason": "invalid_query", "errors": errors},
        ) from None


def _moment(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise Problem(
            400,
            f"{name} is a moment between the years {FIRST_YEAR} and {LAST_YEAR}",
            extra={
                "reason": "invalid_query",
                "errors": [{"field": name, "reason": "out of range"}],
            },
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    min_lon, min_lat, max_lon, max_lat = (float(part) for part in raw.split(","))
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)) or not (
        -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    ):
        raise Problem(
            400,
            "bbox is minlon,minlat,maxlon,maxlat: longitudes from -180 to 180, latitudes from "
            "-90 to 90, each minimum at most its maximum",
            extra={"reason": "invalid_query", "errors": [{"field": "bbox", "reason": "range"}]},
        )
    return min_lon, min_lat, max_lon, max_lat


async def _scope(conn: Connection, territory: str | None) -> int | None:
    if territory is None:
        return None
    level, _sep, code = territory.partition(":")
    found = await territory_queries.select_territory(conn, level, code)
    if found is None:
        raise Problem(404, f"no {level} with code {code!r} here", extra={"reason": "no_territory"})
    return found.id


def api_json(document: Any, status: int = 200) -> Response:
    """A JSON answer any site may read (CORS)."""
    response = Response(
        models_json(document), status=status, content_type="application/json; charset=utf-8"
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def models_json(document: Any) -> str:
    """A model (or a plain value) as JSON text."""
    if isinstance(document, BaseModel):
        return document.model_dump_json()
    import json

    return json.dumps(document)


# --- shapes -----------------------------------------------------------------------------------


def event_out(event: Event) -> models.EventOut:
    """An event as the API shows it."""
    loc = event.location
    return models.EventOut(
        id=event.uri,
        token=event.token,
        url=safe_url(event.url) if event.url else event.uri,
        title=event.title,
        description=event.description_html,
        startsAt=event.starts_at,
        endsAt=event.ends_at,
        timezone=event.timezone,
        allDay=event.all_day,
        category=event.category,
        tags=list(event.tags),
        status=event.status,
        organizer=event.organizer_uri,
        place=models.Place(
            name=loc.place_name,
            street=loc.street,
            postalCode=loc.postal_code,
            locality=loc.locality,
            country=loc.country,
            latitude=loc.latitude,
            longitude=loc.longitude,
            onlineUrl=safe_url(loc.online_url) if loc.online_url else None,
        ),
        capacity=event.capacity,
        joinMode=event.join_mode,
        image=safe_url(event.image_url) if event.image_url else None,
        published=event.published,
        updated=event.updated,
    )


def _place_out(item: LocatedItem) -> models.PlaceOut:
    return models.PlaceOut(
        id=item.object_uri,
        type=item.kind,
        title=item.title,
        summary=item.summary,
        url=safe_url(item.url),
        author=item.author_uri,
        origin=item.origin_host,
        published=item.published,
        startsAt=item.starts_at,
        latitude=item.latitude,
        longitude=item.longitude,
    )


def _organization_out(found: ListedOrganization) -> models.OrganizationOut:
    urls = state().urls
    actor = found.actor
    official = (
        f"{found.official_id_kind}:{found.official_id_value}" if found.official_id_kind else None
    )
    return models.OrganizationOut(
        id=urls.actor(actor.username),
        username=actor.username,
        name=actor.name,
        type=actor.organization_kind,
        summary=actor.summary,
        url=urls.organization_page(actor.username),
        officialId=official,
        verified=found.verified,
        latitude=found.latitude,
        longitude=found.longitude,
        created=actor.created_at,
    )


def _proposal_out(proposal: Proposal) -> models.ProposalOut:
    return models.ProposalOut(
        id=proposal.uri,
        token=proposal.token,
        title=proposal.title,
        content=proposal.content_html,
        state=proposal.state,
        author=proposal.author_uri,
        organization=proposal.organization_uri,
        tags=list(proposal.tags),
        options=list(proposal.options),
        votingOpens=proposal.voting_opens,
        votingEnds=proposal.voting_ends,
        result=proposal.result,
        published=proposal.published,
    )


# --- lists ------------------------------------------------------------------------------------


async def _listed(
    query: models.ListQuery,
    select: Callable[..., Awaitable[Sequence[T]]],
    cursor: Callable[[T], str],
    **filters: Any,
) -> tuple[Sequence[T], str | None]:
    """A page of a list: one more row than the page read tells whether another follows; every
    list is scoped to a territory and a date range, `filters` are its own."""
    async with state().db.acquire() as conn:
        found = await select(
            conn,
            limit=query.limit + 1,
            scope_id=await _scope(conn, query.territory),
            since=_moment("from", query.since),
            until=_moment("to", query.to),
            **filters,
        )
    shown = found[: query.limit]
    return shown, cursor(shown[-1]) if len(found) > query.limit else None


@blueprint.get("/events")
@for_programs
@documented(query=models.EventQuery, responses={200: models.EventPage}, problems=(404,))
async def list_events() -> Response:
    """Public events, soonest first.

    Here and federated; cancelled ones stay, with status `cancelled`."""
    query = read_query(models.EventQuery)
    shown, following = await _listed(
        query,
        event_queries.select_listed,
        lambda event: moment_cursor(event.starts_at, event.id),
        category=query.type,
        tag=query.tag,
        bbox=_bbox(query.bbox),
        after=moment_cursor_arg("next"),
    )
    return api_json(models.EventPage(items=[event_out(e) for e in shown], next=following))


@blueprint.get("/places")
@for_programs
@documented(query=models.PlaceQuery, responses={200: models.PlacePage}, problems=(404,))
async def list_places() -> Response:
    """What is located in the territories, newest first.

    Posts, events and proposals, here and federated, as the territory pages show them."""
    query = read_query(models.PlaceQuery)
    shown, following = await _listed(
        query,
        located_queries.select_listed,
        lambda item: moment_cursor(item.published, item.id),
        kind=query.type,
        tag=query.tag,
        bbox=_bbox(query.bbox),
        before=moment_cursor_arg("next"),
    )
    return api_json(models.PlacePage(items=[_place_out(i) for i in shown], next=following))


@blueprint.get("/organizations")
@for_programs
@documented(
    query=models.OrganizationQuery, responses={200: models.OrganizationPage}, problems=(404,)
)
async def list_organizations() -> Response:
    """This instance's discoverable organisations, newest first, as the directory page lists them
    (the silenced and suspended left out)."""
    query = read_query(models.OrganizationQuery)
    shown, following = await _listed(
        query,
        organization_queries.select_listed,
        lambda found: str(found.actor.id),
        kind=query.type,
        bbox=_bbox(query.bbox),
        before=cursor_arg("next"),
    )
    return api_json(
        models.OrganizationPage(items=[_organization_out(o) for o in shown], next=following)
    )


@blueprint.get("/proposals")
@for_programs
@documented(query=models.ProposalQuery, responses={200: models.ProposalPage}, problems=(404,))
async def list_proposals() -> Response:
    """Proposals past their draft, newest first."""
    query = read_query(models.ProposalQuery)
    shown, following = await _listed(
        query,
        proposal_queries.select_listed,
        lambda proposal: moment_cursor(proposal.published, proposal.id),
        state=query.state,
        tag=query.tag,
        before=moment_cursor_arg("next"),
    )
    return api_json(models.ProposalPage(items=[_proposal_out(p) for p in shown], next=following))


# --- one of each ------------------------------------------------------------------------------


def checked_token(token: str, what: str) -> str:
    """A token or username as the API reads one: ASCII, at most 64 characters (404 otherwise)."""
    if not (token.isascii() and 0 < len(token) <= 64):
        raise Problem(404, f"no such {what} here")
    return token


async def public_event(token: str) -> Event:
    """A public event by its token, as its page shows it: 404, or 410 once deleted or when its
    organiser was suspended."""
    async with state().db.acquire() as conn:
        event = await event_queries.select_event_by_token(conn, checked_token(token, "event"))
    if event is None or not event.public:
        raise Problem(404, "no such event here")
    if event.deleted_at is not None:
        raise Problem(410, "this event was deleted")
    await refuse_suspended(event.local_actor_id)
    return event


@blueprint.get("/events/<token>")
@for_programs
@documented(responses={200: models.EventOut}, problems=(404, 410))
async def get_event(token: str) -> Response:
    """One public event organised here, by its token."""
    return api_json(event_out(await public_event(token)))


@blueprint.get("/proposals/<token>")
@for_programs
@documented(responses={200: models.ProposalOut}, problems=(404, 410))
async def get_proposal(token: str) -> Response:
    """One proposal written here, by its token (drafts are not shown)."""
    async with state().db.acquire() as conn:
        found = await proposal_queries.select_proposal_by_token(
            conn, checked_token(token, "proposal")
        )
    if found is None or found.state == "draft":
        raise Problem(404, "no such proposal here")
    await refuse_suspended(found.local_actor_id)
    return api_json(_proposal_out(found))


@blueprint.get("/organizations/<username>")
@for_programs
@documented(responses={200: models.OrganizationOut}, problems=(404, 410))
async def get_organization(username: str) -> Response:
    """One organisation of the directory, by its username.

    As the directory, only discoverable ones; 410 once suspended, as its page."""
    async with state().db.acquire() as conn:
        found = await organization_queries.select_listed_by_username(
            conn, checked_token(username, "organisation")
        )
        if found is None:
            raise Problem(404, "no such organisation here")
        await refuse_suspended(found.actor.id, conn)
    return api_json(_organization_out(found))
