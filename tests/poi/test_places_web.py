"""Points of interest from the web: a citizen adds a shared library with photos; its page (HTML
and its `Place`), the scope query, the map's GeoJSON, the territory's map.geojson and places
page show it; needs/offers and projects located beside it show with their kind; the author edits
and deletes it; others cannot; hostile forms get a precise 4xx and store nothing. On an instance
serving the région Île-de-France of the Montreuil/Bagnolet slice."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from geojson_pydantic import FeatureCollection
from PIL import Image
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.audit.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.media.service import file_path
from fedicity.poi import queries as poi_queries
from fedicity.poi.models import PlaceData
from fedicity.poi.service import located_item
from fedicity.settings import Settings
from fedicity.stewardship import actions, targets
from fedicity.territories import queries as territory_queries
from fedicity.urls import Urls
from fedicity.web import places as web_places
from tests.accounts.helpers import picture
from tests.conftest import FixedKeys
from tests.territory_helpers import served_app
from tests.web.test_map import PASSWORD, _citizen, _log_in, _token

BASE = "http://fedicity.test"
URLS = Urls(BASE)
AP = {"Accept": "application/activity+json"}
HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France, with small caps so that photos pass them:
    an upload at most 300 kB, any other body 64 KiB."""
    return dataclasses.replace(
        settings,
        territory_level="region",
        territory_code="11",
        max_upload_bytes=300_000,
        max_body_bytes=65_536,
    )


