"""Times as people read them: in the instance's zone (FEDICITY_TIMEZONE) when a thing has none of
its own, never in UTC without saying so."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from quart import g

from fedicity.events.models import Event
from fedicity.events.text import moment_in_words, time_in_words, when_in_words, zone, zone_in_words
from fedicity.web.app import state


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(moment: datetime) -> str:
    """A moment as the instance's clocks show it: `2026-12-05 14:30`."""
    return moment.astimezone(_zone(state().settings.timezone)).strftime("%Y-%m-%d %H:%M")


def zone_name() -> str:
    """The zone local_time() shows times in, to say so where a deadline is given."""
    return state().settings.timezone


def reader_locale() -> str:
    """The language of the page being written (the request's locale)."""
    found = g.get("locale")
    return found if isinstance(found, str) else state().settings.default_locale


def moment_in_zone(moment: datetime, timezone: str | None = None) -> str:
    """A moment in words in the reader's language, in `timezone` (an event's own zone) or else
    the instance's, with the zone named: 'samedi 12 décembre 2026, 14:30 (heure de Paris)'."""
    return moment_in_words(moment, timezone or state().settings.timezone, reader_locale())


def time_in_zone(moment: datetime, timezone: str | None = None) -> str:
    """A moment's time of day in the reader's language ('14:30', '2:30 PM'), in `timezone` or
    else the instance's zone."""
    return time_in_words(moment, timezone or state().settings.timezone, reader_locale())


def event_when(event: Event) -> str:
    """When an event happens, in the reader's language and the event's zone, the zone named."""
    return when_in_words(
        event.starts_at,
        event.ends_at,
        event.timezone,
        all_day=event.all_day,
        locale=reader_locale(),
    )


def zone_in_reader_words(moment: datetime, timezone: str | None = None) -> str:
    """The zone a moment is shown in, named in the reader's language ('heure de Montreal')."""
    tz = zone(timezone or state().settings.timezone)
    return zone_in_words(moment.astimezone(tz), tz.key, reader_locale())
