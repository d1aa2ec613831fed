"""A JSON feed in OpenAgenda's export shape read into plain occurrences, pure.

`{"events": [{"uid", "title": {"fr": ...}, "description", "longDescription", "keywords":
{"fr": [...]}, "timings": [{"begin", "end"}], "timezone", "location": {"name", "address",
"city", "postalCode", "latitude", "longitude"}, "status", "image", "registration",
"onlineAccessLink"}]}`: multilingual fields are read in French first, then English, then
whatever language comes first; each timing is one occurrence (`<uid>#<begin>`: a timing
moved is a cancelled occurrence and a new one). Status 6
(or "cancelled") is a cancellation, as in OpenAgenda's API v2.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fedicity.activitypub.safejson import JsonFailure, load_json
from fedicity.events.text import is_zone
from fedicity.imports.models import FeedEvent, FeedRefused, ParsedFeed, Skipped
from fedicity.imports.text import (
    MAX_EVENTS,
    MAX_OCCURRENCES,
    Window,
    bounded_times,
    clean_line,
    clean_text,
    external_id_problem,
)
from fedicity.sanitize import safe_url

_CANCELLED = frozenset({6, "6", "cancelled", "canceled", "annulé", "annule"})
_LANGUAGES = ("fr", "en")


def parse_openagenda(text: str, *, window: Window) -> ParsedFeed | FeedRefused:
    """The occurrences of an OpenAgenda export, or why the whole feed is refused."""
    loaded = load_json(text.encode("utf-8", "surrogatepass"))
    if isinstance(loaded, JsonFailure):
        return FeedRefused("unreadable", f"not JSON: {loaded.detail[:200]}")
    document = loaded.value
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        return FeedRefused("not_openagenda", 'no "events" list in the JSON document')
    rows = document["events"]
    if len(rows) > MAX_EVENTS:
        return FeedRefused("too_many_events", f"{len(rows)} events, at most {MAX_EVENTS}")
    events: list[FeedEvent] = []
    skipped: list[Skipped] = []
    for position, row in enumerate(rows, start=1):
        read = _event(row, position, window)
        if isinstance(read, Skipped):
            skipped.append(read)
            continue
        events.extend(read[0])
        skipped.extend(read[1])
        if len(events) > MAX_EVENTS:
            return FeedRefused("too_many_events", f"more than {MAX_EVENTS} occurrences")
    return ParsedFeed("openagenda", tuple(events), tuple(skipped))


def _localised(value: Any, *, limit: int | None = None) -> str:
    """A multilingual field ({"fr": ..., "en": ...}) or a plain string, as one string."""
    if isinstance(value, dict):
        for language in (*_LANGUAGES, *value):
            found = value.get(language)
            if isinstance(found, str) and found.strip():
                return found if limit is None else found[: limit * 4]
        return ""
    return value if isinstance(value, str) else ""


def _keywords(value: Any) -> tuple[str, ...]:
    if isinstance(value, dict):
        for language in (*_LANGUAGES, *value):
            found = value.get(language)
            if isinstance(found, list):
                value = found
                break
    if not isinstance(value, list):
        return ()
    return tuple(clean_line(v, limit=64) for v in value[:20] if isinstance(v, str))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) < 1000 else None


def _moment(value: Any, window: Window, zone: str) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment


def _image(value: Any) -> str | None:
    if isinstance(value, dict):
        base, name = value.get("base"), value.get("filename")
        value = f"{base}{name}" if isinstance(base, str) and isinstance(name, str) else None
    return safe_url(value.strip()) if isinstance(value, str) else None


def _link(row: dict[str, Any]) -> str | None:
    for key in ("registration", "links"):
        entries = row.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries[:20]:
            found = entry.get("value") or entry.get("link") if isinstance(entry, dict) else entry
            url = safe_url(found.strip()) if isinstance(found, str) else None
            if url is not None:
                return url
    return None


def _event(
    row: Any, position: int, window: Window
) -> tuple[list[FeedEvent], list[Skipped]] | Skipped:
    """One exported event: an occurrence per timing, the timings left out, or why it is."""
    if not isinstance(row, dict):
        return Skipped(position, None, "not_an_object")
    raw_uid = row.get("uid")
    uid = clean_line(str(raw_uid), limit=None) if isinstance(raw_uid, int | str) else ""
    problem = external_id_problem(uid)
    if problem is not None:
        return Skipped(position, None, problem)
    title = clean_line(_localised(row.get("title"), limit=200), limit=200)
    if not title:
        return Skipped(position, uid, "title_missing")
    timings = row.get("timings")
    if not isinstance(timings, list) or not timings:
        return Skipped(position, uid, "timings_missing")
    zone = row.get("timezone")
    location = row.get("location") if isinstance(row.get("location"), dict) else {}
    assert isinstance(location, dict)
    zone = zone if isinstance(zone, str) and is_zone(zone) else window.zone_key
    long_text = _localised(row.get("longDescription"), limit=20_000)
    short_text = _localised(row.get("description"), limit=20_000)
    description = clean_text(long_text or short_text)
    online = row.get("onlineAccessLink")
    common: dict[str, Any] = {
        "title": title,
        "timezone": zone,
        "description": description,
        "cancelled": row.get("status") in _CANCELLED,
        "url": _link(row),
        "image_url": _image(row.get("image")),
        "tags": _keywords(row.get("keywords")),
        "place_name": clean_line(str(location.get("name") or ""), limit=200) or None,
        "street": clean_line(str(location.get("address") or ""), limit=200) or None,
        "postal_code": clean_line(str(location.get("postalCode") or ""), limit=20) or None,
        "locality": clean_line(str(location.get("city") or ""), limit=100) or None,
        "latitude": _number(location.get("latitude")),
        "longitude": _number(location.get("longitude")),
        "online_url": safe_url(online.strip()) if isinstance(online, str) else None,
    }
    found: list[FeedEvent] = []
    skipped: list[Skipped] = []
    for timing in timings[:MAX_OCCURRENCES]:
        if not isinstance(timing, dict):
            skipped.append(Skipped(position, uid, "timing_unreadable"))
            continue
        begin = _moment(timing.get("begin"), window, zone)
        end = _moment(timing.get("end"), window, zone)
        if begin is None:
            skipped.append(Skipped(position, uid, "start_unreadable"))
            continue
        times = bounded_times(begin, end, window)
        if isinstance(times, str):
            if times != "over":
                skipped.append(Skipped(position, uid, times))
            continue
        # A timing is known by its start: one moved is a cancelled occurrence and a new one.
        key = f"{uid}#{begin.isoformat()}"
        found.append(
            FeedEvent(
                external_id=key[:1000],
                position=position,
                starts_at=times[0],
                ends_at=times[1],
                **common,
            )
        )
    return found, skipped