def phone_photo() -> bytes:
    """A 2000 x 1500 JPEG with the EXIF a phone writes (its maker, here)."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "EvilPhone"
    Image.new("RGB", (2000, 1500), (30, 120, 80)).save(out, format="JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert b"EvilPhone" in data
    return data


def noise(side: int) -> bytes:
    """A PNG of random pixels, which does not compress: about 3 x side² bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the région prepared."""
    async with served_app(settings, pool, clock, keygen, tmp_path) as application:
        yield application


def _form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "kind": "shared_library",
        "name": "Boîte à livres du parc",
        "description": "**Prenez**, déposez. <script>alert(1)</script>",
        "latitude": "48.8655",
        "longitude": "2.4560",
        "territory": "93048",
        "street": "Place Jean-Jaurès",
        "postal_code": "93100",
        "locality": "Montreuil",
        **fields,
    }


async def _post(
    client: TestClientProtocol,
    path: str,
    form: dict[str, str],
    photos: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> tuple[int, str, str]:
    """A multipart POST as a browser sends it (several files under one name); (status, body,
    Location)."""
    encoded = httpx.Request(
        "POST",
        f"{BASE}{path}",
        data=form,
        files=[("photos", (name, data, "image/png")) for name, data in photos] or None,
    )
    body = encoded.read()
    if not photos:
        encoded = httpx.Request("POST", f"{BASE}{path}", data=form, files={"none": ("", b"")})
        body = encoded.read()
    response = await client.post(
        path, data=body, headers={"Content-Type": encoded.headers["Content-Type"]}
    )
    return (
        response.status_code,
        html.unescape(await response.get_data(as_text=True)),
        response.headers.get("Location", ""),
    )


async def _features(client: TestClientProtocol, path: str) -> list[dict[str, Any]]:
    response = await client.get(path)
    assert response.status_code == 200, path
    assert response.content_type.startswith("application/geo+json")
    document = json.loads(await response.get_data(as_text=True))
    FeatureCollection[Any].model_validate(document)  # RFC 7946, as the export tests check
    features: list[dict[str, Any]] = document["features"]
    return features


async def _located(pool: Pool, kind: str, title: str, number: int) -> None:
    """A located item of another kind, as the listings' and projects' packages write them."""
    async with pool.acquire() as conn:
        bagnolet = await territory_queries.select_territory(conn, "commune", "93006")
        assert bagnolet is not None
        await located_queries.upsert_item(
            conn,
            NewItem(
                object_uri=f"{BASE}/{kind}s/{number}",
                kind=kind,  # type: ignore[arg-type]
                territory_id=bagnolet.id,
                title=title,
                summary="",
                url=f"{BASE}/{kind}s/{number}",
                author_uri=f"{BASE}/actors/camille",
                origin_host="fedicity.test",
                published=datetime(2026, 1, 2, tzinfo=UTC),
                latitude=48.8692,
                longitude=2.4183,
            ),
        )


async def test_a_citizen_adds_a_place_that_every_view_of_the_territory_shows(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    # Given a logged-in citizen of Montreuil
    await _citizen(pool, keygen, "camille")
    token = await _log_in(client, "camille")
    assert (await client.get("/places/new", headers=HTML)).status_code == 200

    # When she adds a shared library with two photos
    status, body, location = await _post(
        client,
        "/places/new",
        _form(token),
        [("a.jpg", phone_photo()), ("b.png", picture(300, 300, colour=(200, 10, 10, 128)))],
    )
    assert status == 303, body
    assert location.startswith("/places/")
    uri = f"{BASE}{location}"

    # Then its page shows it, sanitised, with its photos, kind and address
    page = await (await client.get(location, headers=HTML)).get_data(as_text=True)
    assert "Boîte à livres du parc" in page
    assert "<strong>Prenez</strong>" in page
    assert "<script>alert(1)" not in page
    assert page.count('src="http://fedicity.test/media/') == 2
    assert "Place Jean-Jaurès, 93100 Montreuil" in page
    assert 'data-features="' in page
    # with its schema.org description for search engines and harvesters
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found is not None
    described = json.loads(found.group(1))
    assert (described["@type"], described["additionalType"]) == ("Place", "Boîte à livres")
    assert described["geo"]["latitude"] == 48.8655
    assert described["address"]["postalCode"] == "93100"
    assert len(described["image"]) == 2

    # And servers read a Place with its kind, point, address, photos and territory
    document = json.loads(await (await client.get(location, headers=AP)).get_data(as_text=True))
    assert document["type"] == "Place"
    assert document["id"] == uri
    assert document["placeKind"] == "shared_library"
    assert (document["latitude"], document["longitude"]) == (48.8655, 2.456)
    assert document["address"]["postalCode"] == "93100"
    # Encoded again: the phone's EXIF is gone, the big one scaled down, transparency kept
    assert [a["mediaType"] for a in document["attachment"]] == ["image/jpeg", "image/png"]
    assert (document["attachment"][0]["width"], document["attachment"][0]["height"]) == (1600, 1200)
    stored = file_path(settings.data_dir, document["attachment"][0]["url"].rsplit("/", 1)[1])
    assert stored is not None
    assert b"EvilPhone" not in stored.read_bytes()
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert montreuil is not None
        announces = await conn.fetch(
            "SELECT type, raw FROM outbox_activities WHERE raw->'object'->>'id' = $1"
            " OR raw->'object'->'object'->>'id' = $1 ORDER BY id",
            uri,
        )
    # The Create, then an Announce by each served territory it is in (commune up to région)
    assert [row["type"] for row in announces][:2] == ["Create", "Announce"]
    assert {row["type"] for row in announces[1:]} == {"Announce"}
    assert len(announces) >= 3
    assert document["audience"] == announces[0]["raw"]["audience"]

    # And the scope query, the map and the territory's export list it, kind and label given
    api = json.loads(
        await (await client.get("/api/v1/places?type=place&territory=commune:93048")).get_data(
            as_text=True
        )
    )
    assert [item["id"] for item in api["items"]] == [uri]
    for path in ("/map/features.geojson", URLS.territory_export("commune", "93048", "map.geojson")):
        place = next(f for f in await _features(client, path) if f["properties"]["url"] == uri)
        assert place["geometry"]["coordinates"] == [2.456, 48.8655]
        assert place["properties"]["kind"] == "place"
        assert place["properties"]["placeKind"] == "shared_library"
        assert place["properties"]["placeKindLabel"] == "Boîte à livres"
    listing = await client.get("/territoires/commune/93048/places?kind=shared_library")
    assert "Boîte à livres du parc" in await listing.get_data(as_text=True)
    other_kind = await client.get("/territoires/commune/93048/places?kind=parking")
    assert "Boîte à livres du parc" not in await other_kind.get_data(as_text=True)
    assert (await client.get("/territoires/commune/93048/places?kind=x")).status_code == 400

    # And needs/offers and projects located beside it show with their own kind and label
    await _located(pool, "listing", "Donne vélo enfant", 1)
    await _located(pool, "project", "Jardin partagé des Malassis", 2)
    kinds = {
        f["properties"]["name"]: (f["properties"]["kind"], f["properties"]["kindLabel"])
        for f in await _features(client, "/map/features.geojson")
    }
    assert kinds["Donne vélo enfant"] == ("listing", "Besoin ou offre")
    assert kinds["Jardin partagé des Malassis"] == ("project", "Projet")
    assert kinds["Boîte à livres du parc"] == ("place", "Lieu")
    map_page = await (await client.get("/map", headers=HTML)).get_data(as_text=True)
    for heading in ("Lieux (1)", "Besoins et offres (1)", "Projets (1)"):
        assert heading in map_page
    assert 'name="kind" value="listing" checked' in map_page

    # When another citizen tries to change or delete it, she is refused
    await _citizen(pool, keygen, "dominique")
    assert (await client.get("/logout")).status_code in (200, 302, 303, 405)
    other = await _log_in(client, "dominique")
    assert (await client.get(f"{location}/edit", headers=HTML)).status_code == 403
    refused = await client.post(f"{location}/delete", form={"csrf_token": other})
    assert refused.status_code == 403

    # But she may report it
    report = await client.get("/report", query_string={"kind": "place", "uri": uri})
    assert report.status_code == 200
    assert "Boîte à livres du parc" in await report.get_data(as_text=True)

    # When an admin renames it and keeps one photo, the Update goes out as its author's
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="maire", password=PASSWORD, keygen=keygen, is_admin=True
        )
    await _log_in(client, "maire")
    token = await _token(client, f"{location}/edit")
    kept = document["attachment"][0]["url"]
    # (three photos of 250 kB: more than two uploads' worth, within the form's four)
    big = [(f"{n}.png", noise(290)) for n in range(3)]
    status, body, _ = await _post(
        client,
        f"{location}/edit",
        {**_form(token, name="Boîte à livres"), "keep_photo": kept},
        big,
    )
    assert status == 303, body
    edited = json.loads(await (await client.get(location, headers=AP)).get_data(as_text=True))
    assert edited["name"] == "Boîte à livres"
    assert "updated" in edited
    assert edited["attachment"][0]["url"] == kept
    assert len(edited["attachment"]) == 4
    async with pool.acquire() as conn:
        update = await conn.fetchrow(
            "SELECT raw FROM outbox_activities WHERE type = 'Update' AND raw->'object'->>'id' = $1",
            uri,
        )
    assert update is not None
    assert update["raw"]["actor"] == f"{BASE}/actors/camille"

    # When the author deletes it, it is gone from its page, the scope query and the map
    await _log_in(client, "camille")
    token = await _token(client, f"{location}/edit")

    assert (await client.post(f"{location}/delete", form={"csrf_token": token})).status_code == 303
    assert (await client.get(location, headers=HTML)).status_code == 410
    assert uri not in {
        f["properties"]["url"] for f in await _features(client, "/map/features.geojson")
    }
    async with pool.acquire() as conn:
        assert await located_queries.select_item(conn, uri) is None
        deletes = await conn.fetchval(
            "SELECT count(*) FROM outbox_activities"
            " WHERE type = 'Delete' AND raw->'object'->>'id' = $1",
            uri,
        )
    assert deletes == 1

    # When a moderator removes a reported place, it goes as its author's deletion would
    status, body, second = await _post(client, "/places/new", _form(token, name="Doublon"))
    assert status == 303, body
    second_uri = f"{BASE}{second}"
    # The territory's places come a page at a time, newest first
    status, body, _ = await _post(client, "/places/new", _form(token, name="Dernier ajouté"))
    assert status == 303, body
    monkeypatch.setattr(web_places, "PLACES_PAGE", 1)
    first_page = await (await client.get("/territoires/commune/93048/places")).get_data(
        as_text=True
    )
    assert "Dernier ajouté" in first_page
    assert "Doublon" not in first_page
    following = re.search(r'rel="next" href="([^"]+)"', first_page)
    assert following is not None
    second_page = await client.get(html.unescape(following.group(1)))
    assert "Doublon" in await second_page.get_data(as_text=True)
    bad = await client.get("/territoires/commune/93048/places?before=x")
    assert bad.status_code == 400

    # A remote place is listed until its server is silenced here
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert montreuil is not None
        remote = await poi_queries.upsert_place(
            conn,
            PlaceData(
                uri="https://silenced.example/places/1",
                kind="artwork",
                name="Fresque distante",
                description_html="",
                latitude=48.86,
                longitude=2.44,
                territory_id=montreuil.id,
                author_uri="https://silenced.example/users/x",
                local=False,
                published=datetime(2026, 1, 3, tzinfo=UTC),
            ),
        )
        assert remote is not None
        await located_queries.upsert_item(
            conn, located_item(remote, origin_host="silenced.example")
        )
    artworks = "/territoires/commune/93048/places?kind=artwork"
    assert "Fresque distante" in await (await client.get(artworks)).get_data(as_text=True)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO domain_policies (domain, action) VALUES ('silenced.example', 'silence')"
        )
    assert "Fresque distante" not in await (await client.get(artworks)).get_data(as_text=True)
    async with pool.acquire() as conn:
        target = await targets.find(conn, URLS, second_uri, "place")
        assert target is not None
        assert (target.kind, target.owner, target.local) == (
            "place",
            f"{BASE}/actors/camille",
            True,
        )
        removed = await actions.remove_object(
            conn,
            target,
            by=Actor("maire"),
            reason="doublon",
            env=actions.Env(urls=URLS, clock=clock),
        )
        assert removed
        assert await located_queries.select_item(conn, second_uri) is None
    assert (await client.get(second, headers=HTML)).status_code == 410


HOSTILE = [
    ({"kind": "javascript:alert(1)"}, 422, "Choisissez un type de lieu"),
    ({"name": "  "}, 422, "Un lieu a besoin d'un nom"),
    ({"name": "x" * 201}, 422, "200 caractères au plus"),
    ({"name": "ligne\u0007"}, 422, "200 caractères au plus"),
    ({"latitude": "nan"}, 422, "La latitude"),
    ({"latitude": "1e999"}, 422, "La latitude"),
    ({"latitude": "91"}, 422, "La latitude"),
    ({"longitude": "-180.5"}, 422, "La longitude"),
    ({"latitude": "", "longitude": ""}, 422, "Placez l'épingle"),
    ({"latitude": "48.8", "longitude": ""}, 422, "ou aucune des deux"),
    ({"territory": ""}, 422, "Indiquez dans quelle commune"),
    ({"territory": "75056"}, 422, "n'est pas desservi"),
    ({"description": "x" * 20_001}, 422, "20 000 caractères"),
    ({"street": "y" * 201}, 422, "Chaque partie de l'adresse"),
]


async def test_hostile_place_forms_get_a_precise_refusal_and_store_nothing(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # A visitor is sent to log in first
    response = await client.get("/places/new", headers=HTML)
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]
    await _citizen(pool, keygen, "camille")
    token = await _log_in(client, "camille")
    for fields, status, words in HOSTILE:
        got, body, _ = await _post(client, "/places/new", _form(token, **fields))
        assert (got, words in body) == (status, True), (fields, body[:300])
        # What was typed is kept, as text (escaped in the page)
        assert "description" in fields or "**Prenez**, déposez. <script>alert(1)</script>" in body
    # Five photos, a file that is no image, and one past the upload cap
    too_many = [(f"{n}.png", picture(10, 10)) for n in range(5)]
    got, body, _ = await _post(client, "/places/new", _form(token), too_many)
    assert (got, "4 photos au plus" in body) == (422, True)
    got, body, _ = await _post(client, "/places/new", _form(token), [("big.png", noise(370))])
    assert (got, "trop lourde" in body) == (413, True), body[:300]
    got, _, _ = await _post(client, "/places/new", _form(token), [("a", noise(290))] * 5)
    assert got == 413
    svg = [("x.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')]
    got, body, _ = await _post(client, "/places/new", _form(token), svg)
    assert (got, "PNG, JPEG, GIF ou WebP" in body) == (422, True), body[:300]
    # A NUL is refused before any view, as everywhere
    got, _, _ = await _post(client, "/places/new", _form(token, name="a\u0000b"))
    assert got == 400
    # Unknown and absurd tokens are 404, a NUL 400
    for path, expected in (
        ("/places/nope", 404),
        ("/places/" + "x" * 100, 404),
        ("/places/%00", 400),
    ):
        assert (await client.get(path, headers=HTML)).status_code == expected, path
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM points_of_interest") == 0
        assert await conn.fetchval("SELECT count(*) FROM media") == 0
