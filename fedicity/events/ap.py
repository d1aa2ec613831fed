"""Remote `Event`s (FEP-8a8e + Mobilizon's vocabulary) read tolerantly, and the inbound handlers:
Create/Update/Delete of remote events, Join/Leave of ours, Accept/Reject of our Joins. Our own
events are written by `events.document`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import (
    as_list,
    audience,
    get_id,
    get_object,
    get_str,
    get_type,
    get_web_url,
    host_of,
    is_public,
)
from fedicity.activitypub.dates import parse_datetime
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.events import participation, poll, queries
from fedicity.events.models import (
    CATEGORIES,
    DEFAULT_TIMEZONE,
    JOIN_MODES,
    Event,
    EventData,
    JoinMode,
    Location,
    Status,
)
from fedicity.events.text import is_zone, render_markdown
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.sanitize import html_to_text, safe_url, sanitize_html
from fedicity.territories import queries as territory_queries
from fedicity.textfmt import plain_to_html

MAX_TITLE = 300
MAX_DESCRIPTION = 100_000
_FEP_STATUS: dict[str, Status] = {
    "EventScheduled": "confirmed",
    "EventRescheduled": "confirmed",
    "EventPostponed": "tentative",
    "EventTentative": "tentative",
    "EventMovedOnline": "confirmed",
    "EventCancelled": "cancelled",
}


# --- reading remote events ---------------------------------------------------------------------


def _text(value: Any, limit: int = 300) -> str | None:
    if not isinstance(value, str):
        return None
    text = html_to_text(value).strip() if "<" in value else " ".join(value.split())
    return text[:limit] or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)  # an int past float's range overflows
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def coordinates(latitude: Any, longitude: Any) -> tuple[float | None, float | None, bool]:
    """(latitude, longitude, swapped): a pair that only makes sense swapped is swapped back;
    a pair that makes no sense either way is dropped."""
    lat, lon = _number(latitude), _number(longitude)
    if lat is None or lon is None:
        return None, None, False
    if abs(lat) <= 90 and abs(lon) <= 180:
        return lat, lon, False
    if abs(lon) <= 90 and abs(lat) <= 180:
        return lon, lat, True
    return None, None, False


def _location(value: Any) -> tuple[Location, bool]:
    place: Mapping[str, Any] | None = None
    online: str | None = None
    for candidate in as_list(value):
        if isinstance(candidate, str) and place is None:
            place = {"name": candidate}
        elif isinstance(candidate, Mapping):
            kind = get_type(candidate)
            if kind == "VirtualLocation":
                online = online or get_web_url(candidate.get("url"))
            elif place is None:
                # Gancio sends {"name": ...} with no type at all.
                place = candidate
    if place is None:
        return Location(online_url=online), False
    address = place.get("address")
    fields: dict[str, str | None] = {}
    if isinstance(address, Mapping):
        for key, column in (
            ("streetAddress", "street"),
            ("postalCode", "postal_code"),
            ("addressLocality", "locality"),
            ("addressRegion", "region"),
            ("addressCountry", "country"),
        ):
            raw = address.get(key)
            if isinstance(raw, Mapping):  # schema.org allows a Country object
                raw = raw.get("name")
            fields[column] = _text(raw, 200)
    elif isinstance(address, str):
        fields["street"] = _text(address, 200)
    lat, lon, swapped = coordinates(place.get("latitude"), place.get("longitude"))
    return (
        Location(
            place_name=_text(place.get("name"), 200),
            latitude=lat,
            longitude=lon,
            online_url=online,
            **fields,
        ),
        swapped,
    )


def _online_link(document: Mapping[str, Any]) -> str | None:
    for item in as_list(document.get("attachment")):
        if isinstance(item, Mapping) and get_type(item) == "Link":
            href = safe_url(get_str(item, "href"))
            if href is not None:
                return href
    return None


def _image(document: Mapping[str, Any]) -> str | None:
    for item in [*as_list(document.get("image")), *as_list(document.get("attachment"))]:
        if not isinstance(item, Mapping):
            continue
        media = get_str(item, "mediaType") or ""
        if get_type(item) == "Image" or media.startswith("image/"):
            url = get_web_url(item.get("url")) or safe_url(get_str(item, "href"))
            if url is not None:
                return url
    return None


def _status(document: Mapping[str, Any]) -> Status:
    raw = document.get("ical:status") or document.get("status")
    if isinstance(raw, str) and raw.lower() in ("confirmed", "tentative", "cancelled"):
        found: Status = raw.lower()  # type: ignore[assignment]
        return found
    fep = document.get("eventStatus")
    if isinstance(fep, str):
        return _FEP_STATUS.get(fep.rsplit("/", 1)[-1], "confirmed")
    return "confirmed"


def _capacity(value: Any) -> int | None:
    number = _number(value)
    if number is None or number < 0 or number != int(number) or number > 10_000_000:
        return None
    return int(number)


def event_from_ap(document: Mapping[str, Any], *, organizer: str, now: datetime) -> EventData | str:
    """A remote event's columns, or the reason it cannot be stored."""
    uri = get_id(document)
    if uri is None:
        return "the event has no id"
    if safe_url(uri) is None:
        return "the event's id is not an http(s) URL"
    if get_type(document) != "Event":
        return "the object is not an Event"
    if host_of(uri) != host_of(organizer):
        return "the event is not on its organiser's host"
    starts_at = parse_datetime(document.get("startTime"))
    if starts_at is None:
        return "the event has no valid startTime"
    # Mobilizon's early payloads have no endTime: kept unknown rather than invented.
    ends_at = parse_datetime(document.get("endTime"))
    if ends_at is not None and ends_at < starts_at:
        ends_at = None
    title = _text(document.get("name"), MAX_TITLE)
    if title is None:
        return "the event has no name"
    timezone = get_str(document, "timezone")
    if not timezone or not is_zone(timezone):
        timezone = DEFAULT_TIMEZONE
    source = document.get("source")
    content = get_str(document, "content") or ""
    if (
        isinstance(source, Mapping)
        and get_str(source, "mediaType") == "text/markdown"
        and isinstance(source.get("content"), str)
    ):
        description = render_markdown(str(source["content"])[:MAX_DESCRIPTION])
    elif "<" in content:
        description = sanitize_html(content[:MAX_DESCRIPTION])
    else:  # Gancio sends plain text with newlines
        description = plain_to_html(content[:MAX_DESCRIPTION])
    location, swapped = _location(document.get("location"))
    if location.online_url is None:
        location = replace(location, online_url=_online_link(document))
    category = get_str(document, "category")
    category = category.upper() if category and category.upper() in CATEGORIES else None
    join_mode_raw = get_str(document, "joinMode")
    join_mode: JoinMode = next((mode for mode in JOIN_MODES if mode == join_mode_raw), "free")
    tags = tuple(
        dict.fromkeys(
            name.strip().lstrip("#").lower()
            for tag in as_list(document.get("tag"))
            if isinstance(tag, Mapping)
            and get_type(tag) == "Hashtag"
            and isinstance(name := tag.get("name"), str)
            and name.strip().lstrip("#")
        )
    )[:50]
    to, _cc = audience(document)
    count = _capacity(document.get("participantCount"))
    return EventData(
        uri=uri,
        organizer_uri=organizer,
        title=title,
        description_html=description,
        starts_at=starts_at,
        ends_at=ends_at,
        published=parse_datetime(document.get("published")) or now,
        timezone=timezone,
        all_day=document.get("allDay") is True,
        category=category,
        tags=tags,
        image_url=_image(document),
        location=location,
        coordinates_swapped=swapped,
        capacity=_capacity(document.get("maximumAttendeeCapacity")),
        join_mode=join_mode,
        external_url=safe_url(get_str(document, "externalParticipationUrl")),
        status=_status(document),
        parent_uri=get_id(document.get("superEvent")),
        url=get_web_url(document.get("url")),
        public=any(is_public(uri) for uri in to),
        remote_participant_count=count,
        raw=dict(document),
        updated=parse_datetime(document.get("updated")),
    )


