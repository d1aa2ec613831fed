"""Event texts: the date, time and place in plain French words (descriptions are Markdown,
rendered by `fedicity.textfmt.render_markdown`)."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

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


def _day(moment: datetime) -> str:
    return format_datetime(moment, "EEEE d MMMM y", locale="fr")


def _time(moment: datetime) -> str:
    return format_datetime(moment, "H'\u00a0h\u00a0'mm", locale="fr")


def when_in_words(
    starts_at: datetime, ends_at: datetime | None, timezone: str, *, all_day: bool
) -> str:
    """'le samedi 14 mars 2026 de 10 h 00 à 12 h 00 (heure de Europe/Paris)', in French."""
    tz = zone(timezone)
    start = starts_at.astimezone(tz)
    end = ends_at.astimezone(tz) if ends_at is not None else None
    if all_day:
        if end is None or end.date() <= start.date():
            return f"le {_day(start)}, toute la journée"
        return f"du {_day(start)} au {_day(end)}, toute la journée"
    if end is None:
        text = f"le {_day(start)} à {_time(start)}"
    elif end.date() == start.date():
        text = f"le {_day(start)} de {_time(start)} à {_time(end)}"
    else:
        text = f"du {_day(start)} à {_time(start)} au {_day(end)} à {_time(end)}"
    return f"{text} (heure de {tz.key})"


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
