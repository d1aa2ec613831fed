"""Event pages: the event (content-negotiated), its attendees, iCalendar agendas, and the
organiser's and participants' forms."""

from __future__ import annotations

import asyncio
import calendar as month_calendar
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton, get_day_names
from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub import collections
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.events import participation, poll, queries
from fedicity.events import service as events
from fedicity.events.document import event_to_ap, poll_to_ap
from fedicity.events.ical import calendar
from fedicity.events.models import CATEGORIES, JOIN_MODES, Event
from fedicity.events.service import EventError, EventInput
from fedicity.events.text import zone
from fedicity.exports import service as exports
from fedicity.imports import queries as import_queries
from fedicity.media import service as media
from fedicity.media.models import MediaError
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web import alternates, schemaorg
from fedicity.web.activitypub import activity_response
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.event_form import form_input, values_of, with_image
from fedicity.web.forms import POINT_ERRORS
from fedicity.web.i18n import gettext, lazy
from fedicity.web.limits import accepts_uploads
from fedicity.web.map import default_center
from fedicity.web.media import read_upload
from fedicity.web.messages import message, query_error
from fedicity.web.moderation import refuse_suspended
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import cursor_arg, moment_cursor, moment_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import limit_heavy_export, posting_wait, too_fast
from fedicity.web.session import check_csrf, current_actor, require_actor
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root
from fedicity.web.times import (
    event_when,
    moment_in_zone,
    reader_locale,
    time_in_zone,
    zone_in_reader_words,
)

blueprint = Blueprint("events", __name__)
blueprint.before_request(check_csrf)
# Dates in the reader's language and the event's zone, named (web/times.py), on every page that
# shows an event: `event|event_when`, `moment|in_zone(timezone)`, `moment|time_in_zone(timezone)`,
# `moment|zone_words(timezone)`.
blueprint.add_app_template_filter(event_when, "event_when")
blueprint.add_app_template_filter(moment_in_zone, "in_zone")
blueprint.add_app_template_filter(time_in_zone, "time_in_zone")
blueprint.add_app_template_filter(zone_in_reader_words, "zone_words")

AGENDA_SIZE = 200
STATE_LABELS = {
    "accepted": lazy("You take part."),
    "pending": lazy("Your request awaits the organiser's approval."),
    "rejected": lazy("Your participation was declined."),
    "invited": lazy("You are invited."),
    "left": lazy("You left this event."),
    "interested": lazy("You are interested."),
    "removed": lazy("The organiser removed you from this event."),
}


def _ics(body: bytes, filename: str) -> Response:
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    # Calendar apps poll subscriptions: a few minutes of caching spares the database.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def _event(token: str) -> Event:
    if not token.isascii() or len(token) > 64:
        raise Problem(404, "no such event here")
    async with state().db.acquire() as conn:
        event = await queries.select_event_by_token(conn, token)
    if event is None:
        raise Problem(404, "no such event here")
    if event.deleted_at is not None:
        raise Problem(410, "this event was deleted")
    await refuse_suspended(event.local_actor_id)
    return event


async def _document(event: Event) -> dict[str, Any]:
    async with state().db.acquire() as conn:
        count = await queries.count_participants(conn, event.id)
        audience = None
        if event.territory_id is not None:
            actor = await actor_queries.select_territory_actor(conn, event.territory_id)
            audience = state().urls.actor(actor.username) if actor else None
    return event_to_ap(event, state().urls, participant_count=count, audience_uri=audience)


EVENTS_PAGE = 20


# Refused uploads keep the form (with what was typed) and say why with their status.
_MEDIA_STATUS = {"image_too_large": 413, "image_too_many_pixels": 413, "upload_quota": 429}