# --- inbound handlers --------------------------------------------------------------------------


async def _served_territory_for(ctx: InboundContext, data: EventData) -> int | None:
    """A served commune matching the event's postal code (served = it has a territory actor)."""
    code = data.location.postal_code
    if not code or not code.strip().isdigit():
        return None
    for territory in await territory_queries.search_territories(ctx.conn, code.strip(), limit=5):
        if territory.level not in ("commune", "quartier"):
            continue
        if await actor_queries.select_territory_actor(ctx.conn, territory.id) is not None:
            return territory.id
    return None


async def _relevant(ctx: InboundContext, data: EventData) -> bool:
    local_prefix = ctx.urls.actor("")
    raw = data.raw or {}
    to, cc = audience(raw)
    if any(uri.startswith(local_prefix) for uri in (*to, *cc)):
        return True
    if await follow_queries.select_local_followers_of(ctx.conn, data.organizer_uri, local_prefix):
        return True
    return data.territory_id is not None


async def _store(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome:
    organizer = get_id(document.get("attributedTo")) or ctx.actor_uri
    if organizer != ctx.actor_uri:
        return Outcome.ignored("the event's organiser is not the activity's actor")
    if host_of(get_id(document) or "") == host_of(ctx.urls.base):
        return Outcome.ignored("a remote actor cannot write our events")
    data = event_from_ap(document, organizer=organizer, now=ctx.clock.now())
    if isinstance(data, str):
        return Outcome.ignored(data)
    if not data.public:
        return Outcome.ignored("only public events are kept (FEP-8a8e calendars)")
    data = replace(data, territory_id=await _served_territory_for(ctx, data))
    if not await _relevant(ctx, data):
        return Outcome.ignored("nobody here follows the organiser and the event is elsewhere")
    stored = await queries.upsert_event(ctx.conn, data)
    if stored is None:
        return Outcome.ignored("only the organiser can change an event")
    if stored.territory_id is not None:
        await located_queries.upsert_item(
            ctx.conn,
            NewItem(
                object_uri=stored.uri,
                kind="event",
                territory_id=stored.territory_id,
                title=stored.title,
                summary=html_to_text(stored.description_html)[:500],
                url=stored.url or stored.uri,
                author_uri=stored.organizer_uri,
                origin_host=host_of(stored.uri),
                published=stored.published,
                latitude=stored.location.latitude,
                longitude=stored.location.longitude,
                starts_at=stored.starts_at,
            ),
        )
    return Outcome.done()


async def _embedded_or_fetched(
    ctx: InboundContext, activity: Mapping[str, Any]
) -> Mapping[str, Any] | str:
    document = get_object(activity)
    if document is not None:
        return document
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return "the activity has no object"
    fetched = await ctx.directory.fetcher.document(object_uri)
    if isinstance(fetched, FetchError):
        return f"cannot fetch {object_uri}: {fetched.detail}"
    return fetched.document


async def on_create_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote event: kept when someone here follows its organiser or it is in our territory."""
    document = await _embedded_or_fetched(ctx, activity)
    if isinstance(document, str):
        return Outcome.ignored(document)
    return await _store(ctx, document)


async def on_update_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """An edited or cancelled remote event: replaced only when its organiser sends it."""
    document = get_object(activity)
    if document is None:
        return Outcome.ignored("the Update does not embed the event")
    existing = await queries.select_event(ctx.conn, get_id(document) or "")
    if existing is not None and existing.organizer_uri != ctx.actor_uri:
        return Outcome.ignored("only the organiser can update an event")
    return await _store(ctx, document)


async def delete_stored_event(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of one of our stored events (by bare id or Tombstone): tombstoned when the
    activity's actor is its organiser, refused otherwise; None when no event has that id."""
    existing = await queries.select_event(ctx.conn, object_uri)
    if existing is None:
        return None
    if existing.organizer_uri != ctx.actor_uri or existing.is_local:
        return Outcome.ignored("only the organiser can delete an event")
    await queries.mark_deleted(ctx.conn, object_uri, ctx.actor_uri, ctx.clock.now())
    await located_queries.mark_deleted(ctx.conn, object_uri, ctx.clock.now())
    return Outcome.done()


async def _local_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Event | None:
    event_uri = get_id(activity.get("object"))
    if event_uri is None:
        return None
    event = await queries.select_event(ctx.conn, event_uri)
    return event if event is not None and event.is_local else None


async def on_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Join{Event}: answered with Accept, Reject, or kept pending for the organiser."""
    event = await _local_event(ctx, activity)
    if event is None:
        return Outcome.ignored("the joined event is not one of ours")
    if get_id(activity.get("actor")) != ctx.actor_uri:
        return Outcome.ignored("the Join's actor is not its signer")
    async with poll.counts_published(ctx.conn, event, urls=ctx.urls, clock=ctx.clock):
        state = await participation.answer_join(
            ctx.conn,
            event=event,
            actor_uri=ctx.actor_uri,
            join=activity,
            urls=ctx.urls,
            clock=ctx.clock,
        )
    return Outcome.done(state)


async def on_leave(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Leave{Event}: the participant's place is freed."""
    event = await _local_event(ctx, activity)
    if event is None:
        return Outcome.ignored("the event left is not one of ours")
    async with poll.counts_published(ctx.conn, event, urls=ctx.urls, clock=ctx.clock):
        left = await participation.leave(
            ctx.conn, event=event, actor_uri=ctx.actor_uri, now=ctx.clock.now()
        )
    return Outcome.done() if left else Outcome.ignored("this actor does not take part")


async def _answer_to_our_join(
    ctx: InboundContext, activity: Mapping[str, Any], state: str
) -> Outcome:
    join = get_object(activity)
    if join is None:
        return Outcome.ignored("the answer does not embed the Join")
    participant = get_id(join.get("actor")) or ""
    event = await queries.select_event(ctx.conn, get_id(join.get("object")) or "")
    if event is None or event.is_local or event.organizer_uri != ctx.actor_uri:
        return Outcome.ignored("no Join of ours to an event of this organiser")
    if not participant.startswith(ctx.urls.actor("")):
        return Outcome.ignored("the Join is not from a local actor")
    found = await queries.select_participation(ctx.conn, event.id, participant)
    if found is None or found.state not in ("pending", "accepted"):
        return Outcome.ignored("no pending Join of this actor")
    await queries.set_participation(
        ctx.conn,
        event_id=event.id,
        actor_uri=participant,
        state=state,
        join_uri=None,
        now=ctx.clock.now(),
    )
    return Outcome.done(state)


async def on_accept_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Accept{Join}: a remote organiser accepted a local actor."""
    return await _answer_to_our_join(ctx, activity, "accepted")


async def on_reject_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Reject{Join}: a remote organiser refused a local actor."""
    return await _answer_to_our_join(ctx, activity, "rejected")


def register(router: Router[InboundContext]) -> None:
    """Add the event handlers to the routing table."""
    router.register("Create", "Event")(on_create_event)
    router.register("Update", "Event")(on_update_event)
    router.register("Join")(on_join)
    router.register("Leave")(on_leave)
    router.register("Accept", "Join")(on_accept_join)
    router.register("Reject", "Join")(on_reject_join)
