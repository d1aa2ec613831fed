"""iCalendar (RFC 5545) for an event, an organiser's agenda and a territory's agenda."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import icalendar

from fedicity.events.models import Event
from fedicity.events.text import zone
from fedicity.sanitize import html_to_text, safe_url

PRODID = "-//fedicity//events//FR"
_STATUS = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}


def vevent(event: Event, *, stamp: datetime) -> icalendar.Event:
    """One VEVENT: times in the event's zone (TZID), or dates for all-day events."""
    component = icalendar.Event()
    # The id never changes, so an edit replaces the event in a subscribed calendar; SEQUENCE
    # tells it the copy it holds is older.
    component.add("uid", event.uri)
    component.add("dtstamp", stamp)
    component.add("sequence", event.sequence)
    component.add("summary", event.title)
    tz = zone(event.timezone)
    start = event.starts_at.astimezone(tz)
    if event.all_day:
        component.add("dtstart", start.date())
        last = event.ends_at.astimezone(tz).date() if event.ends_at else start.date()
        component.add("dtend", last + timedelta(days=1))  # DTEND of a date is exclusive
    else:
        component.add("dtstart", start)
        if event.ends_at is not None:
            component.add("dtend", event.ends_at.astimezone(tz))
    description = html_to_text(event.description_html)
    if description:
        component.add("description", description)
    where = event.location.one_line() or event.location.online_url
    if where:
        component.add("location", where)
    if event.location.latitude is not None and event.location.longitude is not None:
        component.add("geo", (event.location.latitude, event.location.longitude))
    component.add("status", _STATUS[event.status])
    # Calendar apps show URL as a link: rows from before URLs were checked may hold a script.
    link = safe_url(event.url) or safe_url(event.uri)
    if link is not None:
        component.add("url", link)
    if event.category:
        component.add("categories", [event.category, *event.tags])
    elif event.tags:
        component.add("categories", list(event.tags))
    if event.updated is not None:
        component.add("last-modified", event.updated)
    return component


def calendar(events: Iterable[Event], *, name: str, stamp: datetime) -> bytes:
    """A VCALENDAR with the events and the VTIMEZONEs their TZIDs need."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(vevent(event, stamp=stamp))
    cal.add_missing_timezones()
    body: bytes = cal.to_ical()
    return body