@blueprint.route("/events", methods=["GET", "POST"])
@accepts_uploads
async def events_index() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Upcoming public events (GET), organised here and federated, soonest first, paged, or a
    month of them as a calendar (`view=month`, `month=YYYY-MM`); or organise an event (POST, the
    form of /events/new)."""
    if request.method == "POST":
        return await _save(None)
    if request.args.get("view") == "month":
        return await _month_view()
    # Keyset pages from the soonest (an old ?page=N link shows the first page).
    after = moment_cursor_arg("after")
    async with state().db.acquire() as conn:
        found = await queries.select_upcoming(
            conn, state().clock.now(), limit=EVENTS_PAGE + 1, after=after
        )
    shown = found[:EVENTS_PAGE]
    return await render_template(
        "events.html",
        events=[(event, event_when(event)) for event in shown],
        paged=after is not None,
        later=moment_cursor(shown[-1].starts_at, shown[-1].id)
        if len(found) > EVENTS_PAGE
        else None,
        this_month=_this_month().strftime("%Y-%m"),
        alternates=alternates.events_list(state().urls, state().settings),
    )


# The most events a month view shows (a calendar of more would be unreadable anyway).
MONTH_EVENTS = 500
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits: \d admits others


@dataclass(frozen=True)
class Day:
    """A day of the month view: its date, whether it is in the month shown, its events."""

    day: date
    in_month: bool
    today: bool
    events: list[Event]


def _this_month() -> date:
    """The first day of the current month, in the instance's zone."""
    today = state().clock.now().astimezone(zone(state().settings.timezone)).date()
    return today.replace(day=1)


def _asked_month() -> date:
    """The month of `month=YYYY-MM` (its first day), the current one when absent; a 400 for
    anything else."""
    raw = request.args.get("month", "")
    if not raw:
        return _this_month()
    matched = _MONTH.fullmatch(raw)
    if matched is None or not (1000 <= int(matched[1]) <= 9998 and 1 <= int(matched[2]) <= 12):
        raise Problem(400, "month is a year and a month, such as 2026-12")
    return date(int(matched[1]), int(matched[2]), 1)


def _full_date_without_year(locale: str) -> str:
    """The locale's full date pattern without its year: 'EEEE d MMMM', 'EEEE, MMMM d'."""
    pattern = Locale.parse(locale).date_formats["full"].pattern
    return re.sub(r"[,\s]*y+", "", pattern).strip(" ,")


def _local_day(event: Event) -> date:
    """The day an event starts on, where it happens (in its own zone)."""
    return event.starts_at.astimezone(zone(event.timezone)).date()


async def _month_view() -> str:
    """The month's public events, here and federated, as a calendar: each on the day it starts
    in its own zone."""
    first = _asked_month()
    following = (first + timedelta(days=32)).replace(day=1)
    instance_zone = zone(state().settings.timezone)
    # A day's margin either side: an event is placed by its own zone's date, which may be
    # another day than the instance's.
    start = datetime.combine(first, datetime.min.time(), instance_zone) - timedelta(days=1)
    end = datetime.combine(following, datetime.min.time(), instance_zone) + timedelta(days=1)
    async with state().db.acquire() as conn:
        found = await queries.select_starting_between(conn, start, end, limit=MONTH_EVENTS + 1)
    by_day: dict[date, list[Event]] = {}
    for event in found[:MONTH_EVENTS]:
        by_day.setdefault(_local_day(event), []).append(event)
    today = state().clock.now().astimezone(instance_zone).date()
    weeks = [
        [Day(day, day.month == first.month, day == today, by_day.get(day, [])) for day in week]
        for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(
            first.year, first.month
        )
    ]
    locale = reader_locale()
    return await render_template(
        "events_month.html",
        weeks=weeks,
        title=format_skeleton("yMMMM", first, locale=locale),
        weekdays=[
            (
                get_day_names("wide", locale=locale)[n],
                get_day_names("abbreviated", locale=locale)[n],
            )
            for n in range(7)
        ],
        day_name=lambda day: format_date(day, _full_date_without_year(locale), locale=locale),
        previous=(first - timedelta(days=1)).strftime("%Y-%m")
        if first.year > 1000 or first.month > 1
        else None,
        following=following.strftime("%Y-%m") if following.year <= 9998 else None,
        empty=not any(day.events for week in weeks for day in week if day.in_month),
        alternates=alternates.events_list(state().urls, state().settings),
        truncated=len(found) > MONTH_EVENTS,
    )


@blueprint.get("/events/<token>.ics")
async def event_ics(token: str) -> Response:
    """One event as iCalendar."""
    event = await _event(token)
    return _ics(calendar([event], name=event.title, stamp=state().clock.now()), "event.ics")


