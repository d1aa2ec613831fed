"""Local events: create, update, cancel and delete by their organiser; each publishes its
activity to the organiser's followers in the same transaction, and a public event located in a
served territory is announced by that territory's actors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.events import participation, poll, queries
from fedicity.events.document import event_activity, event_to_ap, tombstone
from fedicity.events.models import (
    CATEGORIES,
    JOIN_MODES,
    STATUSES,
    Event,
    EventData,
    JoinMode,
    Location,
    Status,
)
from fedicity.events.text import is_zone
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem, point_problem
from fedicity.sanitize import MAX_URL_LENGTH, html_to_text, safe_url
from fedicity.territories.models import Territory
from fedicity.territories.service import locate_and_announce, territory_actor
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls, new_token

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_DURATION = timedelta(days=366)
MAX_IMAGE_URL = MAX_URL_LENGTH
_TAG = re.compile(r"^[\w]{1,64}$")


class EventError(DomainError):
    """An event was refused; `code` says why."""


@dataclass(frozen=True)
class EventInput:
    """What an organiser fills in."""

    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    description: str = ""
    timezone: str = "Europe/Paris"
    all_day: bool = False
    category: str | None = None
    tags: tuple[str, ...] = ()
    location: Location = field(default_factory=Location)
    capacity: int | None = None
    join_mode: str = "free"
    waiting_list: bool = False
    external_url: str | None = None
    status: str = "confirmed"
    parent_uri: str | None = None
    image_url: str | None = None
    # Set with an uploaded image (then image_url is its absolute URL here).
    image_media_type: str | None = None
    image_width: int | None = None
    image_height: int | None = None


def check(data: EventInput) -> None:
    """Refuse what breaks a rule, with a code the web layer translates."""
    if not data.title.strip():
        raise EventError("title_missing", "an event needs a title")
    if len(data.title) > MAX_TITLE:
        raise EventError("title_too_long", f"a title has at most {MAX_TITLE} characters")
    if len(data.description) > MAX_DESCRIPTION:
        raise EventError("description_too_long", "the description is too long")
    if data.starts_at.tzinfo is None or (data.ends_at and data.ends_at.tzinfo is None):
        raise EventError("time_invalid", "times need a time zone")
    if data.ends_at is not None and data.ends_at < data.starts_at:
        raise EventError("ends_before_start", "an event cannot end before it starts")
    if data.ends_at is not None and data.ends_at - data.starts_at > MAX_DURATION:
        raise EventError("duration_too_long", "an event lasts at most a year")
    if not is_zone(data.timezone):
        raise EventError("timezone_invalid", "unknown time zone")
    if data.category is not None and data.category not in CATEGORIES:
        raise EventError("category_invalid", "unknown category")
    if data.join_mode not in JOIN_MODES:
        raise EventError("join_mode_invalid", "unknown join mode")
    if data.status not in STATUSES:
        raise EventError("status_invalid", "unknown status")
    if data.capacity is not None and not 0 < data.capacity <= 1_000_000:
        raise EventError("capacity_invalid", "the capacity is a positive number")
    if data.join_mode == "external" and safe_url(data.external_url) is None:
        raise EventError("external_url_missing", "external participation needs a web address")
    if data.location.online_url and safe_url(data.location.online_url) is None:
        raise EventError("online_url_invalid", "the online address must be a web address")
    if data.image_url is not None and safe_url(data.image_url) is None:
        raise EventError("image_url_invalid", "the image is a web address (http or https)")
    problem = point_problem(data.location.latitude, data.location.longitude)
    if problem is not None:
        raise EventError(problem, "a place is a latitude and a longitude in degrees")
    if not data.location.has_place and not data.location.online_url:
        raise EventError("location_missing", "an event needs a place or an online address")
    for tag in data.tags:
        if not _TAG.match(tag):
            raise EventError("tag_invalid", "tags are single words")


async def _check_parent(
    conn: Connection, *, actor: Actor, parent_uri: str | None, event: Event | None
) -> None:
    """A programme is one level deep and groups events of one organiser: the parent is another
    live event of the same organiser, not itself a sub-event, and a parent stays a parent."""
    if parent_uri is None:
        return
    parent = await queries.select_event(conn, parent_uri)
    if (
        parent is None
        or parent.local_actor_id != actor.id
        or parent.deleted_at is not None
        or parent.parent_uri is not None
        or (event is not None and parent.id == event.id)
    ):
        raise EventError("parent_invalid", "a programme groups the organiser's events")
    if event is not None and await queries.select_children(conn, event.id):
        raise EventError("parent_invalid", "an event with a programme cannot be in another")


def _data(
    data: EventInput,
    *,
    actor: Actor,
    urls: Urls,
    token: str,
    now: datetime,
    place: Territory | None,
) -> EventData:
    uri = urls.event(token)
    join_mode: JoinMode = data.join_mode  # type: ignore[assignment]
    status: Status = data.status  # type: ignore[assignment]
    location = data.location
    if place is not None and location.latitude is None:
        location = replace(location, latitude=place.latitude, longitude=place.longitude)
    return EventData(
        uri=uri,
        token=token,
        local_actor_id=actor.id,
        organizer_uri=urls.actor(actor.username),
        title=data.title.strip(),
        description_source=data.description,
        description_html=render_markdown(data.description),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        all_day=data.all_day,
        category=data.category,
        tags=tuple(dict.fromkeys(t.lower() for t in data.tags)),
        location=location,
        capacity=data.capacity,
        join_mode=join_mode,
        waiting_list=data.waiting_list,
        external_url=data.external_url if join_mode == "external" else None,
        status=status,
        parent_uri=data.parent_uri,
        image_url=data.image_url,
        image_media_type=data.image_media_type if data.image_url else None,
        image_width=data.image_width if data.image_url else None,
        image_height=data.image_height if data.image_url else None,
        territory_id=place.id if place else None,
        url=uri,
        published=now,
    )


def _located_item(event: Event, urls: Urls, place: Territory) -> NewItem:
    """The event as an item located in its territory."""
    return NewItem(
        object_uri=event.uri,
        kind="event",
        territory_id=place.id,
        title=event.title,
        summary=html_to_text(event.description_html)[:500],
        url=event.uri,
        author_uri=event.organizer_uri,
        origin_host=host_of(urls.base),
        published=event.published,
        latitude=event.location.latitude,
        longitude=event.location.longitude,
        starts_at=event.starts_at,
    )


async def _publish_event(
    conn: Connection,
    *,
    actor: Actor,
    event: Event,
    kind: str,
    place: Territory | None,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> dict[str, Any]:
    place_actor = await territory_actor(conn, place, keygen=keygen) if place else None
    audience_uri = urls.actor(place_actor.username) if place_actor else None
    count = await queries.count_participants(conn, event.id)
    document = event_to_ap(
        event, urls, participant_count=count, audience_uri=audience_uri, with_context=False
    )
    activity = event_activity(
        kind,
        event,
        urls,
        id=urls.create_activity(event.uri) if kind == "Create" else urls.activity(new_token()),
        object=document,
        audience_uri=audience_uri,
        published=document["published"],
    )
    await publish(
        conn,
        actor=actor,
        activity=activity,
        audience=Audience(followers=True),
        urls=urls,
        clock=clock,
    )
    if place is not None:
        await locate_and_announce(
            conn,
            item=_located_item(event, urls, place),
            activity_uri=activity["id"],
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
    return activity


def _check_organizer(actor: Actor) -> None:
    if actor.kind not in ("person", "organization"):
        raise EventError("not_organizer", "only citizens and organisations organise events")


async def create_event(
    conn: Connection,
    *,
    actor: Actor,
    data: EventInput,
    place: Territory | None,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> Event:
    """Create an event: stored, its Create published, located and announced, in one transaction."""
    _check_organizer(actor)
    check(data)
    token = new_token()
    async with conn.transaction():
        await _check_parent(conn, actor=actor, parent_uri=data.parent_uri, event=None)
        stored = await queries.upsert_event(
            conn, _data(data, actor=actor, urls=urls, token=token, now=clock.now(), place=place)
        )
        assert stored is not None
        await _publish_event(
            conn,
            actor=actor,
            event=stored,
            kind="Create",
            place=place,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
        await poll.publish_poll(
            conn, actor=actor, event=stored, kind="Create", urls=urls, clock=clock
        )
    return stored


async def update_event(
    conn: Connection,
    *,
    actor: Actor,
    event: Event,
    data: EventInput,
    place: Territory | None,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> Event:
    """Edit an event (only its organiser): Update published, location refreshed."""
    if event.local_actor_id != actor.id or event.token is None:
        raise EventError("not_organizer", "only the organiser can change an event")
    if event.deleted_at is not None:
        raise EventError("deleted", "this event was deleted")
    check(data)
    async with conn.transaction():
        await _check_parent(conn, actor=actor, parent_uri=data.parent_uri, event=event)
        new = _data(data, actor=actor, urls=urls, token=event.token, now=clock.now(), place=place)
        new = replace(new, published=event.published, updated=clock.now())
        stored = await queries.upsert_event(conn, new)
        assert stored is not None
        if place is None and event.territory_id is not None:
            await located_queries.mark_deleted(conn, event.uri, clock.now())
        # A raised capacity gives its new places to those waiting, before the new count goes out.
        await participation.promote_waiting(conn, event=stored, urls=urls, clock=clock)
        await _publish_event(
            conn,
            actor=actor,
            event=stored,
            kind="Update",
            place=place,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
        await poll.publish_poll(
            conn, actor=actor, event=stored, kind="Update", urls=urls, clock=clock
        )
    return stored


def input_of(event: Event) -> EventInput:
    """The form values of an existing event."""
    return EventInput(
        title=event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        description=event.description_source or "",
        timezone=event.timezone,
        all_day=event.all_day,
        category=event.category,
        tags=event.tags,
        location=event.location,
        capacity=event.capacity,
        join_mode=event.join_mode,
        waiting_list=event.waiting_list,
        external_url=event.external_url,
        status=event.status,
        parent_uri=event.parent_uri,
        image_url=event.image_url,
        image_media_type=event.image_media_type,
        image_width=event.image_width,
        image_height=event.image_height,
    )


async def cancel_event(
    conn: Connection,
    *,
    actor: Actor,
    event: Event,
    place: Territory | None,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> Event:
    """Cancel: an Update with ical:status CANCELLED (the event stays visible, marked)."""
    return await update_event(
        conn,
        actor=actor,
        event=event,
        data=replace(input_of(event), status="cancelled"),
        place=place,
        root=root,
        urls=urls,
        clock=clock,
        keygen=keygen,
    )


async def delete_event(
    conn: Connection, *, actor: Actor, event: Event, urls: Urls, clock: Clock
) -> None:
    """Delete: tombstoned here, Delete{Tombstone} to the followers, unlocated."""
    if event.local_actor_id != actor.id:
        raise EventError("not_organizer", "only the organiser can delete an event")
    async with conn.transaction():
        if not await queries.mark_deleted(conn, event.uri, event.organizer_uri, clock.now()):
            raise EventError("deleted", "this event was deleted")
        await located_queries.mark_deleted(conn, event.uri, clock.now())
        await publish(
            conn,
            actor=actor,
            activity=event_activity(
                "Delete",
                event,
                urls,
                id=urls.activity(new_token()),
                object=tombstone(event.uri, "Event"),
            ),
            audience=Audience(followers=True),
            urls=urls,
            clock=clock,
        )
        await poll.publish_poll(
            conn, actor=actor, event=event, kind="Delete", urls=urls, clock=clock
        )
