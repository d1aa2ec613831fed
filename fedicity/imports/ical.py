"""An iCalendar feed (RFC 5545) read into plain occurrences, pure: every VEVENT becomes one
FeedEvent, or, when it recurs (RRULE, RDATE), one per occurrence in the coming months
(recurring-ical-events expands them: exceptions, overrides and time zones done right).

A feed is hostile: a row that cannot be read (no UID, a date out of range, an end before its
start) is skipped with its reason; only a feed that cannot be read at all, or holds too much,
is refused whole.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

from fedicity.imports.models import FeedEvent, FeedRefused, ParsedFeed, Skipped
from fedicity.imports.text import (
    MAX_EVENTS,
    MAX_OCCURRENCES,
    Window,
    bounded_times,
    clean_line,
    clean_text,
    external_id_problem,
    zone_name,
)
from fedicity.sanitize import safe_url

# Rules that would make thousands of rows in a few months: a calendar of meetings has none.
_TOO_FREQUENT = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_READ_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def parse_ical(text: str, *, window: Window) -> ParsedFeed | FeedRefused:
    """The occurrences of a VCALENDAR, or why the whole feed is refused."""
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        return FeedRefused("not_icalendar", "no BEGIN:VCALENDAR at the start of the feed")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except _READ_ERRORS as error:
        return FeedRefused("unreadable", f"not iCalendar: {str(error)[:200]}")
    if not isinstance(calendar, icalendar.Calendar):
        return FeedRefused("unreadable", "the feed holds no VCALENDAR")
    components = list(calendar.walk("VEVENT"))
    if len(components) > MAX_EVENTS:
        return FeedRefused("too_many_events", f"{len(components)} events, at most {MAX_EVENTS}")
    timezones = list(calendar.walk("VTIMEZONE"))
    events: list[FeedEvent] = []
    skipped: list[Skipped] = []
    recurring: dict[str, list[Any]] = {}
    for position, component in enumerate(components, start=1):
        uid = clean_line(str(component.get("UID", "")), limit=None)
        problem = external_id_problem(uid)
        if problem is not None:
            skipped.append(Skipped(position, None, problem))
            continue
        if component.get("RRULE") is not None or component.get("RDATE") is not None:
            recurring.setdefault(uid, []).append(component)
            continue
        if component.get("RECURRENCE-ID") is not None:
            # An override of a recurring event's occurrence: read with its series.
            recurring.setdefault(uid, []).append(component)
            continue
        read = _occurrence(component, uid, position, window)
        if isinstance(read, Skipped):
            skipped.append(read)
        elif read is not None:
            events.append(read)
    for uid, series in recurring.items():
        occurrences = _expand(uid, series, timezones, len(events), window)
        if isinstance(occurrences, Skipped):
            skipped.append(occurrences)
        else:
            events.extend(occurrences)
        if len(events) > MAX_EVENTS:
            return FeedRefused("too_many_events", f"more than {MAX_EVENTS} occurrences")
    return ParsedFeed("ical", tuple(events), tuple(skipped))


def _expand(
    uid: str, series: list[Any], timezones: list[Any], position: int, window: Window
) -> list[FeedEvent] | Skipped:
    """The occurrences of one recurring series within the window, or why it was left out."""
    for component in series:
        rule = component.get("RRULE")
        rules = rule if isinstance(rule, list) else [rule] if rule is not None else []
        for one in rules:
            if any(str(f).upper() in _TOO_FREQUENT for f in one.get("FREQ", [])):
                return Skipped(position + 1, uid, "recurrence_too_frequent")
    alone = icalendar.Calendar()
    for timezone in timezones:
        alone.add_component(timezone)
    for component in series:
        alone.add_component(component)
    found: list[FeedEvent] = []
    try:
        query = recurring_ical_events.of(alone)
        for occurrence in query.after(window.earliest_end):
            start = occurrence.decoded("DTSTART")
            if _as_datetime(start, window) > window.recurrences_until:
                break
            if len(found) >= MAX_OCCURRENCES:
                break
            recurrence = occurrence.get("RECURRENCE-ID")
            key = recurrence.to_ical().decode() if recurrence is not None else str(start)
            read = _occurrence(occurrence, f"{uid}#{key}"[:1000], position + len(found) + 1, window)
            if isinstance(read, FeedEvent):
                found.append(read)
    except _READ_ERRORS as error:
        return Skipped(position + 1, uid, f"recurrence_unreadable: {str(error)[:200]}")
    return found


def _as_datetime(value: Any, window: Window) -> datetime:
    """A DTSTART value as an aware moment (a date at midnight, a floating time in the zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=window.zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), window.zone)
    raise ValueError(f"not a date: {type(value).__name__}")


def _occurrence(
    component: Any, external_id: str, position: int, window: Window
) -> FeedEvent | Skipped | None:
    """One VEVENT (or occurrence) read, skipped with its reason, or None when long over."""
    try:
        raw_start = component.decoded("DTSTART")
    except _READ_ERRORS:
        return Skipped(position, external_id, "start_unreadable")
    try:
        raw_end = component.decoded("DTEND") if component.get("DTEND") is not None else None
        if raw_end is None and component.get("DURATION") is not None:
            duration = component.decoded("DURATION")
            raw_end = raw_start + duration if isinstance(duration, timedelta) else None
    except _READ_ERRORS:
        return Skipped(position, external_id, "end_unreadable")
    all_day = isinstance(raw_start, date) and not isinstance(raw_start, datetime)
    try:
        starts_at = _as_datetime(raw_start, window)
        ends_at = None if raw_end is None else _as_datetime(raw_end, window)
    except _READ_ERRORS:
        return Skipped(position, external_id, "start_unreadable")
    if all_day and ends_at is not None:
        # DTEND of a date is exclusive: the event ends as its last day does.
        ends_at = ends_at - timedelta(seconds=1)
    times = bounded_times(starts_at, ends_at, window)
    if isinstance(times, str):
        return None if times == "over" else Skipped(position, external_id, times)
    title = clean_line(str(component.get("SUMMARY", "")), limit=200)
    if not title:
        return Skipped(position, external_id, "title_missing")
    latitude = longitude = None
    geo = component.get("GEO")
    if geo is not None:
        latitude, longitude = getattr(geo, "latitude", None), getattr(geo, "longitude", None)
    categories: list[str] = []
    for value in _as_list(component.get("CATEGORIES")):
        categories.extend(str(c) for c in getattr(value, "cats", [value]))
    status = str(component.get("STATUS", "")).strip().upper()
    return FeedEvent(
        external_id=external_id,
        position=position,
        title=title,
        starts_at=times[0],
        ends_at=times[1],
        timezone=zone_name(raw_start, window),
        all_day=all_day,
        description=clean_text(str(component.get("DESCRIPTION", ""))),
        cancelled=status == "CANCELLED",
        url=safe_url(str(component.get("URL", "")).strip()) if component.get("URL") else None,
        tags=tuple(categories),
        place_name=clean_line(str(component.get("LOCATION", "")), limit=200) or None,
        latitude=float(latitude) if isinstance(latitude, int | float) else None,
        longitude=float(longitude) if isinstance(longitude, int | float) else None,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