@blueprint.get("/events/<token>")
@serves_activitystreams("negotiated")
async def event_page(token: str) -> Response | str:
    """An event: its `Event` for servers, its page for browsers."""
    event = await _event(token)
    if wants_activitypub(request):
        return activity_response(await _document(event))
    me = await current_actor()
    urls = state().urls
    async with state().db.acquire() as conn:
        counts = await queries.count_by_state(conn, event.id)
        mine = (
            await queries.select_participation(conn, event.id, urls.actor(me.username))
            if me
            else None
        )
        position = (
            await queries.waiting_position(conn, event.id, mine.waiting_rank)
            if mine is not None and mine.waiting_rank is not None
            else None
        )
        organises = me is not None and me.id == event.local_actor_id
        # The organiser sees who comes; the attendees page manages them.
        attendees = (
            await queries.select_participants(conn, event.id, limit=ATTENDEES_SHOWN)
            if organises
            else []
        )
        programme = await queries.select_children(conn, event.id)
        parent = await queries.select_event(conn, event.parent_uri) if event.parent_uri else None
        people = await known_actors(
            conn, urls, [event.organizer_uri, *(p.actor_uri for p in attendees)]
        )
        organiser_actor = (
            await actor_queries.select_actor_by_id(conn, event.local_actor_id)
            if event.local_actor_id is not None
            else None
        )
        # Imported from a followed feed: said on the page, with the feed's address.
        origins = await import_queries.provenance_of(conn, "event", event.id)
    count = counts.get("accepted", 0)
    return await render_template(
        "event.html",
        people=people,
        event=event,
        origin=origins[0] if origins else None,
        imported_on=moment_in_zone(origins[0].imported_at) if origins else None,
        when=event_when(event),
        count=count,
        waiting=counts.get("waiting", 0),
        pending_count=counts.get("pending", 0),
        me=me,
        mine=mine,
        position=position,
        state_label=gettext(STATE_LABELS[mine.state])
        if mine and mine.state in STATE_LABELS
        else None,
        attendees=attendees,
        more_attendees=count > len(attendees),
        full=event.capacity is not None and count >= event.capacity,
        programme=programme,
        parent=parent,
        organizer=organises,
        error=query_error(),
        alternates=alternates.event(urls, event.token or "", event.title),
        structured_data=schemaorg.event(
            event,
            organizer=schemaorg.agent(organiser_actor, urls) if organiser_actor else None,
            language=state().settings.default_locale,
        ),
    )


# On the event's page: the first participants by name; the attendees page lists them all.
ATTENDEES_SHOWN = 50
# A page of one list (going, waiting, awaiting approval) on the attendees page.
ATTENDEES_PAGE = 50
_LISTS = ("pending", "accepted", "waiting")


@dataclass(frozen=True)
class AttendeeList:
    """One list of the attendees page: its state, how many, a page of them, the next page."""

    state: str
    total: int
    shown: list[Any]
    first_position: int
    next_after: int | None


@blueprint.route("/events/<token>/participants", methods=["GET", "POST"])
async def participants_page(token: str) -> str | WerkzeugResponse:
    """The organiser's attendees page (GET): who comes, who waits (in order), who asks, with the
    counts; approving, refusing and removing. `state` and `after` page through one list. A POST
    approves or declines a request."""
    if request.method == "POST":
        return await _decide(token)
    event = await _event(token)
    me = await current_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")), 303)
    if me.id != event.local_actor_id:
        raise Problem(403, message("not_organizer"))
    only = request.args.get("state")
    if only is not None and only not in _LISTS:
        raise Problem(400, "state is one of " + ", ".join(_LISTS))
    after = cursor_arg("after") if only else None
    lists: list[AttendeeList] = []
    async with state().db.acquire() as conn:
        counts = await queries.count_by_state(conn, event.id)
        # Requests only where the organiser approves, a line only where there is one (or was).
        shown_lists = [
            list_state
            for list_state in _LISTS
            if counts.get(list_state)
            or list_state == "accepted"
            or (list_state == "pending" and event.join_mode == "restricted")
            or (list_state == "waiting" and event.waiting_list)
        ]
        for list_state in shown_lists if only is None else (only,):
            found = await queries.select_participants(
                conn, event.id, state=list_state, limit=ATTENDEES_PAGE + 1, after=after
            )
            shown = found[:ATTENDEES_PAGE]
            first_position = 1
            if list_state == "waiting" and shown and shown[0].waiting_rank is not None:
                first_position = await queries.waiting_position(
                    conn, event.id, shown[0].waiting_rank
                )
            last = shown[-1] if shown else None
            next_after = None
            if last is not None and len(found) > ATTENDEES_PAGE:
                next_after = last.waiting_rank if list_state == "waiting" else last.id
            lists.append(
                AttendeeList(
                    list_state, counts.get(list_state, 0), shown, first_position, next_after
                )
            )
        people = await known_actors(
            conn, state().urls, [p.actor_uri for found in lists for p in found.shown]
        )
    return await render_template(
        "event_participants.html",
        event=event,
        lists=lists,
        only=only,
        people=people,
        counts=counts,
        shown_lists=shown_lists,
    )


