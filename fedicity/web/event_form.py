"""The event form: what an organiser typed read into an `EventInput` (with the banner stored
here, if any), and an event's values put back into the form to edit it. No routes: web/events.py
serves the form."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from fedicity.activitypub.dates import format_form_time, parse_form_time
from fedicity.events import service as events
from fedicity.events.models import DEFAULT_TIMEZONE, Event, Location
from fedicity.events.service import EventError, EventInput
from fedicity.events.text import zone
from fedicity.media import service as media
from fedicity.media.models import Media
from fedicity.urls import Urls
from fedicity.web.forms import checked, degrees_text, point

# The most digits a capacity field may have (the service allows at most a million).
_CAPACITY_DIGITS = 7


def _local_time(raw: str, timezone: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    parsed = parse_form_time(raw, zone(timezone))
    if parsed is None:
        raise EventError("time_invalid", "bad time")
    return parsed


def _capacity(form: Any) -> int | None:
    raw = form.get("capacity", "").strip()
    if raw and not (raw.isascii() and raw.isdigit()):
        raise EventError("capacity_invalid", "bad capacity")
    if len(raw) > _CAPACITY_DIGITS:
        raise EventError("capacity_invalid", "bad capacity")
    return int(raw) if raw else None


def _text(form: Any, name: str) -> str | None:
    return form.get(name, "").strip()[:300] or None


def _location(form: Any) -> Location:
    picked = point(form)
    if isinstance(picked, str):
        raise EventError(picked, "bad coordinates")
    return Location(
        place_name=_text(form, "place_name"),
        street=_text(form, "street"),
        postal_code=_text(form, "postal_code"),
        locality=_text(form, "locality"),
        country=_text(form, "country"),
        latitude=picked[0],
        longitude=picked[1],
        online_url=_text(form, "online_url"),
    )


def form_input(form: Any) -> EventInput:
    """The organiser's form as an event's input (EventError for a time or capacity it cannot
    read; the service checks the rest)."""
    timezone = form.get("timezone", DEFAULT_TIMEZONE).strip() or DEFAULT_TIMEZONE
    all_day = checked(form, "all_day")
    start_raw = form.get("starts_at", "")
    end_raw = form.get("ends_at", "")
    if all_day:
        start_raw = start_raw[:10] + "T00:00" if start_raw else ""
        end_raw = end_raw[:10] + "T23:59" if end_raw else ""
    starts_at = _local_time(start_raw, timezone)
    if starts_at is None:
        raise EventError("time_invalid", "a start is needed")
    capacity = _capacity(form)
    return EventInput(
        title=form.get("title", ""),
        starts_at=starts_at,
        ends_at=_local_time(end_raw, timezone),
        description=form.get("description", ""),
        timezone=timezone,
        all_day=all_day,
        category=_text(form, "category"),
        tags=tuple(t.lstrip("#") for t in form.get("tags", "").replace(",", " ").split()),
        location=_location(form),
        capacity=capacity,
        join_mode=form.get("join_mode", "free"),
        waiting_list=checked(form, "waiting_list"),
        external_url=_text(form, "external_url"),
        status=form.get("status", "confirmed"),
        parent_uri=form.get("parent_uri", "").strip() or None,
        image_url=form.get("image_url", "").strip()[: events.MAX_IMAGE_URL + 1] or None,
    )


def with_image(data: EventInput, found: Media, urls: Urls) -> EventInput:
    """The input with one of our stored images as its banner (its address, type and size)."""
    return replace(
        data,
        image_url=media.url_of(urls, found),
        image_media_type=found.media_type,
        image_width=found.width,
        image_height=found.height,
    )


def values_of(event: Event) -> dict[str, str]:
    """An event's values as the edit form shows them."""
    tz = zone(event.timezone)
    loc = event.location
    return {
        "title": event.title,
        "description": event.description_source or "",
        "starts_at": format_form_time(event.starts_at, tz),
        "ends_at": format_form_time(event.ends_at, tz) if event.ends_at else "",
        "timezone": event.timezone,
        "all_day": "on" if event.all_day else "",
        "category": event.category or "",
        "tags": " ".join(event.tags),
        "place_name": loc.place_name or "",
        "street": loc.street or "",
        "postal_code": loc.postal_code or "",
        "locality": loc.locality or "",
        "country": loc.country or "",
        "latitude": degrees_text(loc.latitude),
        "longitude": degrees_text(loc.longitude),
        "online_url": loc.online_url or "",
        "capacity": str(event.capacity) if event.capacity is not None else "",
        "join_mode": event.join_mode,
        "waiting_list": "on" if event.waiting_list else "",
        "external_url": event.external_url or "",
        "image_url": event.image_url or "",
        "parent_uri": event.parent_uri or "",
        "territory": "",
    }
