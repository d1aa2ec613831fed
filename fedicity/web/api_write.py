"""The JSON API's writes, /api/v1: organise, edit and cancel an event, publish a note, with a
personal token (`Authorization: Bearer …`, made in the settings: accounts/api_tokens.py).

The caller is known from the token alone: these views are `for_programs`, so no cookie is read
and no session loaded, hence no CSRF token is needed (a page elsewhere cannot make a browser send
our bearer token). They answer without CORS headers, so no other site's script reads them. The
same services as the web forms do the work (the same checks, the same federation), with the same
rate limits (the forms' per-account window, and the publications' windows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, request, url_for

from fedicity.accounts import api_tokens, throttle
from fedicity.accounts.models import Account
from fedicity.activitypub.keys import KeyGenerator
from fedicity.activitypub.safejson import JsonFailure, load_json
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.events import service as events
from fedicity.events.models import Event, Location
from fedicity.events.service import EventError, EventInput
from fedicity.events.text import is_zone, zone
from fedicity.organizations.service import MembershipError, require_admin
from fedicity.posts.service import PostError
from fedicity.ratelimit.limiter import Limit, hit
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.urls import Urls
from fedicity.web import api_models as models
from fedicity.web.api import (
    FIRST_YEAR,
    LAST_YEAR,
    checked_token,
    event_out,
    field_errors,
    models_json,
)
from fedicity.web.app import for_programs, state
from fedicity.web.errors import Problem
from fedicity.web.openapi import documented
from fedicity.web.ratelimits import TooMany
from fedicity.web.social import resolve_mentions
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("api_write", __name__, url_prefix="/api/v1")
M = TypeVar("M", bound=BaseModel)
# A body of the API is a flat object with a list of tags at most.
MAX_BODY_DEPTH = 4
_WRITE_PROBLEMS = (401, 403, 404, 413, 415, 422, 429)
# The event service's refusal codes -> the field of the body they are about.
_EVENT_FIELDS = {
    "title_missing": "title",
    "title_too_long": "title",
    "description_too_long": "description",
    "time_invalid": "startsAt",
    "ends_before_start": "endsAt",
    "duration_too_long": "endsAt",
    "timezone_invalid": "timezone",
    "category_invalid": "category",
    "join_mode_invalid": "joinMode",
    "status_invalid": "status",
    "capacity_invalid": "capacity",
    "external_url_missing": "externalUrl",
    "online_url_invalid": "onlineUrl",
    "image_url_invalid": "image",
    "latitude_invalid": "latitude",
    "longitude_invalid": "longitude",
    "coordinates_incomplete": "latitude",
    "location_missing": "placeName",
    "tag_invalid": "tags",
    "parent_invalid": "parent",
}


class Unauthorized(Problem):
    """A 401 that says how to authenticate (RFC 6750)."""

    def __init__(self, detail: str, error: str | None) -> None:
        super().__init__(401, detail, extra={"reason": error or "token_missing"})
        self.challenge = 'Bearer realm="api"' + (f', error="{error}"' if error else "")

    def get_headers(self, *args: object, **kwargs: object) -> list[tuple[str, str]]:
        """The usual headers, and the challenge."""
        headers = list(super().get_headers(*args, **kwargs))  # type: ignore[arg-type]
        return [*headers, ("WWW-Authenticate", self.challenge)]


def _invalid(errors: list[dict[str, str]], detail: str = "the body is refused") -> Problem:
    return Problem(422, detail, extra={"reason": "invalid_body", "errors": errors})


async def _caller() -> tuple[Account, Actor]:
    """The account and actor of the bearer token; 401 without a live one. A body of another
    type than JSON is refused first (415): it is not a request of this API, token or not."""
    if request.mimetype not in ("", "application/json"):
        raise Problem(415, "send the body as application/json", extra={"reason": "content_type"})
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("send a personal API token: Authorization: Bearer <token>", None)
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header is Bearer <token>", "invalid_request")
    app_state = state()
    async with app_state.db.acquire() as conn:
        account = await api_tokens.authenticate(conn, token.strip(), now=app_state.clock.now())
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id) if account else None
    if account is None or actor is None:
        raise Unauthorized("this token is unknown or was revoked", "invalid_token")
    return account, actor


async def _rate(conn: Connection, account: Account, *, publishes: bool) -> None:
    """The forms' per-account window; and for a publication, the publications' windows."""
    app_state = state()
    settings, now = app_state.settings, app_state.clock.now()
    if not account.is_admin:
        limit = Limit("form-post", settings.form_posts_per_minute, timedelta(minutes=1))
        verdict = await hit(conn, limit, f"account:{account.id}", now)
        if not verdict.allowed:
            raise TooMany(verdict.retry_after, "too many writes; try again later", "rate_limited")
    if publishes:
        limits = throttle.posting_limits(settings.posts_per_ten_minutes, settings.posts_per_day)
        wait = await throttle.before_posting(conn, account.id, now, limits)
        if wait is not None:
            raise TooMany(wait, "too many publications; try again later", "posting_too_fast")


async def _body(model: type[M]) -> M:
    """The JSON body read into its model: 415 for another type, 400 for JSON we do not read
    (malformed, too deep, NUL, huge numbers), 422 with each field's reason."""
    if request.mimetype != "application/json":
        raise Problem(415, "send the body as application/json", extra={"reason": "content_type"})
    raw = await request.get_data(as_text=False)
    assert isinstance(raw, bytes)
    loaded = load_json(raw, max_depth=MAX_BODY_DEPTH)
    if isinstance(loaded, JsonFailure):
        raise Problem(400, loaded.detail, extra={"reason": str(loaded.reason)})
    if not isinstance(loaded.value, dict):
        raise _invalid([{"field": "body", "reason": "the body is a JSON object"}])
    try:
        return model.model_validate(loaded.value)
    except ValidationError as error:
        raise _invalid(field_errors(error)) from None


