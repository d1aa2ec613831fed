"""What pages tell programs about themselves: the open-data files each page advertises in its head
(`<link rel="alternate">`, the territory page with all four kinds), the same links in the "Open
data" line people see, and the schema.org JSON-LD of events, organisations, people who chose to
be listed and territories; hostile titles and URLs stay inside their script element and out of
the JSON-LD. The files themselves are served by web/opendata.py: only the links are checked."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import service as events
from fedicity.events.models import Event, Location
from fedicity.events.service import EventInput
from fedicity.imports import queries as import_queries
from fedicity.organizations import queries as organization_queries
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web import schemaorg
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice

BASE = "http://fedicity.test"
URLS = Urls(BASE)
PASSWORD = "correct horse battery staple"
HOSTILE = "</script><script>alert(1)</script>\u2028<!-- & 'é'"
RSS, ATOM, ICS = "application/rss+xml", "application/atom+xml", "text/calendar"
GEOJSON, CSV, JSON_LD = "application/geo+json", "text/csv", "application/ld+json"
AP = "application/activity+json"

# The schema.org terms each type we write may carry, as schema.org defines them (checked on
# schema.org: e.g. geo is Place's, not Organization's, which takes a location instead).
_AGENT = {"name", "url"}
_AREA = {"name", "identifier", "geo", "containedInPlace", "url"}
_ORGANIZATION = {
    *_AGENT,
    *("alternateName", "description", "logo", "identifier", "iso6523Code", "address"),
    *("location", "sameAs", "email"),
}
VOCABULARY: dict[str, set[str]] = {
    "Event": {
        *("name", "description", "startDate", "endDate", "eventStatus", "eventAttendanceMode"),
        *("location", "organizer", "url", "image", "maximumAttendeeCapacity", "keywords"),
        "inLanguage",
    },
    "Place": {"name", "address", "geo"},
    "VirtualLocation": {"url"},
    "PostalAddress": {
        *("streetAddress", "postalCode", "addressLocality", "addressRegion"),
        "addressCountry",
    },
    "GeoCoordinates": {"latitude", "longitude"},
    "GeoShape": {"box"},
    "PropertyValue": {"propertyID", "value"},
    "Person": {*_AGENT, "alternateName", "description", "image", "sameAs"},
    "Organization": _ORGANIZATION,
    "NGO": _ORGANIZATION,
    "GovernmentOrganization": _ORGANIZATION,
    "City": _AREA,
    "AdministrativeArea": _AREA,
    "Country": _AREA,
}


def schema_terms(node: Any) -> int:
    """Check every node's terms against VOCABULARY; the number of typed nodes seen."""
    if isinstance(node, list):
        return sum(schema_terms(item) for item in node)
    if not isinstance(node, dict):
        return 0
    kind = node["@type"]
    unknown = set(node) - VOCABULARY[kind] - {"@context", "@type", "@id"}
    assert unknown == set(), (kind, unknown)
    return 1 + sum(schema_terms(value) for value in node.values())


class Page(HTMLParser):
    """A page read as a harvester reads it: the links of its head, its JSON-LD scripts, the
    other script elements, and the links of its "Open data" line."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str]] = []
        self.json_ld: list[str] = []
        self.other_scripts: list[dict[str, str]] = []
        self.open_data: list[dict[str, str]] = []
        self._in_head = False
        self._in_json_ld = False
        self._in_open_data = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "head":
            self._in_head = True
        elif tag == "link" and self._in_head and found.get("rel") == "alternate":
            self.links.append(found)
        elif tag == "script" and found.get("type") == JSON_LD:
            self._in_json_ld = True
            self.json_ld.append("")
        elif tag == "script":
            self.other_scripts.append(found)
        elif tag == "p" and "open-data" in found.get("class", "").split():
            self._in_open_data = True
        elif tag == "a" and self._in_open_data:
            self.open_data.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        elif tag == "script":
            self._in_json_ld = False
        elif tag == "p":
            self._in_open_data = False

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.json_ld[-1] += data

    def alternates(self) -> list[tuple[str, str]]:
        """(type, href) of every alternate link but the catalogue, in order."""
        return [(link["type"], link["href"]) for link in self.links if link["type"] != JSON_LD]

    def catalogue_links(self) -> list[dict[str, str]]:
        """The catalogue's links (exactly one per page)."""
        return [link for link in self.links if link["type"] == JSON_LD]

    def structured(self) -> dict[str, Any] | None:
        """The one JSON-LD document of the page, parsed; None when it has none."""
        assert len(self.json_ld) <= 1
        if not self.json_ld:
            return None
        parsed: dict[str, Any] = json.loads(self.json_ld[0])
        assert parsed["@context"] == "https://schema.org"
        assert schema_terms(parsed) >= 1
        return parsed


