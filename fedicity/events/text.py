"""Event texts: the date, time and place in words (French for what we federate, the reader's
language on our pages); descriptions are Markdown, rendered by
`fedicity.textfmt.render_markdown`."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import (
    format_date,
    format_interval,
    format_skeleton,
    get_timezone_gmt,
)

from fedicity.events.models import DEFAULT_TIMEZONE, Location

# IANA names are at most ~30 characters; a longer one is refused before zoneinfo turns it into
# a file path (which can raise "File name too long").
MAX_ZONE_NAME = 64


def _load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None for anything zoneinfo cannot load.

    zoneinfo reads the name as a path under its data folder, so a peer's or a form's text raises
    more than ZoneInfoNotFoundError: ValueError (absolute, "..", NUL), IsADirectoryError ("Europe"),
    OSError (a name too long for the file system).
    """
    if not name or len(name) > MAX_ZONE_NAME:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone of that name; the default zone when the name is unknown."""
    return (_load_zone(name) if name else None) or ZoneInfo(DEFAULT_TIMEZONE)


def is_zone(name: str) -> bool:
    """Whether `name` is an IANA zone known here."""
    return _load_zone(name) is not None


# The words around dates, per UI locale; Babel writes the dates and times themselves.
_ALL_DAY = {"fr": "toute la journée", "en": "all day"}
_ZONE = {"fr": "heure de {city}", "en": "{city} time"}
_ZONE_ELIDED = {"fr": "heure d\u2019{city}"}
# Between two moments or two days, as Babel's intervals write it: an en dash in thin spaces.
_DASH = "\u2009\u2013\u2009"


def _locale(locale: str) -> str:
    return locale if locale in _ALL_DAY else "fr"


def zone_city(name: str, locale: str) -> str | None:
    """The city a zone is named after, in the locale's words ("Paris", "Bruxelles"); None for
    zones named after no place (UTC and the fixed offsets of Etc/)."""
    if name == "UTC" or name.startswith("Etc/") or "/" not in name:
        return None
    known = Locale.parse(_locale(locale)).time_zones.get(name, {}).get("city")
    return str(known) if known else name.rsplit("/", 1)[-1].replace("_", " ")


def zone_in_words(moment: datetime, name: str, locale: str) -> str:
    """The zone a moment is shown in, as people say it: "heure de Paris", "Montreal time",
    "UTC+04:00" for a zone that names no city."""
    locale = _locale(locale)
    city = zone_city(name, locale)
    if city is None:
        offset = moment.utcoffset()
        return (
            "UTC" if not offset else get_timezone_gmt(moment, locale=locale).replace("GMT", "UTC")
        )
    pattern = _ZONE[locale]
    if city[:1].lower() in "aeiouyàâéèêîôû" and locale in _ZONE_ELIDED:
        pattern = _ZONE_ELIDED[locale]
    return pattern.format(city=city)


def _clock_skeleton(locale: str) -> str:
    """Hours and minutes as the locale writes them: 14:30 in French, 2:30 PM in English."""
    return "hm" if "h" in Locale.parse(locale).time_formats["short"].pattern else "Hm"


def _day(moment: datetime, locale: str) -> str:
    return format_date(moment, "full", locale=locale)


def time_in_words(moment: datetime, timezone: str, locale: str) -> str:
    """A moment's time of day in the zone, as the locale writes it ("14:30", "2:30 PM")."""
    locale = _locale(locale)
    return format_skeleton(
        _clock_skeleton(locale), moment.astimezone(zone(timezone)), locale=locale
    )


def moment_in_words(moment: datetime, timezone: str, locale: str) -> str:
    """'samedi 12 décembre 2026, 14:30 (heure de Paris)': a moment in the zone, named."""
    locale = _locale(locale)
    tz = zone(timezone)
    local = moment.astimezone(tz)
    clock = time_in_words(moment, timezone, locale)
    return f"{_day(local, locale)}, {clock} ({zone_in_words(local, tz.key, locale)})"


def when_in_words(
    starts_at: datetime,
    ends_at: datetime | None,
    timezone: str,
    *,
    all_day: bool,
    locale: str = "fr",
) -> str:
    """When an event happens, in the reader's language and the event's zone, named:
    'samedi 14 mars 2026, 10:00 - 12:30 (heure de Paris)', 'Saturday, March 14, 2026,
    10:00 AM - 12:30 PM (Paris time)' (with an en dash); whole days without a time or zone."""
    locale = _locale(locale)
    tz = zone(timezone)
    start = starts_at.astimezone(tz)
    end = ends_at.astimezone(tz) if ends_at is not None else None
    if all_day:
        days = _day(start, locale)
        if end is not None and end.date() > start.date():
            days = f"{days}{_DASH}{_day(end, locale)}"
        return f"{days}, {_ALL_DAY[locale]}"
    named = zone_in_words(start, tz.key, locale)
    skeleton = _clock_skeleton(locale)
    if end is None or end == start:
        text = f"{_day(start, locale)}, {format_skeleton(skeleton, start, locale=locale)}"
    elif end.date() == start.date():
        hours = format_interval(start, end, skeleton, tzinfo=tz, locale=locale)
        text = f"{_day(start, locale)}, {hours}"
    else:
        text = (
            f"{_day(start, locale)}, {format_skeleton(skeleton, start, locale=locale)}{_DASH}"
            f"{_day(end, locale)}, {format_skeleton(skeleton, end, locale=locale)}"
        )
    return f"{text} ({named})"


def summary_block(
    *,
    starts_at: datetime,
    ends_at: datetime | None,
    timezone: str,
    all_day: bool,
    location: Location,
    cancelled: bool,
) -> str:
    """HTML paragraphs with the date, time and place in words, for servers that show an Event
    as a status (Mastodon) and would otherwise drop startTime and location."""
    lines = []
    if cancelled:
        lines.append("<p><strong>ANNULÉ</strong></p>")
    when = when_in_words(starts_at, ends_at, timezone, all_day=all_day)
    lines.append(f"<p>📅 {html.escape(when[0].upper() + when[1:])}</p>")
    if location.has_place:
        lines.append(f"<p>📍 {html.escape(location.one_line())}</p>")
    if location.online_url:
        url = html.escape(location.online_url)
        lines.append(f'<p>💻 En ligne : <a href="{url}">{url}</a></p>')
    return "".join(lines)