@blueprint.get("/events/<token>/poll")
@serves_activitystreams("always")
async def companion_poll(token: str) -> Response:
    """The event's companion poll, a Question Mastodon users answer from their app."""
    event = await _event(token)
    if not poll.has_poll(event):
        raise Problem(404, "this event has no poll")
    async with state().db.acquire() as conn:
        counts = await poll.tallies(conn, event)
    return activity_response(poll_to_ap(event, counts, state().urls))


@blueprint.get("/events/<token>/attendees")
@serves_activitystreams("always")
async def attendees(token: str) -> Response:
    """The attendees collection: its count (members are not listed)."""
    event = await _event(token)
    async with state().db.acquire() as conn:
        count = await queries.count_participants(conn, event.id)
    return activity_response(
        collections.collection(state().urls.attendees(event.uri), count, first=False)
    )


@blueprint.get("/actors/<username>/events.ics")
async def organizer_agenda(username: str) -> Response:
    """A local organiser's public events as iCalendar."""
    urls = state().urls
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
        if actor is None or actor.kind not in ("person", "organization"):
            raise Problem(404, f"no organiser named {username!r} here")
        await refuse_suspended(actor.id, conn)
        found = await queries.select_by_organizer(
            conn, urls.actor(actor.username), limit=AGENDA_SIZE
        )
    return _ics(calendar(found, name=actor.name, stamp=state().clock.now()), "agenda.ics")


@blueprint.get("/territoires/<level>/<code>/agenda.ics")
async def territory_agenda(level: str, code: str) -> Response:
    """A territory's public events (its own and those below it) as iCalendar."""
    await limit_heavy_export()
    async with state().db.acquire() as conn:
        territory = await territory_queries.select_territory(conn, level, code)
        if territory is None:
            raise Problem(404, f"no {level} with code {code!r} here")
        root = await territory_service.served_root(
            conn, state().settings.territory_level, state().settings.territory_code
        )
        found = await exports.agenda(
            conn, scope=territory, root=root, since=state().clock.now() - exports.AGENDA_PAST
        )
    # Up to 500 events: the rendering takes a good part of a second of CPU, off the event loop.
    body = await asyncio.to_thread(calendar, found, name=territory.name, stamp=state().clock.now())
    return _ics(body, "agenda.ics")


# --- forms -------------------------------------------------------------------------------------


PARENT_CHOICES = 100


async def _parent_choices(event: Event | None) -> list[Event]:
    """The events this one can be part of: the organiser's other events that are not
    themselves sub-events (a programme is one level deep)."""
    me = await current_actor()
    if me is None:
        return []
    async with state().db.acquire() as conn:
        found = await queries.select_by_organizer(
            conn, state().urls.actor(me.username), limit=PARENT_CHOICES, public_only=False
        )
    return [
        candidate
        for candidate in found
        if candidate.local_actor_id == me.id
        and candidate.parent_uri is None
        and (event is None or candidate.id != event.id)
    ]