@dataclasses.dataclass
class Site:
    """An instance serving Montreuil: Camille (listed), Dominique (not listed), the association
    Vélo Montreuil (a verified SIREN, a place, living in Montreuil) and an event."""

    app: Quart
    client: TestClientProtocol
    pool: Pool
    clock: FrozenClock
    keygen: FixedKeys
    root: Territory
    camille: Actor
    dominique: Actor
    velo: Actor

    async def territory(self, level: str, code: str) -> Territory:
        """A territory of the slice."""
        async with self.pool.acquire() as conn:
            found = await territory_queries.select_territory(conn, level, code)
        assert found is not None
        return found

    async def event(self, actor: Actor, **changes: Any) -> Event:
        """An event organised by `actor` in Montreuil."""
        data = EventInput(
            title="Fête du vélo",
            starts_at=datetime(2026, 6, 14, 9, 0, tzinfo=UTC),
            ends_at=datetime(2026, 6, 14, 11, 30, tzinfo=UTC),
            description="Venez **nombreux** à la fête !",
            tags=("velo", "fete"),
            location=Location(
                place_name="Place Jean-Jaurès",
                street="1 place Jean-Jaurès",
                postal_code="93100",
                locality="Montreuil",
                country="France",
                latitude=48.8638,
                longitude=2.4485,
                online_url="https://visio.example/fete",
            ),
            capacity=40,
        )
        async with self.pool.acquire() as conn:
            return await events.create_event(
                conn,
                actor=actor,
                data=dataclasses.replace(data, **changes),
                place=await self.territory("commune", "93048"),
                root=self.root,
                urls=URLS,
                clock=self.clock,
                keygen=self.keygen,
            )

    async def page(self, path: str, *, lang: str = "fr") -> Page:
        """A page as a browser in `lang` gets it (200 only)."""
        response = await self.client.get(
            path, headers={"Accept": "text/html", "Cookie": f"lang={lang}"}
        )
        body = await response.get_data(as_text=True)
        assert response.status_code == 200, (path, body[:500])
        page = Page(body)
        page.raw = body  # type: ignore[attr-defined]
        assert len(page.catalogue_links()) == 1, path
        catalogue = page.catalogue_links()[0]
        assert catalogue["href"] == URLS.catalogue
        assert catalogue["title"] in (
            "Catalogue des données ouvertes (DCAT-AP)",
            "Open data catalogue (DCAT-AP)",
        )
        return page


@pytest.fixture
async def site(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Site]:
    """The instance serving Montreuil, with its people, organisation and event."""
    await import_slice(pool, tmp_path)
    config = dataclasses.replace(
        settings, territory_level="commune", territory_code="93048", territory_name="Montreuil"
    )
    root = await prepare_serving(pool, config)
    assert root is not None
    async with pool.acquire() as conn:
        found: list[Actor] = []
        for name, shown in (("camille", "Camille"), ("dominique", "Dominique")):
            account = await accounts.register(
                conn, username=name, password=PASSWORD, keygen=keygen, display_name=shown
            )
            actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert actor is not None
            found.append(actor)
        dominique = await actor_queries.update_profile(
            conn,
            found[1].id,
            display_name="Dominique",
            summary="",
            manually_approves_followers=False,
            discoverable=False,
        )
        assert dominique is not None
        velo = await actor_service.create_organization(
            conn,
            "velo",
            organization_kind="association",
            keygen=keygen,
            display_name="Vélo Montreuil",
            summary="Pour le **vélo** en ville.",
        )
        await organization_queries.set_identifier(
            conn,
            velo.id,
            kind="SIREN",
            value="732829320",
            verified_at=clock.now(),
            verified_by=None,
        )
        await organization_queries.set_place(conn, velo.id, latitude=48.86, longitude=2.44)
        await actor_queries.update_home_territory(conn, velo.id, root.id)
        velo_now = await actor_queries.select_actor_by_id(conn, velo.id)
    assert velo_now is not None
    app = create_app(config, pool=pool, clock=clock, keygen=keygen)
    async with app.test_app():
        yield Site(app, app.test_client(), pool, clock, keygen, root, found[0], dominique, velo_now)


