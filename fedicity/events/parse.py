"""Remote `Event`s (FEP-8a8e + Mobilizon's vocabulary, Gancio's plainer shapes) read tolerantly
into our columns, and the votes Mastodon sends to a companion poll. Pure: no database, no network.
Our own events are written by `events.document`; the handlers are in `events.inbound`."""

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
    get_str,
    get_type,
    get_web_url,
    host_of,
    is_public,
)
from fedicity.activitypub.dates import parse_datetime
from fedicity.events.models import (
    CATEGORIES,
    DEFAULT_TIMEZONE,
    JOIN_MODES,
    EventData,
    JoinMode,
    Location,
    Status,
)
from fedicity.events.text import is_zone
from fedicity.sanitize import html_to_text, safe_url, sanitize_html
from fedicity.textfmt import plain_to_html, render_markdown

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


def _refusal(uri: str, document: Mapping[str, Any], organizer: str) -> str | None:
    """Why a document with this id cannot be taken as the organiser's event, if it cannot."""
    if safe_url(uri) is None:
        return "the event's id is not an http(s) URL"
    if get_type(document) != "Event":
        return "the object is not an Event"
    if host_of(uri) != host_of(organizer):
        return "the event is not on its organiser's host"
    return None


def _description(document: Mapping[str, Any]) -> str:
    """The description as our HTML: Markdown source first, else sanitized HTML, else plain text."""
    source = document.get("source")
    content = get_str(document, "content") or ""
    if (
        isinstance(source, Mapping)
        and get_str(source, "mediaType") == "text/markdown"
        and isinstance(source.get("content"), str)
    ):
        return render_markdown(str(source["content"])[:MAX_DESCRIPTION])
    if "<" in content:
        return sanitize_html(content[:MAX_DESCRIPTION])
    return plain_to_html(content[:MAX_DESCRIPTION])  # Gancio sends plain text with newlines


def _tags(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The hashtags' names, lower case without '#', first 50 distinct."""
    return tuple(
        dict.fromkeys(
            name.strip().lstrip("#").lower()
            for tag in as_list(document.get("tag"))
            if isinstance(tag, Mapping)
            and get_type(tag) == "Hashtag"
            and isinstance(name := tag.get("name"), str)
            and name.strip().lstrip("#")
        )
    )[:50]


def _where(document: Mapping[str, Any]) -> tuple[Location, bool]:
    """The location (an online link attachment as its online address when it names none), and
    whether its coordinates came swapped."""
    location, swapped = _location(document.get("location"))
    if location.online_url is None:
        location = replace(location, online_url=_online_link(document))
    return location, swapped


def _timezone(document: Mapping[str, Any]) -> str:
    timezone = get_str(document, "timezone")
    return timezone if timezone and is_zone(timezone) else DEFAULT_TIMEZONE


def _category(document: Mapping[str, Any]) -> str | None:
    category = get_str(document, "category")
    return category.upper() if category and category.upper() in CATEGORIES else None


def _join_mode(document: Mapping[str, Any]) -> JoinMode:
    raw = get_str(document, "joinMode")
    return next((mode for mode in JOIN_MODES if mode == raw), "free")


def event_from_ap(document: Mapping[str, Any], *, organizer: str, now: datetime) -> EventData | str:
    """A remote event's columns, or the reason it cannot be stored."""
    uri = get_id(document)
    if uri is None:
        return "the event has no id"
    refusal = _refusal(uri, document, organizer)
    if refusal is not None:
        return refusal
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
    location, swapped = _where(document)
    to, _cc = audience(document)
    return EventData(
        uri=uri,
        organizer_uri=organizer,
        title=title,
        description_html=_description(document),
        starts_at=starts_at,
        ends_at=ends_at,
        published=parse_datetime(document.get("published")) or now,
        timezone=_timezone(document),
        all_day=document.get("allDay") is True,
        category=_category(document),
        tags=_tags(document),
        image_url=_image(document),
        location=location,
        coordinates_swapped=swapped,
        capacity=_capacity(document.get("maximumAttendeeCapacity")),
        join_mode=_join_mode(document),
        external_url=safe_url(get_str(document, "externalParticipationUrl")),
        status=_status(document),
        parent_uri=get_id(document.get("superEvent")),
        url=get_web_url(document.get("url")),
        public=any(is_public(address) for address in to),
        remote_participant_count=_capacity(document.get("participantCount")),
        raw=dict(document),
        updated=parse_datetime(document.get("updated")),
    )


def vote_target(document: Mapping[str, Any]) -> str | None:
    """The poll a Mastodon-shaped vote answers (a Note with a name, no content)."""
    if get_type(document) != "Note":
        return None
    if get_str(document, "content") or not get_str(document, "name"):
        return None
    return get_id(document.get("inReplyTo"))
