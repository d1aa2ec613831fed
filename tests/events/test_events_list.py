"""The /events page (upcoming public events, here and federated, paged) and the iCalendar link
on territory pages."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fedicity.events import queries
from fedicity.events.models import EventData
from tests.events.test_events import Served, _remote_event, served

__all__ = ["served"]  # the fixture, imported for pytest
BROWSER = {"Accept": "text/html"}


async def _page(served: Served, query: str = "") -> str:
    response = await served.client.get("/events" + query, headers=BROWSER)
    assert response.status_code == 200
    return html.unescape(await response.get_data(as_text=True))


async def test_upcoming_events_here_and_federated_soonest_first(served: Served) -> None:
    ours = await served.create()
    assert (await served.receive(_remote_event()))[0] == "done"
    page = await _page(served)
    assert page.index("Fête de quartier") < page.index("My first event")
    assert ours.uri in page
    assert "From mobilizon.invalid" in page or "mobilizon.invalid" in page
    # Once our event is over, only the federated one is upcoming.
    served.clock.advance(timedelta(days=73))
    page = await _page(served)
    assert "Fête de quartier" not in page
    assert "My first event" in page
    # Deleted and private events never show.
    async with served.pool.acquire() as conn:
        await conn.execute("UPDATE events SET public = false")
    assert "My first event" not in await _page(served)


async def test_the_list_is_paged_by_keyset_and_old_page_numbers_are_tolerated(
    served: Served,
) -> None:
    start = served.clock.now() + timedelta(days=1)
    async with served.pool.acquire() as conn:
        for n in range(25):
            await queries.upsert_event(
                conn,
                EventData(
                    uri=f"https://gancio.invalid/event/{n}",
                    organizer_uri="https://gancio.invalid/federation/u/relay",
                    title=f"Concert n°{n:02d}",
                    description_html="",
                    starts_at=start + timedelta(hours=n),
                    ends_at=None,
                    published=served.clock.now(),
                ),
            )
    first = await _page(served)
    assert "Concert n°00" in first
    assert "Concert n°19" in first
    assert "Concert n°20" not in first
    later = re.search(r'href="(/events\?after=[^"]+)" rel="next"', first)
    assert later is not None
    second = await _page(served, html.unescape(later.group(1)).removeprefix("/events"))
    assert "Concert n°20" in second
    assert "Concert n°24" in second
    assert "Concert n°19" not in second
    assert 'rel="next"' not in second
    assert 'href="/events">' in second  # back to the soonest
    # An old page number shows the first page; a cursor no page gave is a 400
    for old in ("?page=abc", "?page=-1", "?page=2"):
        assert "Concert n°00" in await _page(served, old)
    for bad in ("?after=abc", "?after=1_%00", "?after=99999999999999_1"):
        response = await served.client.get("/events" + bad, headers=BROWSER)
        assert response.status_code == 400, bad


async def test_territory_page_links_its_agenda(served: Served) -> None:
    response = await served.client.get("/territoires/commune/93048", headers=BROWSER)
    body = await response.get_data(as_text=True)
    assert 'href="http://fedicity.test/territoires/commune/93048/agenda.ics"' in body
    calendar = await served.client.get("/territoires/commune/93048/agenda.ics")
    assert calendar.status_code == 200