async def test_the_territory_page_advertises_all_four_kinds_and_describes_the_commune(
    site: Site,
) -> None:
    page = await site.page("/territoires/commune/93048")
    export = URLS.territory_export
    assert page.alternates() == [
        (AP, page.links[0]["href"]),
        (RSS, URLS.territory_feed("commune", "93048", "rss")),
        (ATOM, URLS.territory_feed("commune", "93048", "atom")),
        (ICS, export("commune", "93048", "agenda.ics")),
        (GEOJSON, export("commune", "93048", "map.geojson")),
        (CSV, export("commune", "93048", "organizations.csv")),
        (CSV, export("commune", "93048", "events.csv")),
        (CSV, export("commune", "93048", "proposals.csv")),
    ]
    assert page.links[0]["href"].startswith(URLS.actor(""))
    titles = [link["title"] for link in page.links[1:]]
    assert titles[:5] == [
        "Actualités de Montreuil (RSS)",
        "Actualités de Montreuil (Atom)",
        "Agenda de Montreuil (iCalendar)",
        "Carte de Montreuil (GeoJSON)",
        "Organisations (CSV) \N{EN DASH} Montreuil",
    ]
    # The same files, for people, with the page that explains them.
    assert [(a["type"], a["href"]) for a in page.open_data[:-1]] == page.alternates()[1:]
    assert page.open_data[-1]["href"] == URLS.opendata
    assert page.structured() == {
        "@context": "https://schema.org",
        "@type": "City",
        "@id": URLS.territory("commune", "93048"),
        "name": "Montreuil",
        "identifier": {"@type": "PropertyValue", "propertyID": "COG", "value": "93048"},
        "geo": {"@type": "GeoCoordinates", "latitude": 48.8638, "longitude": 2.4485},
        "containedInPlace": {
            "@type": "AdministrativeArea",
            "name": "Est Ensemble",
            "url": URLS.territory("epci", "200057875"),
        },
        "url": URLS.territory("commune", "93048"),
    }
    # In English, the titles are English; a section of the page shows no "Open data" line.
    english = await site.page("/territoires/commune/93048?show=events", lang="en")
    assert english.alternates() == page.alternates()
    assert [link["title"] for link in english.links[1:3]] == [
        "News of Montreuil (RSS)",
        "News of Montreuil (Atom)",
    ]
    assert english.open_data == []
    # An EPCI's code is its SIREN; the région is in the country.
    epci = (await site.page("/territoires/epci/200057875")).structured()
    assert epci is not None
    assert epci["@type"] == "AdministrativeArea"
    assert epci["identifier"]["propertyID"] == "SIREN"
    assert "geo" not in epci
    region = (await site.page("/territoires/region/11")).structured()
    assert region is not None
    assert region["containedInPlace"] == {
        "@type": "Country",
        "name": "France",
        "url": URLS.territory("country", "FR"),
    }


