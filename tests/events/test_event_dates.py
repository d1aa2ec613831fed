"""Event dates in the reader's language and the event's own zone, the zone named, on every page
that lists an event; and the agenda's month view."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fedicity.events import queries
from fedicity.events.models import EventData
from fedicity.events.text import when_in_words, zone_in_words
from tests.events.test_events import BASE, Served, _input, _log_in, _remote_event, served

__all__ = ["served"]  # the fixture, imported for pytest
FRENCH = {"Accept": "text/html", "Accept-Language": "fr"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}
# 14:30 in Paris on Saturday 14 March 2026 (13:30 UTC), until 17:00.
START = datetime(2026, 3, 14, 13, 30, tzinfo=UTC)
END = datetime(2026, 3, 14, 16, 0, tzinfo=UTC)


def _text(page: str) -> str:
    """A page's text as read: entities decoded, the spaces Babel uses made plain; its JSON-LD
    (ISO 8601 moments for harvesters, in no reader's language) left out."""
    shown = re.sub(r'<script type="application/ld\+json">.*?</script>', "", page, flags=re.S)
    plain = html.unescape(shown).replace("\u2013", "-")
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
        "month": "/events?view=month&month=2026-03",
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
    # And the attendees page of the organiser says it the same way
    await _log_in(served.client, "camille")
    attendees = await _read(served, event.uri.removeprefix(BASE) + "/participants", FRENCH)
    assert "samedi 14 mars 2026, 14:30 - 17:00 (heure de Paris)" in attendees
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
    # And the month view puts it on its own day, the 31st, with its zone named
    month = await _read(served, "/events?view=month&month=2026-03", ENGLISH)
    day = month.split("Tuesday, March 31", 1)[1].split("</td>", 1)[0]
    assert "Soirée jumelage Montréal" in day
    assert "7:00 PM" in day
    assert "(Montreal time)" in day
    april = await _read(served, "/events?view=month&month=2026-04", ENGLISH)
    assert "Soirée jumelage" not in april


# --- the month view ------------------------------------------------------------------------------


async def test_the_month_view_is_a_calendar_of_the_month_with_its_neighbours(
    served: Served,
) -> None:
    ours = await served.create(_input(starts_at=START, ends_at=END))
    assert (await served.receive(_remote_event(startTime="2026-03-28T18:00:00Z")))[0] == "done"
    page = await (
        await served.client.get("/events?view=month&month=2026-03", headers=ENGLISH)
    ).get_data(as_text=True)
    text = _text(page)
    assert "<h1>Agenda · March 2026</h1>" in text
    # Seven columns, Monday first; March 2026 starts on a Sunday: six weeks
    assert re.findall(r'<abbr title="(\w+)">', page)[:2] == ["Monday", "Tuesday"]
    assert page.count("<tr>") == 1 + 6
    # Each event on its day, linked: ours to its page, the remote one to its own server
    saturday = text.split("Saturday, March 14", 1)[1].split("</td>", 1)[0]
    assert f'href="{ours.uri}"' in saturday
    assert "Fête de quartier" in saturday
    assert "2:30 PM" in saturday
    later = text.split("Saturday, March 28", 1)[1].split("</td>", 1)[0]
    assert "My first event" in later
    assert re.search(r'href="https://test\.mobilizon\.org/events/[^"]+"', later)
    # Previous and next months are links
    assert 'href="/events?view=month&month=2026-02"' in text
    assert 'href="/events?view=month&month=2026-04"' in text
    # An empty month says so
    empty = await _read(served, "/events?view=month&month=2026-05", ENGLISH)
    assert "No event this month." in empty
    # The list links the month view, and the month view the list
    listing = await _read(served, "/events", ENGLISH)
    assert "view=month&month=2026-01" in listing  # the clock's month
    assert 'href="/events"' in text


async def test_the_month_view_in_french_and_its_default_month(served: Served) -> None:
    await served.create(_input(starts_at=START, ends_at=END))
    page = await _read(served, "/events?view=month", FRENCH)
    assert "janvier 2026" in page  # the clock's month
    march = await _read(served, "/events?view=month&month=2026-03", FRENCH)
    assert "Agenda · mars 2026" in march
    assert '<abbr title="lundi">' in march
    assert "samedi 14 mars" in march
    assert "Mois suivant" in march


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "0999-12",
        "9999-01",
        "26-03",
        "2026-3",
        "\uff12\uff10\uff12\uff16-03",
        "x" * 5000,
        "-1",
    ],
)
async def test_a_month_that_makes_no_sense_is_a_400(served: Served, month: str) -> None:
    response = await served.client.get(
        "/events", query_string={"view": "month", "month": month}, headers=ENGLISH
    )
    assert response.status_code == 400
    assert "2026-12" in await response.get_data(as_text=True)


async def test_the_month_view_at_the_edges_of_time_and_with_hostile_titles(
    served: Served,
) -> None:
    first = await _read(served, "/events?view=month&month=1000-01", ENGLISH)
    assert "Previous month" not in first
    last = await _read(served, "/events?view=month&month=9998-12", ENGLISH)
    assert "Next month" not in last
    async with served.pool.acquire() as conn:
        await queries.upsert_event(
            conn,
            EventData(
                uri="https://gancio.invalid/event/x",
                organizer_uri="https://gancio.invalid/federation/u/relay",
                title='<script>alert(1)</script>"><img src=x onerror=alert(1)>',
                description_html="",
                starts_at=START,
                ends_at=None,
                url="javascript:alert(1)",
                published=served.clock.now(),
            ),
        )
    page = await (
        await served.client.get("/events?view=month&month=2026-03", headers=ENGLISH)
    ).get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "javascript:" not in page