def _created(document: BaseModel, location: str) -> Response:
    response = Response(
        models_json(document), status=201, content_type="application/json; charset=utf-8"
    )
    response.headers["Location"] = location
    return response


def _answer(document: BaseModel) -> Response:
    return Response(models_json(document), content_type="application/json; charset=utf-8")


def _moment(name: str, value: datetime | None, timezone: str) -> datetime | None:
    """A moment of the body: without an offset it is in the event's zone."""
    if value is None:
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _invalid([{"field": name, "reason": f"years {FIRST_YEAR} to {LAST_YEAR}"}])
    if value.tzinfo is None:
        return value.replace(tzinfo=zone(timezone) if is_zone(timezone) else UTC)
    return value


async def _place(name: str | None) -> Territory | None:
    if name is None:
        return None
    place = await resolve_place(name)
    if place is None:
        raise _invalid([{"field": "territory", "reason": "no territory served here"}])
    return place


def _event_refused(error: EventError) -> Problem:
    if error.code == "not_organizer":
        return Problem(403, "only citizens and organisations organise events")
    field = _EVENT_FIELDS.get(error.code, "body")
    return _invalid([{"field": field, "reason": error.code}], error.detail)


def _location(values: dict[str, Any], base: Location) -> Location:
    names = {
        "placeName": "place_name",
        "street": "street",
        "postalCode": "postal_code",
        "locality": "locality",
        "country": "country",
        "latitude": "latitude",
        "longitude": "longitude",
        "onlineUrl": "online_url",
    }
    return replace(base, **{names[key]: values[key] for key in names if key in values})


_INPUT_NAMES = {
    "title": "title",
    "description": "description",
    "timezone": "timezone",
    "allDay": "all_day",
    "category": "category",
    "capacity": "capacity",
    "joinMode": "join_mode",
    "waitingList": "waiting_list",
    "externalUrl": "external_url",
    "status": "status",
}


# Fields an event always has: a null in a change is refused, not read as "unchanged".
_NOT_NULL = (
    "title",
    "startsAt",
    "description",
    "timezone",
    "allDay",
    "joinMode",
    "waitingList",
    "status",
    "tags",
)


def _input(values: dict[str, Any], base: EventInput) -> EventInput:
    """The event's input with the body's fields (those given) over `base`."""
    nulls = [key for key in _NOT_NULL if key in values and values[key] is None]
    if nulls:
        raise _invalid([{"field": key, "reason": "cannot be null"} for key in nulls])
    timezone = values.get("timezone") or base.timezone
    changed: dict[str, Any] = {
        _INPUT_NAMES[key]: values[key] for key in _INPUT_NAMES if key in values
    }
    if "tags" in values:
        changed["tags"] = tuple(values["tags"] or ())
    if "startsAt" in values:
        starts = _moment("startsAt", values["startsAt"], timezone)
        if starts is None:
            raise _invalid([{"field": "startsAt", "reason": "an event starts"}])
        changed["starts_at"] = starts
    if "endsAt" in values:
        changed["ends_at"] = _moment("endsAt", values["endsAt"], timezone)
    changed["location"] = _location(values, base.location)
    return replace(base, **changed)


async def _organiser(conn: Connection, me: Actor, username: str | None) -> Actor:
    """Me, or the organisation I administer that the body names (403 otherwise)."""
    if username is None:
        return me
    organization = await actor_queries.select_actor_by_username(conn, username)
    if organization is None or organization.kind != "organization":
        raise _invalid([{"field": "organization", "reason": "no such organisation here"}])
    try:
        await require_admin(conn, organization, me, state().urls)
    except MembershipError as error:
        raise Problem(403, "only the organisation's admins organise its events") from error
    return organization


async def _acting_on(conn: Connection, me: Actor, event: Event) -> Actor:
    """Who acts on an event: its organiser, me or an organisation I administer (else 403)."""
    if event.local_actor_id == me.id:
        return me
    if event.local_actor_id is not None:
        organiser = await actor_queries.select_actor_by_id(conn, event.local_actor_id)
        if organiser is not None and organiser.kind == "organization":
            try:
                await require_admin(conn, organiser, me, state().urls)
            except MembershipError:
                pass
            else:
                return organiser
    raise Problem(403, "only the event's organiser changes it", extra={"reason": "not_organizer"})