async def _form_page(event: Event | None, values: Any, *, error: str | None = None) -> str:
    by_place = error in POINT_ERRORS
    return await render_template(
        "event_form.html",
        event=event,
        error=message(error) if error and not by_place else None,
        place_error=message(error) if error and by_place else None,
        picker_center=await default_center(),
        values=values,
        categories=CATEGORIES,
        join_modes=JOIN_MODES,
        parents=await _parent_choices(event),
        max_upload_mib=max(1, state().settings.max_upload_bytes // (1024 * 1024)),
    )


@blueprint.get("/events/new")
async def new_event() -> str | WerkzeugResponse:
    """The form to organise an event."""
    if await current_actor() is None:
        return redirect(url_for("accounts.login", next=url_for("events.new_event")), 303)
    return await _form_page(None, {"timezone": "Europe/Paris", "join_mode": "free"})


async def _checked_upload() -> bytes:
    """The form's image file (empty when none was chosen), checked before anything is stored."""
    max_bytes = state().settings.max_upload_bytes
    upload = await read_upload(await request.files, "image_file", max_bytes=max_bytes)
    if upload:
        media.check_image(upload, max_bytes=max_bytes)
    return upload


async def _with_stored_image(
    conn: Connection, data: EventInput, upload: bytes, me: Actor
) -> EventInput:
    """The input with its image: an uploaded file (stored now; it wins over the address field),
    or one of our files named by its address (the edit form shows it), whose size is known."""
    app_state = state()
    settings = app_state.settings
    if upload:
        stored = await media.store_image(
            conn,
            upload,
            data_dir=settings.data_dir,
            uploaded_by=me.id,
            now=app_state.clock.now(),
            max_bytes=settings.max_upload_bytes,
            quota_bytes=settings.upload_quota_bytes_per_day,
        )
        return with_image(data, stored, app_state.urls)
    if data.image_url is not None:
        known = await media.local_media(conn, app_state.urls, data.image_url)
        if known is not None:
            return with_image(data, known, app_state.urls)
    return data


async def _create_or_update(
    conn: Connection,
    *,
    me: Actor,
    event: Event | None,
    data: EventInput,
    place: Territory | None,
    root: Territory | None,
) -> Event:
    """Organise a new event (`event` None) or change it."""
    app_state = state()
    urls, clock, keygen = app_state.urls, app_state.clock, app_state.keygen
    if event is None:
        return await events.create_event(
            conn, actor=me, data=data, place=place, root=root, urls=urls, clock=clock, keygen=keygen
        )
    return await events.update_event(
        conn,
        actor=me,
        event=event,
        data=data,
        place=place,
        root=root,
        urls=urls,
        clock=clock,
        keygen=keygen,
    )


async def _save(event: Event | None) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Organise (`event` None) or edit an event from the posted form."""
    me = await require_actor()
    if event is not None and event.local_actor_id != me.id:
        # Before an upload is stored for nothing.
        raise Problem(403, message("not_organizer"))
    form = await request.form
    wait = await posting_wait() if event is None else None
    if wait is not None:
        return too_fast(await _form_page(None, form, error="posting_too_fast"), wait)
    place = await resolve_place(form.get("territory", ""))
    if form.get("territory", "").strip() and place is None:
        return await _form_page(event, form, error="territory_unknown")
    root = await served_root()
    try:
        data = form_input(form)
        upload = await _checked_upload()
        async with state().db.acquire() as conn, conn.transaction():
            data = await _with_stored_image(conn, data, upload, me)
            saved = await _create_or_update(
                conn, me=me, event=event, data=data, place=place, root=root
            )
    except EventError as error:
        if error.code == "not_organizer":
            raise Problem(403, message(error.code)) from error
        return await _form_page(event, form, error=error.code)
    except MediaError as error:
        page = await _form_page(event, form, error=error.code)
        return page, _MEDIA_STATUS.get(error.code, 200)
    assert saved.token is not None
    return redirect(url_for("events.event_page", token=saved.token), 303)


@blueprint.route("/events/<token>/edit", methods=["GET", "POST"])
@accepts_uploads
async def edit(token: str) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The organiser's form to change an event, and saving it."""
    event = await _event(token)
    if request.method == "POST":
        return await _save(event)
    me = await require_actor()
    if me.id != event.local_actor_id:
        raise Problem(403, message("not_organizer"))
    return await _form_page(event, values_of(event))


@blueprint.post("/events/<token>/cancel")
async def cancel(token: str) -> WerkzeugResponse:
    """The organiser cancels the event."""
    event = await _event(token)
    me = await require_actor()
    app_state = state()
    async with app_state.db.acquire() as conn:
        place = (
            await territory_queries.select_territory_by_id(conn, event.territory_id)
            if event.territory_id is not None
            else None
        )
        try:
            await events.cancel_event(
                conn,
                actor=me,
                event=event,
                place=place,
                root=await served_root(),
                urls=app_state.urls,
                clock=app_state.clock,
                keygen=app_state.keygen,
            )
        except EventError as error:
            raise Problem(403, message(error.code)) from error
    return redirect(url_for("events.event_page", token=token), 303)


@blueprint.post("/events/<token>/delete")
async def delete(token: str) -> WerkzeugResponse:
    """The organiser deletes the event."""
    event = await _event(token)
    me = await require_actor()
    app_state = state()
    async with app_state.db.acquire() as conn:
        try:
            await events.delete_event(
                conn, actor=me, event=event, urls=app_state.urls, clock=app_state.clock
            )
        except EventError as error:
            raise Problem(403, message(error.code)) from error
    return redirect(url_for("social.home_feed"), 303)


@asynccontextmanager
async def _participation_change(event: Event) -> AsyncIterator[Connection]:
    """A connection in a transaction; a participation change made in it sends the new counts
    (participantCount and the companion poll's tallies) when they moved."""
    app_state = state()
    async with (
        app_state.db.acquire() as conn,
        conn.transaction(),
        poll.counts_published(conn, event, urls=app_state.urls, clock=app_state.clock),
    ):
        yield conn


@blueprint.post("/events/<token>/participate")
async def participate(token: str) -> WerkzeugResponse:
    """A local citizen takes part (the same rules as a federated Join)."""
    event = await _event(token)
    me = await require_actor()
    app_state = state()
    async with _participation_change(event) as conn:
        await participation.answer_join(
            conn,
            event=event,
            actor_uri=app_state.urls.actor(me.username),
            join=None,
            urls=app_state.urls,
            clock=app_state.clock,
        )
    return redirect(url_for("events.event_page", token=token), 303)


@blueprint.post("/events/<token>/leave")
async def leave(token: str) -> WerkzeugResponse:
    """A local citizen leaves the event, or its waiting list; the first in line takes a place
    that opens."""
    event = await _event(token)
    me = await require_actor()
    app_state = state()
    async with _participation_change(event) as conn:
        await participation.leave_event(
            conn,
            event=event,
            actor_uri=app_state.urls.actor(me.username),
            urls=app_state.urls,
            clock=app_state.clock,
        )
    return redirect(url_for("events.event_page", token=token), 303)


async def _organised(token: str) -> tuple[Event, str]:
    """The organiser's own event, and the actor a form of the attendees page names."""
    event = await _event(token)
    me = await require_actor()
    if me.id != event.local_actor_id:
        raise Problem(403, message("not_organizer"))
    actor = (await request.form).get("actor", "")
    if not actor or len(actor) > 2048:
        raise Problem(400, "actor names the participant")
    return event, actor


async def _decide(token: str) -> WerkzeugResponse:
    """The organiser approves or declines a pending participant."""
    event, actor = await _organised(token)
    form = await request.form
    app_state = state()
    async with _participation_change(event) as conn:
        await participation.decide_pending(
            conn,
            event=event,
            actor_uri=actor,
            approve=form.get("decision") == "approve",
            urls=app_state.urls,
            clock=app_state.clock,
        )
    return redirect(url_for("events.participants_page", token=token), 303)


@blueprint.post("/events/<token>/participants/remove")
async def remove(token: str) -> WerkzeugResponse:
    """The organiser takes a participant, or someone waiting, off the event."""
    event, actor = await _organised(token)
    app_state = state()
    async with _participation_change(event) as conn:
        await participation.remove(
            conn, event=event, actor_uri=actor, urls=app_state.urls, clock=app_state.clock
        )
    return redirect(url_for("events.participants_page", token=token), 303)
