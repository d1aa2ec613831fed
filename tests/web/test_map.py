"""The map: its GeoJSON (scope, only public and upcoming, [lon, lat], hostile names as data),
its page (the same items listed by kind, usable without script, no inline script), Leaflet served
from our static files, and the place picker's fields on the event and organisation forms
(checked on the server, errors by the field, what was typed kept). On an instance serving the
région Île-de-France of the Montreuil/Bagnolet slice."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from quart import Quart
from quart.typing import TestClientProtocol
from werkzeug.datastructures import MultiDict

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events.models import EventData, Location
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.organizations import queries as organization_queries
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.web.forms import point
from tests.conftest import FixedKeys
from tests.territory_helpers import served_app

BASE = "http://fedicity.test"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
PASSWORD = "correct horse battery"
STATIC = Path(__file__).resolve().parents[2] / "fedicity" / "web" / "static"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HOSTILE_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'
JAVASCRIPT_NAME = "javascript:alert(document.cookie)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the région prepared."""
    async with served_app(settings, pool, clock, keygen, tmp_path) as application:
        yield application


# --- helpers ---------------------------------------------------------------------------------


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> int:
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password=PASSWORD, keygen=keygen, locale="fr"
        )
    return account.actor_id


async def _token(client: TestClientProtocol, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, path
    found = _CSRF.search(await response.get_data(as_text=True))
    assert found is not None, path
    return found.group(1)


async def _log_in(client: TestClientProtocol, username: str = "camille") -> str:
    """Log in; return a CSRF token of the session."""
    token = await _token(client, "/login")
    response = await client.post(
        "/login", form={"csrf_token": token, "login": username, "password": PASSWORD}
    )
    assert response.status_code == 303
    return await _token(client, "/events/new")


def _event_form(token: str, title: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "title": title,
        "starts_at": "2026-06-21T14:30",
        "ends_at": "2026-06-21T18:00",
        "timezone": "Europe/Paris",
        "place_name": "Place de la mairie",
        "join_mode": "free",
        **fields,
    }


async def _organise(client: TestClientProtocol, token: str, title: str, **fields: str) -> str:
    response = await client.post("/events", form=_event_form(token, title, **fields))
    assert response.status_code == 303, html.unescape(await response.get_data(as_text=True))
    return str(response.headers["Location"])


async def _organisation(
    pool: Pool,
    keygen: FixedKeys,
    username: str,
    name: str,
    *,
    place: tuple[float, float] | None,
    home: str | None = None,
    discoverable: bool = True,
) -> None:
    async with pool.acquire() as conn:
        actor = await actor_service.create_organization(
            conn, username, organization_kind="association", display_name=name, keygen=keygen
        )
        if place is not None:
            await organization_queries.set_place(
                conn, actor.id, latitude=place[0], longitude=place[1]
            )
        if home is not None:
            territory = await territory_queries.select_territory(conn, "commune", home)
            assert territory is not None
            await actor_queries.update_home_territory(conn, actor.id, territory.id)
        if not discoverable:
            await conn.execute("UPDATE actors SET discoverable = false WHERE id = $1", actor.id)


async def _remote_event(
    pool: Pool, number: int, title: str, *, public: bool = True, url: str | None = None
) -> None:
    """An event from another server, located in Montreuil, at a point of its own."""
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert montreuil is not None
        await event_queries.upsert_event(
            conn,
            EventData(
                uri=f"https://mobilizon.example/events/{number}",
                organizer_uri="https://mobilizon.example/@collectif",
                title=title,
                description_html="",
                starts_at=datetime(2026, 5, 1, 10, tzinfo=UTC),
                ends_at=None,
                published=datetime(2025, 12, 1, tzinfo=UTC),
                location=Location(place_name="Parc", latitude=48.8655, longitude=2.4560),
                territory_id=montreuil.id,
                url=url,
                public=public,
            ),
        )


async def _proposal_in_bagnolet(pool: Pool) -> None:
    async with pool.acquire() as conn:
        bagnolet = await territory_queries.select_territory(conn, "commune", "93006")
        assert bagnolet is not None
        await located_queries.upsert_item(
            conn,
            NewItem(
                object_uri="https://fedicity.test/proposals/jardin",
                kind="proposal",
                territory_id=bagnolet.id,
                title="Un jardin partagé",
                summary="Planter des arbres fruitiers",
                url="https://fedicity.test/proposals/jardin",
                author_uri=f"{BASE}/actors/camille",
                origin_host="fedicity.test",
                published=datetime(2025, 12, 2, tzinfo=UTC),
                latitude=48.8692,
                longitude=2.4183,
            ),
        )


async def _features(client: TestClientProtocol, query: str = "") -> list[dict[str, Any]]:
    response = await client.get("/map/features.geojson" + query)
    assert response.status_code == 200, query
    assert response.content_type.startswith("application/geo+json")
    document = json.loads(await response.get_data(as_text=True))
    assert document["type"] == "FeatureCollection"
    features: list[dict[str, Any]] = document["features"]
    return features


def _names(features: list[dict[str, Any]]) -> set[str]:
    return {f["properties"]["name"] for f in features}


async def _page(client: TestClientProtocol, path: str) -> str:
    response = await client.get(path, headers=BROWSER)
    assert response.status_code == 200, path
    return await response.get_data(as_text=True)


# --- the GeoJSON -----------------------------------------------------------------------------


async def test_features_are_what_is_upcoming_public_and_placed_in_the_scope(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given a citizen's events: one with a picked place in Montreuil, one in Bagnolet, one
    # picked with no territory, one already over, one cancelled, and one online only
    await _citizen(pool, keygen)
    token = await _log_in(client)
    await _organise(
        client, token, "Fête de quartier", territory="93048", latitude="48.86", longitude="2.44"
    )
    await _organise(
        client, token, "Vide-grenier", territory="93006", latitude="48.8700", longitude="2.4200"
    )
    await _organise(client, token, "Pique-nique", latitude="48.8580", longitude="2.4350")
    await _organise(
        client,
        token,
        "Concert passé",
        territory="93048",
        latitude="48.86",
        longitude="2.44",
        starts_at="2025-12-01T20:00",
        ends_at="2025-12-01T22:00",
    )
    cancelled = await _organise(
        client, token, "Bal annulé", territory="93048", latitude="48.86", longitude="2.44"
    )
    response = await client.post(cancelled + "/cancel", form={"csrf_token": token})
    assert response.status_code == 303
    await _organise(
        client, token, "Réunion en ligne", place_name="", online_url="https://visio.example/r"
    )
    # And a remote public event and a remote followers-only one, both in Montreuil
    await _remote_event(pool, 1, "Atelier vélo")
    await _remote_event(pool, 2, "Réunion privée", public=False)
    # And organisations: placed in Montreuil, placed with no home, without a place, hidden
    await _organisation(pool, keygen, "amap", "AMAP", place=(48.8582, 2.4353), home="93048")
    await _organisation(pool, keygen, "fournil", "Le Fournil", place=(48.8560, 2.4290))
    await _organisation(pool, keygen, "nowhere", "Sans adresse", place=None, home="93048")
    await _organisation(
        pool, keygen, "hidden", "Cachée", place=(48.86, 2.44), home="93048", discoverable=False
    )
    # And a proposal located in Bagnolet
    await _proposal_in_bagnolet(pool)

    # When the map of the served région is asked for
    features = await _features(client)
    # Then it has what is upcoming, public and placed here, soonest events first
    assert _names(features) == {
        "Fête de quartier",
        "Vide-grenier",
        "Pique-nique",
        "Atelier vélo",
        "AMAP",
        "Le Fournil",
        "Sans adresse",
        "Un jardin partagé",
    }
    kinds = {f["properties"]["name"]: f["properties"]["kind"] for f in features}
    assert kinds["AMAP"] == "organization"
    assert kinds["Un jardin partagé"] == "proposal"
    assert kinds["Atelier vélo"] == "event"
    # With GeoJSON's order: longitude first
    fete = next(f for f in features if f["properties"]["name"] == "Fête de quartier")
    assert fete["geometry"] == {"type": "Point", "coordinates": [2.44, 48.86]}
    assert fete["properties"]["url"].startswith(f"{BASE}/events/")
    assert fete["properties"]["kindLabel"] == "Événement"
    assert "21 juin 2026" in fete["properties"]["when"]
    amap = next(f for f in features if f["properties"]["name"] == "AMAP")
    assert amap["geometry"]["coordinates"] == [2.4353, 48.8582]
    assert amap["properties"]["url"] == f"{BASE}/organizations/amap"
    assert "approximate" not in amap["properties"]
    # With no point of its own, at its home commune's centre, said to be approximate
    nowhere = next(f for f in features if f["properties"]["name"] == "Sans adresse")
    assert nowhere["geometry"]["coordinates"] == [2.4485, 48.8638]
    assert nowhere["properties"]["approximate"] is True
    remote = next(f for f in features if f["properties"]["name"] == "Atelier vélo")
    assert remote["properties"]["url"] == "https://mobilizon.example/events/1"

    # When a commune is the scope: only what is located there or below
    montreuil = _names(await _features(client, "?territory=93048"))
    assert montreuil == {"Fête de quartier", "Atelier vélo", "AMAP", "Sans adresse"}
    assert _names(await _features(client, "?territory=commune:93006")) == {
        "Vide-grenier",
        "Un jardin partagé",
    }
    # A département in between holds both communes' items, Paris none
    assert _names(await _features(client, "?territory=93")) == montreuil | {
        "Vide-grenier",
        "Un jardin partagé",
    }
    assert await _features(client, "?territory=75") == []
    # And time passes: an event over is no longer on the map
    clock.advance(timedelta(days=200))
    assert "Fête de quartier" not in _names(await _features(client))


@pytest.mark.parametrize(
    "territory",
    [
        "99999",
        "region:84",
        "country:FR",
        "commune:75056",
        "<script>",
        "93048%00",
        "x" * 500,
        "javascript:alert(1)",
        "commune:",
        ":93048",
    ],
)
async def test_a_territory_not_served_is_a_404(client: TestClientProtocol, territory: str) -> None:
    # When the map of a place this instance does not serve is asked for
    features = await client.get(f"/map/features.geojson?territory={territory}")
    page = await client.get(f"/map?territory={territory}", headers=BROWSER)
    # Then both say it is not served (the NUL character is refused before)
    assert features.status_code in {400, 404}
    assert features.content_type == "application/problem+json"
    assert page.status_code in {400, 404}
    assert page.content_type.startswith("text/html")


async def test_hostile_names_stay_data_in_the_geojson_and_text_on_the_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an event and an organisation named with markup and a javascript: "address", and a
    # remote event whose url is a javascript: URL
    await _citizen(pool, keygen)
    token = await _log_in(client)
    await _organise(
        client, token, HOSTILE_NAME, territory="93048", latitude="48.86", longitude="2.44"
    )
    await _organisation(pool, keygen, "evil", JAVASCRIPT_NAME, place=(48.861, 2.441), home="93048")
    await _remote_event(pool, 3, "Piège", url="javascript:alert(1)")
    # When the GeoJSON is read
    response = await client.get("/map/features.geojson")
    body = await response.get_data(as_text=True)
    # Then the names are JSON strings, with no "<" a reader could take for markup
    assert "<" not in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    features = json.loads(body)["features"]
    assert {HOSTILE_NAME, JAVASCRIPT_NAME} <= _names(features)
    # And every link leads to a web page, never to a javascript: URL
    urls = {f["properties"]["url"] for f in features}
    assert all(url.startswith(("http://", "https://")) for url in urls), urls
    assert "https://mobilizon.example/events/3" in urls
    # When the page is read
    page = await _page(client, "/map")
    # Then the names are text: escaped, and no script or image came from them
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert str(escape(HOSTILE_NAME)) in page
    assert 'href="javascript:' not in page
    assert f">{JAVASCRIPT_NAME}</a>" in page


# --- the page --------------------------------------------------------------------------------


async def test_the_page_lists_the_same_items_by_kind_without_any_script(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an event, an organisation and a proposal with places in the région
    await _citizen(pool, keygen)
    token = await _log_in(client)
    await _organise(
        client, token, "Fête de quartier", territory="93048", latitude="48.86", longitude="2.44"
    )
    await _organisation(pool, keygen, "amap", "AMAP", place=(48.8582, 2.4353), home="93048")
    await _proposal_in_bagnolet(pool)
    # When a visitor opens the map
    response = await client.get("/map", headers=BROWSER)
    page = await response.get_data(as_text=True)
    text = html.unescape(page)
    # Then it is in French, under the header's « Carte »
    assert response.status_code == 200
    assert "<h1>Carte : Île-de-France</h1>" in text
    assert '<li><a href="/map">Carte</a></li>' in text
    # With the items listed by kind, each a link to its page, the event with its date
    events = text.index("Événements à venir")
    organisations = text.index("Organisations</h2>")
    proposals = text.index("Propositions</h2>")
    assert events < organisations < proposals
    assert "Fête de quartier</a><br>" in text[events:organisations]
    assert "21 juin 2026" in text[events:organisations]
    assert (
        f'<a href="{BASE}/organizations/amap" class="ugc">AMAP</a>' in text[organisations:proposals]
    )
    assert 'href="https://fedicity.test/proposals/jardin" class="ugc">Un jardin partagé</a>' in text
    # And the map is an enhancement: a hidden box for map.js, Leaflet from our static files,
    # no inline script, and the GeoJSON of the same scope
    assert '<div id="map" class="map" hidden' in page
    assert 'data-features="/map/features.geojson"' in page
    assert '<script src="/static/vendor/leaflet/leaflet.js" defer></script>' in page
    assert '<script src="/static/map.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">' in page
    assert not _INLINE_SCRIPT.search(page)
    assert "© les contributeurs et contributrices d'OpenStreetMap" in text
    # And the policy runs our scripts only, and lets the tiles (https images) in
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "img-src 'self' https:" in policy
    assert "default-src 'self'" in policy  # connect-src: the GeoJSON is ours
    # And the scope can go down to a commune of the région
    assert '<option value="93048">Montreuil</option>' not in page  # not a child of the région
    assert '<option value="93">Seine-Saint-Denis</option>' in page
    commune = html.unescape(await _page(client, "/map?territory=93048"))
    assert "<h1>Carte : Montreuil</h1>" in commune
    assert 'data-features="/map/features.geojson?territory=93048"' in commune
    assert "Un jardin partagé" not in commune
    assert '<option value="11">Île-de-France</option>' in commune
    # And in English when asked
    english = html.unescape(await _page(client, "/map?lang=en"))
    assert "<h1>Map of Île-de-France</h1>" in english
    assert "Upcoming events" in english
    assert "© OpenStreetMap contributors" in english


async def test_an_empty_map_says_how_things_get_on_it(client: TestClientProtocol) -> None:
    page = html.unescape(await _page(client, "/map"))
    assert "Rien ici n'a encore de place sur la carte" in page
    assert await _features(client) == []


def test_leaflet_was_installed_into_the_static_files() -> None:
    # `make` (npm ci) copies Leaflet there; nothing of it is in the repository
    leaflet = STATIC / "vendor" / "leaflet"
    assert (leaflet / "leaflet.js").is_file(), f"{leaflet} is missing: run `make` (npm ci)"
    assert (leaflet / "leaflet.css").is_file()
    assert (leaflet / "images" / "marker-icon.png").is_file()


async def test_leaflet_is_served_from_our_static_files(client: TestClientProtocol) -> None:
    for name, marker in (
        ("leaflet.js", b"Leaflet"),
        ("leaflet.css", b".leaflet-container"),
        ("images/layers.png", b"PNG"),
    ):
        response = await client.get(f"/static/vendor/leaflet/{name}")
        assert response.status_code == 200, name
        assert marker in await response.get_data()
    for name in ("map.js", "placepicker.js"):
        script = await client.get(f"/static/{name}")
        assert script.status_code == 200
        source = await script.get_data(as_text=True)
        # Data never becomes markup in our scripts
        assert "innerHTML" not in source
        assert "textContent" in source or name == "placepicker.js"


# --- the place picker's fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        ("", "", (None, None)),
        ("48.8638", "2.4485", (48.8638, 2.4485)),
        (" 48,8638 ", "2,4485", (48.8638, 2.4485)),
        ("-90", "180", (-90.0, 180.0)),
        ("+0", "-0.5", (0.0, -0.5)),
        ("90.0000001", "2", "latitude_invalid"),
        ("91", "2", "latitude_invalid"),
        ("48", "180.5", "longitude_invalid"),
        ("48", "-181", "longitude_invalid"),
        ("nan", "2", "latitude_invalid"),
        ("48", "inf", "longitude_invalid"),
        ("1e400", "2", "latitude_invalid"),
        ("4_8", "2", "latitude_invalid"),
        ("٤٨", "2", "latitude_invalid"),
        ("48.8.6", "2", "latitude_invalid"),
        ("9" * 10_000, "2", "latitude_invalid"),
        ("javascript:alert(1)", "2", "latitude_invalid"),
        ("48", "", "coordinates_incomplete"),
        ("", "2", "coordinates_incomplete"),
    ],
)
def test_the_form_point_is_read_strictly(
    latitude: str, longitude: str, expected: tuple[float | None, float | None] | str
) -> None:
    assert point(MultiDict({"latitude": latitude, "longitude": longitude})) == expected


async def test_the_event_form_picks_a_place_and_refuses_a_wrong_one_by_the_field(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen on the event form, which has the picker's fields and script
    await _citizen(pool, keygen)
    token = await _log_in(client)
    form = html.unescape(await _page(client, "/events/new"))
    assert 'name="latitude"' in form
    assert 'name="longitude"' in form
    assert '<script src="/static/placepicker.js" defer></script>' in form
    assert "data-placepicker" in form
    # With the served territory's centre, or the middle of what is placed, to start from
    assert 'data-center=""' in form  # the région has no centre, and nothing is placed yet
    # When she sends a latitude out of range
    response = await client.post(
        "/events",
        form=_event_form(token, "Fête de quartier", latitude="91", longitude="2.44"),
    )
    page = html.unescape(await response.get_data(as_text=True))
    # Then the form comes back with the error by the fields and what she typed
    assert response.status_code == 200
    assert re.search(
        r'name="latitude"[^>]*value="91" aria-invalid="true" aria-describedby="place-error"', page
    )
    assert 'value="Fête de quartier"' in page
    assert (
        '<p class="error" id="place-error" role="alert">La latitude est un nombre de degrés '
        "entre -90 et 90, par exemple 48,8638.</p>"
    ) in page
    # And garbage and half a point are refused the same way, never stored
    for fields, message in (
        ({"latitude": "48.86", "longitude": "east"}, "La longitude est un nombre"),
        ({"latitude": "48.86", "longitude": ""}, "Indiquez la latitude et la longitude"),
        ({"latitude": "NaN", "longitude": "2"}, "La latitude est un nombre"),
    ):
        refused = await client.post("/events", form=_event_form(token, "Essai", **fields))
        assert refused.status_code == 200
        assert message in html.unescape(await refused.get_data(as_text=True))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
    # When she sends a point written the French way
    created = await _organise(
        client, token, "Fête de quartier", latitude="48,8638", longitude="2,4485"
    )
    # Then the event is there, and its edit form shows the point to move
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT latitude, longitude FROM events")
    assert row is not None
    assert (row["latitude"], row["longitude"]) == (48.8638, 2.4485)
    edit = await _page(client, created + "/edit")
    assert re.search(r'name="latitude"[^>]*value="48.8638"', edit)
    assert re.search(r'name="longitude"[^>]*value="2.4485"', edit)
    # And the next form starts the picker where things are
    assert 'data-center="48.863800,2.448500"' in await _page(client, "/events/new")


async def test_an_organisation_gets_a_place_when_created_and_from_its_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen on the new organisation form, which has the picker
    await _citizen(pool, keygen)
    token = await _log_in(client)
    form = html.unescape(await _page(client, "/organizations/new"))
    assert 'name="latitude"' in form
    assert '<script src="/static/placepicker.js" defer></script>' in form
    # When she creates one with a longitude out of range
    response = await client.post(
        "/organizations",
        form={
            "csrf_token": token,
            "username": "amap",
            "display_name": "AMAP de la Croix-de-Chavaux",
            "kind": "association",
            "membership_mode": "open",
            "latitude": "48.8582",
            "longitude": "999",
        },
    )
    page = html.unescape(await response.get_data(as_text=True))
    # Then the form comes back with the error by the fields and everything she typed
    assert response.status_code == 422
    assert "La longitude est un nombre de degrés" in page
    assert 'value="amap"' in page
    assert 'value="AMAP de la Croix-de-Chavaux"' in page
    assert re.search(r'name="longitude"[^>]*value="999" aria-invalid="true"', page)
    assert '<option value="open" selected>' in page
    # When she sends it right
    response = await client.post(
        "/organizations",
        form={
            "csrf_token": token,
            "username": "amap",
            "display_name": "AMAP de la Croix-de-Chavaux",
            "kind": "association",
            "latitude": "48.8582",
            "longitude": "2.4353",
        },
    )
    assert response.status_code == 303
    # Then the organisation is on the map (it has no home territory: it is the région's)
    features = await _features(client)
    assert [f["geometry"]["coordinates"] for f in features] == [[2.4353, 48.8582]]
    assert features[0]["properties"]["url"] == f"{BASE}/organizations/amap"
    # When its admin moves it from its page, first with a half point, then right
    page = html.unescape(await _page(client, "/organizations/amap"))
    assert re.search(r'name="latitude"[^>]*value="48.8582"', page)
    refused = await client.post(
        "/organizations/amap/place", form={"csrf_token": token, "latitude": "48.86"}
    )
    refused_page = html.unescape(await refused.get_data(as_text=True))
    assert refused.status_code == 200
    assert "Indiquez la latitude et la longitude, ou aucune des deux." in refused_page
    assert re.search(r'name="latitude"[^>]*value="48.86" aria-invalid="true"', refused_page)
    moved = await client.post(
        "/organizations/amap/place",
        form={"csrf_token": token, "latitude": "48.8600", "longitude": "2.4400"},
    )
    assert moved.status_code == 303
    assert [f["geometry"]["coordinates"] for f in await _features(client)] == [[2.44, 48.86]]
    # And emptying both fields takes it off the map
    cleared = await client.post(
        "/organizations/amap/place", form={"csrf_token": token, "latitude": "", "longitude": ""}
    )
    assert cleared.status_code == 303
    assert await _features(client) == []


async def test_only_an_admin_places_an_organisation(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an organisation that yanis does not administer
    await _organisation(pool, keygen, "amap", "AMAP", place=(48.8582, 2.4353))
    await _citizen(pool, keygen, "yanis")
    token = await _log_in(client, "yanis")
    # When he tries to move it
    response = await client.post(
        "/organizations/amap/place",
        form={"csrf_token": token, "latitude": "0", "longitude": "0"},
    )
    # Then he is told only its admins can, and it stays where it was
    assert response.status_code == 303
    assert "error=not_admin" in response.headers["Location"]
    assert [f["geometry"]["coordinates"] for f in await _features(client)] == [[2.4353, 48.8582]]
    # And the page does not offer him the form
    assert 'action="/organizations/amap/place"' not in await _page(client, "/organizations/amap")