async def _own_event(conn: Connection, token: str) -> Event:
    event = await event_queries.select_event_by_token(conn, checked_token(token, "event"))
    if event is None:
        raise Problem(404, "no such event here")
    if event.deleted_at is not None:
        raise Problem(410, "this event was deleted")
    return event


@blueprint.post("/events")
@for_programs
@documented(
    body=models.EventIn, responses={201: models.EventOut}, problems=_WRITE_PROBLEMS, bearer=True
)
async def create_event() -> Response:
    """Organise an event, as me or as an organisation I administer.

    Published and federated as the web form does it."""
    account, me = await _caller()
    body = await _body(models.EventIn)
    values = body.model_dump(exclude_unset=True)
    place = await _place(body.territory)
    root = await served_root()
    app_state = state()
    async with app_state.db.acquire() as conn:
        organiser = await _organiser(conn, me, body.organization)
        data = _input(values, EventInput(title=body.title, starts_at=datetime.now(UTC)))
        await _rate(conn, account, publishes=True)
        try:
            saved = await events.create_event(
                conn,
                actor=organiser,
                data=data,
                place=place,
                root=root,
                urls=app_state.urls,
                clock=app_state.clock,
                keygen=app_state.keygen,
            )
        except EventError as error:
            raise _event_refused(error) from error
    assert saved.token is not None
    return _created(event_out(saved), url_for("api.get_event", token=saved.token))


class _EventEnv(TypedDict):
    """What the event service needs besides the event: where it is, and the instance's tools."""

    place: Territory | None
    root: Territory | None
    urls: Urls
    clock: Clock
    keygen: KeyGenerator


async def _change_own_event(
    account: Account,
    me: Actor,
    token: str,
    place: Territory | None,
    change: Callable[[Connection, Actor, Event, _EventEnv], Awaitable[Event]],
) -> Response:
    """Edit or cancel an event I organise, as the one acting on it; in its territory unless
    `place` moves it; the service's refusals per field."""
    app_state = state()
    root = await served_root()
    async with app_state.db.acquire() as conn:
        event = await _own_event(conn, token)
        organiser = await _acting_on(conn, me, event)
        await _rate(conn, account, publishes=False)
        if place is None and event.territory_id is not None:
            place = await territory_queries.select_territory_by_id(conn, event.territory_id)
        env = _EventEnv(
            place=place,
            root=root,
            urls=app_state.urls,
            clock=app_state.clock,
            keygen=app_state.keygen,
        )
        try:
            saved = await change(conn, organiser, event, env)
        except EventError as error:
            raise _event_refused(error) from error
    return _answer(event_out(saved))


@blueprint.route("/events/<token>", methods=["PATCH"])
@for_programs
@documented(
    body=models.EventPatch,
    responses={200: models.EventOut},
    problems=(*_WRITE_PROBLEMS, 410),
    bearer=True,
)
async def edit_event(token: str) -> Response:
    """Change an event I organise (the fields given only)."""
    account, me = await _caller()
    body = await _body(models.EventPatch)
    values = body.model_dump(exclude_unset=True)

    async def change(conn: Connection, actor: Actor, event: Event, env: _EventEnv) -> Event:
        data = _input(values, events.input_of(event))
        return await events.update_event(conn, actor=actor, event=event, data=data, **env)

    return await _change_own_event(account, me, token, await _place(body.territory), change)


@blueprint.post("/events/<token>/cancel")
@for_programs
@documented(responses={200: models.EventOut}, problems=(*_WRITE_PROBLEMS, 410), bearer=True)
async def cancel_event(token: str) -> Response:
    """Cancel an event I organise: it stays, marked cancelled, and its followers are told."""
    account, me = await _caller()

    async def change(conn: Connection, actor: Actor, event: Event, env: _EventEnv) -> Event:
        return await events.cancel_event(conn, actor=actor, event=event, **env)

    return await _change_own_event(account, me, token, None, change)


@blueprint.post("/notes")
@for_programs
@documented(
    body=models.NoteIn, responses={201: models.NoteOut}, problems=_WRITE_PROBLEMS, bearer=True
)
async def write_note() -> Response:
    """Publish a note as me: public, unlisted, followers only or direct (to those mentioned)."""
    account, me = await _caller()
    body = await _body(models.NoteIn)
    place = await _place(body.territory)
    root = await served_root()
    resolved = await resolve_mentions(body.text)
    app_state = state()
    async with app_state.db.acquire() as conn:
        await _rate(conn, account, publishes=True)
        try:
            post = await territory_service.write_note(
                conn,
                actor=me,
                text=body.text,
                visibility=body.visibility,
                place=place,
                root=root,
                summary=body.summary,
                urls=app_state.urls,
                clock=app_state.clock,
                keygen=app_state.keygen,
                local_host=app_state.settings.host,
                resolved=resolved,
                language=account.locale,
            )
        except PostError as error:
            field = "visibility" if error.code == "visibility_invalid" else "text"
            raise _invalid([{"field": field, "reason": error.code}], error.detail) from error
    return _created(models.NoteOut(id=post.uri, visibility=body.visibility), post.uri)
