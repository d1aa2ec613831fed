"""Event dates in the reader's language and the event's own zone, the zone named, on every page
that lists an event."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fedicity.events.text import when_in_words, zone_in_words
from tests.events.test_events import BASE, Served, _input, served

__all__ = ["served"]  # the fixture, imported for pytest
FRENCH = {"Accept": "text/html", "Accept-Language": "fr"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}
# 14:30 in Paris on Saturday 14 March 2026 (13:30 UTC), until 17:00.
START = datetime(2026, 3, 14, 13, 30, tzinfo=UTC)
END = datetime(2026, 3, 14, 16, 0, tzinfo=UTC)


def _text(page: str) -> str:
    """A page's text as read: entities decoded, the spaces Babel uses made plain."""
    plain = html.unescape(page).replace("\u2013", "-")
    return re.sub("[\u00a0\u2009\u202f]", " ", plain)


async def _read(served: Served, path: str, headers: dict[str, str]) -> str:
    response = await served.client.get(path, headers=headers)
    assert response.status_code == 200, path
    return _text(await response.get_data(as_text=True))


# --- the words -----------------------------------------------------------------------------------


def test_when_in_words_in_french_and_english_names_the_zone() -> None:
    cases = {
        ("fr", START, END): "samedi 14 mars 2026, 14:30 - 17:00 (heure de Paris)",
        ("en", START, END): "Saturday, March 14, 2026, 2:30 - 5:00 PM (Paris time)",
        ("fr", START, None): "samedi 14 mars 2026, 14:30 (heure de Paris)",
        ("en", START, None): "Saturday, March 14, 2026, 2:30 PM (Paris time)",
        ("fr", START, START + timedelta(days=1)): (
            "samedi 14 mars 2026, 14:30 - dimanche 15 mars 2026, 14:30 (heure de Paris)"
        ),
        ("en", START - timedelta(hours=5), END): (
            "Saturday, March 14, 2026, 9:30 AM - 5:00 PM (Paris time)"
        ),
    }
    for (locale, start, end), expected in cases.items():
        words = when_in_words(start, end, "Europe/Paris", all_day=False, locale=locale)
        assert _text(words) == expected
    # Whole days say no hour and no zone
    assert (
        when_in_words(START, END, "Europe/Paris", all_day=True, locale="fr")
        == "samedi 14 mars 2026, toute la journée"
    )
    two_days = when_in_words(START, START + timedelta(days=1), "UTC", all_day=True, locale="en")
    assert _text(two_days) == "Saturday, March 14, 2026 - Sunday, March 15, 2026, all day"
    # An unknown locale reads French, an unknown zone the default one
    assert when_in_words(START, None, "Nowhere/Else", all_day=False, locale="xx") == (
        when_in_words(START, None, "Europe/Paris", all_day=False, locale="fr")
    )


def test_zones_are_named_after_their_city_or_their_offset() -> None:
    assert zone_in_words(START, "America/Montreal", "fr") == "heure de Montreal"
    assert zone_in_words(START, "America/Montreal", "en") == "Montreal time"
    assert zone_in_words(START, "Europe/Brussels", "fr") == "heure de Bruxelles"
    assert zone_in_words(START, "Europe/Amsterdam", "fr") == "heure d\u2019Amsterdam"
    assert zone_in_words(START, "America/Argentina/Buenos_Aires", "en") == "Buenos Aires time"
    assert zone_in_words(START, "UTC", "fr") == "UTC"
    plus_four = START.astimezone(ZoneInfo("Etc/GMT-4"))
    assert zone_in_words(plus_four, "Etc/GMT-4", "en") == "UTC+04:00"


# --- the pages -----------------------------------------------------------------------------------


async def test_an_event_at_14_30_in_paris_reads_14_30_in_french_and_2_30_pm_in_english(
    served: Served,
) -> None:
    # Given an event at 14:30 Paris time (13:30 UTC in March), located in Montreuil
    event = await served.create(_input(starts_at=START, ends_at=END, timezone="Europe/Paris"))
    pages = {
        "event": event.uri.removeprefix(BASE),
        "agenda": "/events",
        "territory": "/territoires/commune/93048",
    }
    for name, path in pages.items():
        # Then French pages say 14:30 with French words and the zone named in French
        french = await _read(served, path, FRENCH)
        assert "Fête de quartier" in french, name
        assert "14:30" in french, name
        for wrong in ("13:30", "1:30", "PM", "Saturday"):
            assert wrong not in french, (name, wrong)
        # And English pages 2:30 PM, with English words
        english = await _read(served, path, ENGLISH)
        assert "2:30 PM" in english or "2:30 - 5:00 PM" in english, name
        for wrong in ("14:30", "13:30", "samedi", "heure de"):
            assert wrong not in english, (name, wrong)
    # And wherever a date is written out in full, the zone is named
    for name in ("event", "agenda", "territory"):
        french = await _read(served, pages[name], FRENCH)
        english = await _read(served, pages[name], ENGLISH)
        assert "samedi 14 mars 2026" in french, name
        assert "(heure de Paris)" in french, name
        assert "Saturday, March 14, 2026" in english, name
        assert "(Paris time)" in english, name
    # And iCalendar is untouched: the wall time and its zone
    response = await served.client.get(event.uri.removeprefix(BASE) + ".ics")
    ics = await response.get_data(as_text=True)
    assert "DTSTART;TZID=Europe/Paris:20260314T143000" in ics


async def test_an_event_in_montreal_is_shown_in_montreal_time_and_says_so(served: Served) -> None:
    # Given an event at 19:00 in Montreal (midnight in Paris: the next day there)
    start = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    event = await served.create(
        _input(
            title="Soirée jumelage Montréal",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            timezone="America/Montreal",
        )
    )
    for path in (event.uri.removeprefix(BASE), "/events", "/territoires/commune/93048"):
        french = await _read(served, path, FRENCH)
        assert "mardi 31 mars 2026" in french, path
        assert "19:00" in french, path
        assert "heure de Montreal" in french, path
        english = await _read(served, path, ENGLISH)
        assert "Tuesday, March 31, 2026" in english, path
        assert "7:00" in english, path
        assert "Montreal time" in english, path