async def test_an_event_page_gives_its_calendar_and_a_schema_org_event(site: Site) -> None:
    event = await site.event(site.camille)
    assert event.token is not None
    page = await site.page(f"/events/{event.token}")
    assert page.alternates() == [(AP, event.uri), (ICS, URLS.event_ical(event.token))]
    assert page.links[1]["title"] == "Fête du vélo (iCalendar)"
    assert page.open_data == []
    found = page.structured()
    assert found == {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": event.uri,
        "name": "Fête du vélo",
        "description": "Venez nombreux à la fête !",
        # In the event's own zone, with its offset (Paris is UTC+2 in June).
        "startDate": "2026-06-14T11:00:00+02:00",
        "endDate": "2026-06-14T13:30:00+02:00",
        "eventStatus": "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/MixedEventAttendanceMode",
        "location": [
            {
                "@type": "Place",
                "name": "Place Jean-Jaurès",
                "address": {
                    "@type": "PostalAddress",
                    "streetAddress": "1 place Jean-Jaurès",
                    "postalCode": "93100",
                    "addressLocality": "Montreuil",
                    "addressCountry": "France",
                },
                "geo": {"@type": "GeoCoordinates", "latitude": 48.8638, "longitude": 2.4485},
            },
            {"@type": "VirtualLocation", "url": "https://visio.example/fete"},
        ],
        "organizer": {"@type": "Person", "name": "Camille", "url": URLS.profile("camille")},
        "url": event.uri,
        "maximumAttendeeCapacity": 40,
        "keywords": "velo, fete",
        "inLanguage": "fr",
    }
    # Online only, cancelled, organised by the association (an NGO) and by one who is not listed.
    online = await site.event(
        site.velo, location=Location(online_url="https://visio.example/ag"), capacity=None
    )
    async with site.pool.acquire() as conn:
        await events.cancel_event(
            conn,
            actor=site.velo,
            event=online,
            place=None,
            root=site.root,
            urls=URLS,
            clock=site.clock,
            keygen=site.keygen,
        )
    cancelled = (await site.page(f"/events/{online.token}")).structured()
    assert cancelled is not None
    assert cancelled["eventStatus"] == "https://schema.org/EventCancelled"
    assert cancelled["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    assert cancelled["location"] == {"@type": "VirtualLocation", "url": "https://visio.example/ag"}
    assert cancelled["organizer"] == {
        "@type": "NGO",
        "name": "Vélo Montreuil",
        "url": URLS.organization_page("velo"),
    }
    assert "maximumAttendeeCapacity" not in cancelled
    unlisted = await site.event(site.dominique, location=Location(locality="Montreuil"))
    described = (await site.page(f"/events/{unlisted.token}")).structured()
    assert described is not None
    assert "organizer" not in described
    assert described["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert described["location"] == {
        "@type": "Place",
        "name": "Montreuil",
        "address": {"@type": "PostalAddress", "addressLocality": "Montreuil"},
        # Where no point was picked, the commune's centre.
        "geo": {"@type": "GeoCoordinates", "latitude": 48.8638, "longitude": 2.4485},
    }


async def test_organisations_and_people_who_chose_to_be_listed_are_described(site: Site) -> None:
    organization = await site.page("/organizations/velo")
    feeds = [
        (RSS, URLS.actor_feed("velo", "rss")),
        (ATOM, URLS.actor_feed("velo", "atom")),
        (ICS, URLS.actor_agenda("velo")),
    ]
    assert organization.alternates() == feeds
    assert [link["title"] for link in organization.links] == [
        "Publications de Vélo Montreuil (RSS)",
        "Publications de Vélo Montreuil (Atom)",
        "Agenda de Vélo Montreuil (iCalendar)",
        "Catalogue des données ouvertes (DCAT-AP)",
    ]
    assert [(a["type"], a["href"]) for a in organization.open_data[:-1]] == feeds
    described = organization.structured()
    assert described == {
        "@context": "https://schema.org",
        "@type": "NGO",
        "@id": URLS.organization_page("velo"),
        "name": "Vélo Montreuil",
        "alternateName": "@velo@fedicity.test",
        "description": "Pour le vélo en ville.",
        "url": URLS.organization_page("velo"),
        "logo": URLS.actor_avatar("velo"),
        "identifier": {"@type": "PropertyValue", "propertyID": "SIREN", "value": "732829320"},
        "iso6523Code": "0002:732829320",
        "address": {
            "@type": "PostalAddress",
            "addressLocality": "Montreuil",
            "postalCode": "93100",
            "addressCountry": "FR",
        },
        "location": {
            "@type": "Place",
            "address": described["address"] if described else None,
            "geo": {"@type": "GeoCoordinates", "latitude": 48.86, "longitude": 2.44},
        },
        "sameAs": [URLS.actor("velo"), URLS.profile("velo")],
    }
    # Its profile page says the same.
    assert (await site.page("/@velo")).structured() == described
    # Its own contacts, once known, win over what its home commune says; a website that is
    # not safe to link is left out.
    async with site.pool.acquire() as conn:
        await import_queries.set_organization_contacts(
            conn,
            site.velo.id,
            address="12 rue de Paris",
            postal_code="93100",
            website="https://velo-montreuil.example/",
            email="contact@velo-montreuil.example",
        )
    contacted = (await site.page("/organizations/velo")).structured()
    assert contacted is not None
    assert described is not None
    assert contacted["address"] == {
        "@type": "PostalAddress",
        "streetAddress": "12 rue de Paris",
        "postalCode": "93100",
        "addressLocality": "Montreuil",
        "addressCountry": "FR",
    }
    assert contacted["location"]["address"] == contacted["address"]
    assert contacted["email"] == "contact@velo-montreuil.example"
    assert contacted["sameAs"] == [*described["sameAs"], "https://velo-montreuil.example/"]
    async with site.pool.acquire() as conn:
        await import_queries.set_organization_contacts(
            conn,
            site.velo.id,
            address=None,
            postal_code=None,
            website='https://evil.example/"><script>',
            email=None,
        )
    assert (await site.page("/organizations/velo")).structured() == described
    camille = await site.page("/@camille")
    assert camille.alternates() == [
        (AP, URLS.actor("camille")),
        (RSS, URLS.actor_feed("camille", "rss")),
        (ATOM, URLS.actor_feed("camille", "atom")),
        (ICS, URLS.actor_agenda("camille")),
    ]
    assert len(camille.open_data) == 4
    assert camille.structured() == {
        "@context": "https://schema.org",
        "@type": "Person",
        "@id": URLS.profile("camille"),
        "name": "Camille",
        "alternateName": "@camille@fedicity.test",
        "url": URLS.profile("camille"),
        "image": URLS.actor_avatar("camille"),
        "sameAs": [URLS.actor("camille")],
    }
    # Who chose not to be listed gets no JSON-LD at all; their public feeds are still there.
    dominique = await site.page("/@dominique")
    assert dominique.json_ld == []
    assert dominique.alternates()[1:] == [
        (RSS, URLS.actor_feed("dominique", "rss")),
        (ATOM, URLS.actor_feed("dominique", "atom")),
        (ICS, URLS.actor_agenda("dominique")),
    ]
    # An organisation that chose not to be listed neither.
    async with site.pool.acquire() as conn:
        await actor_queries.update_profile(
            conn,
            site.velo.id,
            display_name="Vélo Montreuil",
            summary="",
            manually_approves_followers=False,
            discoverable=False,
        )
    assert (await site.page("/organizations/velo")).json_ld == []


async def test_lists_tags_and_the_map_advertise_their_files(site: Site) -> None:
    export = URLS.territory_export
    events_page = await site.page("/events")
    assert events_page.alternates() == [
        (ICS, export("commune", "93048", "agenda.ics")),
        (CSV, export("commune", "93048", "events.csv")),
    ]
    assert [(a["type"], a["href"]) for a in events_page.open_data[:-1]] == (
        events_page.alternates()
    )
    month = await site.page("/events?view=month&month=2026-06")
    assert month.alternates() == events_page.alternates()
    proposals = await site.page("/proposals")
    assert proposals.alternates() == [
        (RSS, URLS.proposals_feed("rss")),
        (ATOM, URLS.proposals_feed("atom")),
        (CSV, export("commune", "93048", "proposals.csv")),
    ]
    assert proposals.links[0]["title"] == "Propositions (RSS)"
    voting = await site.page("/proposals?state=voting", lang="en")
    assert voting.alternates()[:2] == [
        (RSS, URLS.proposals_feed("rss") + "?state=voting"),
        (ATOM, URLS.proposals_feed("atom") + "?state=voting"),
    ]
    assert voting.links[0]["title"] == "Proposals: Vote open (RSS)"
    directory = await site.page("/organizations")
    assert directory.alternates() == [
        (CSV, export("commune", "93048", "organizations.csv")),
        (GEOJSON, export("commune", "93048", "map.geojson")),
    ]
    tag = await site.page("/tags/velo")
    assert tag.alternates() == [(ICS, URLS.tag_agenda("velo"))]
    # A tag that a path could not hold as it is comes back whole from its quoted address.
    odd = await site.page(URLS.tag("a?b#c").removeprefix(BASE))
    assert odd.alternates() == [(ICS, URLS.tag_agenda("a?b#c"))]
    assert "#a?b#c" in odd.raw  # type: ignore[attr-defined]
    assert tag.links[0]["title"] == "Agenda de #velo (iCalendar)"
    assert (await site.page("/map")).alternates() == [
        (GEOJSON, export("commune", "93048", "map.geojson"))
    ]
    # A page with no file of its own still has the catalogue (checked by `page`), only it.
    assert (await site.page("/")).alternates() == []
    assert (await site.page("/search")).alternates() == []


async def test_hostile_titles_and_urls_stay_inside_the_script_and_out_of_the_json_ld(
    site: Site,
) -> None:
    event = await site.event(site.camille, title=HOSTILE, description=HOSTILE)
    # Rows written before the URL checks, or by a bug: the page must not pass them on.
    async with site.pool.acquire() as conn:
        await conn.execute(
            """UPDATE events SET online_url = 'javascript:alert(1)',
                      image_url = 'JaVaScRiPt:alert(2)', url = 'data:text/html,x'
                WHERE id = $1""",
            event.id,
        )
        for actor in (site.camille, site.velo):
            await actor_queries.update_profile(
                conn,
                actor.id,
                display_name=HOSTILE,
                summary=HOSTILE,
                manually_approves_followers=False,
                discoverable=True,
            )
    for path in (f"/events/{event.token}", "/@camille", "/organizations/velo"):
        page = await site.page(path)
        raw: str = page.raw  # type: ignore[attr-defined]
        script = raw.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
        # Nothing in the element can end it or open a comment: < > & are escaped, U+2028 too.
        for forbidden in ("<", ">", "&", "\u2028"):
            assert forbidden not in script, (path, forbidden)
        assert page.other_scripts == []
        found = page.structured()
        assert found is not None
        assert found["name"] == HOSTILE
        assert "javascript" not in json.dumps(found).lower()
        assert "data:" not in json.dumps(found)
        # The head's titles are attributes, escaped: the parser reads them back whole.
        assert all("<script>" not in link["href"] for link in page.links)
    page = await site.page(f"/events/{event.token}")
    found = page.structured()
    assert found is not None
    assert found["url"] == event.uri
    assert "image" not in found
    # The javascript: online address is no VirtualLocation: the event is offline.
    assert found["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert found["location"]["@type"] == "Place"
    assert page.links[1]["title"] == f"{HOSTILE} (iCalendar)"


def test_the_pure_documents_refuse_absurd_places_and_shape_dates() -> None:
    """schemaorg.py alone: absurd coordinates, the box of a territory with no centre, all-day
    dates, long descriptions cut on a word."""
    assert schemaorg.geo(float("nan"), 2.0) is None
    assert schemaorg.geo(91.0, 2.0) is None
    assert schemaorg.geo(48.0, float("inf")) is None
    assert schemaorg.geo(None, 2.0) is None
    assert schemaorg.place(Location(latitude=1e308, longitude=2.0)) is None
    area = Territory(
        id=1,
        level="quartier",
        code="93048-bas-montreuil",
        name="Bas-Montreuil",
        kind="quartier",
        parent_id=None,
        postal_codes=[],
        population=None,
        zone=None,
        latitude=None,
        longitude=None,
        bbox=[2.41, 48.85, 2.45, 48.87],
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    described = schemaorg.territory(area, None, URLS)
    assert described["@type"] == "AdministrativeArea"
    assert described["geo"] == {"@type": "GeoShape", "box": "48.85 2.41 48.87 2.45"}
    assert "identifier" not in described
    assert "containedInPlace" not in described
    broken = dataclasses.replace(area, bbox=[2.41, 48.85, float("nan"), 95.0])
    assert "geo" not in schemaorg.territory(broken, None, URLS)
    start = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    day = Event(
        uri=URLS.event("x"),
        organizer_uri=URLS.actor("camille"),
        title="Réveillon",
        description_html="<p>" + "mot " * 1000 + "</p>",
        starts_at=start,
        ends_at=start + timedelta(days=1),
        published=start,
        all_day=True,
    )
    found = schemaorg.event(day, organizer=None, language="fr")
    assert found is not None
    # 23:30 UTC on the 31st is already the 1st in Paris.
    assert (found["startDate"], found["endDate"]) == ("2027-01-01", "2027-01-02")
    assert len(found["description"]) <= schemaorg.MAX_DESCRIPTION + 1
    assert found["description"].endswith("mot…")
    assert "location" not in found
    assert (
        schemaorg.event(dataclasses.replace(day, public=False), organizer=None, language="fr")
        is None
    )
