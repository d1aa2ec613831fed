"""Listings on one instance serving the région Île-de-France (the Montreuil/Bagnolet slice): a
citizen posts a need/offer from the form; its page (price in the reader's language, Ğ1), its
`Page` for servers, the list filtered by kind and scope, the territory's items API and
/api/v1/places; expiry (the clock moved) takes it out of every list and renewing brings it
back; and hostile input, from the form or the network, refused precisely."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from geojson_pydantic import FeatureCollection
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import closing
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.listings import queries as listing_queries
from fedicity.listings import service as listings
from fedicity.listings.parse import RemotePlace, listing_from_ap, place_of, price_of
from fedicity.located import queries as located_queries
from fedicity.organizations import queries as organization_queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.territory_helpers import served_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
AS = {"Accept": "application/activity+json"}
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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


async def _log_in(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, name: str, *, new: bool = True
) -> str:
    """Register (when `new`) and log in; a CSRF token of the session."""
    if new:
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username=name, password=PASSWORD, keygen=keygen, locale="fr"
            )
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    answer = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": name, "password": PASSWORD}
    )
    assert answer.status_code == 303
    form = await (await client.get("/listings/new")).get_data(as_text=True)
    found = _CSRF.search(form)
    assert found is not None
    return found.group(1)


def _form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "kind": "ressource",
        "section": "offer",
        "category": "service",
        "title": "Réparation de vélos",
        "description": "Je répare les **vélos** du quartier.",
        "price": "15",
        "currency": "EUR",
        "territory": "commune:93048",
        **fields,
    }


async def _json(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, await response.get_data(as_text=True)
    found: dict[str, Any] = await response.get_json(force=True)
    return found


async def _text(response: Any) -> str:
    return html.unescape(await response.get_data(as_text=True))


async def test_a_listing_from_the_form_to_its_page_the_lists_and_expiry(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    clock.current = datetime(2026, 12, 4, 10, tzinfo=UTC)
    token = await _log_in(client, pool, keygen, "alice")

    # Given alice's offer in Montreuil and a Ğ1 classified in Bagnolet, posted from the form
    posted = await client.post("/listings", form=_form(token))
    assert posted.status_code == 303, await _text(posted)
    page_path = posted.headers["Location"]
    bagnolet = await client.post(
        "/listings",
        form=_form(
            token,
            kind="classified",
            section="for_sale",
            category="home",
            title="Table en chêne",
            price="1500",
            currency="G1",
            territory="commune:93006",
            latitude="48.87",
            longitude="2.42",
        ),
    )
    assert bagnolet.status_code == 303, await _text(bagnolet)

    # Then its page says the essentials in French: € after the number, until when, the commune
    page = await _text(await client.get(page_path, headers=BROWSER))
    assert "Réparation de vélos" in page
    assert "15\u00a0€" in page
    assert "<strong>vélos</strong>" in page
    assert "Montreuil" in page
    assert "3 janvier 2027" in page
    table = await _text(await client.get(bagnolet.headers["Location"], headers=BROWSER))
    assert "1\u202f500\u00a0Ğ1" in table
    english = await _text(await client.get(page_path + "?lang=en", headers=BROWSER))
    assert "€15" in english
    await client.get(page_path + "?lang=fr", headers=BROWSER)  # the language is remembered

    # And servers get a Page Mastodon can show, with the fc: and schema.org terms
    document = await _json(await client.get(page_path, headers=AS))
    assert document["type"] == "Page"
    assert document["name"] == "Réparation de vélos"
    assert "Offre · Service · 15\u00a0€ · jusqu\u2019au 3 janvier 2027" in document["content"]
    assert "Répondre : message privé à @alice@fedicity.test" in document["content"]
    assert (document["listingKind"], document["section"], document["category"]) == (
        "ressource",
        "offer",
        "service",
    )
    assert (document["price"], document["priceCurrency"]) == ("15", "EUR")
    assert document["validThrough"] == document["endTime"]
    assert document["validThrough"].startswith("2027-01-03T")
    assert document["location"]["territoryCode"] == "93048"
    assert document["location"]["latitude"] == pytest.approx(48.8638)  # the commune's centre
    assert document["attributedTo"] == "http://fedicity.test/actors/alice"
    assert document["tag"][0]["name"] == "#ressources"
    assert document["audience"] in document["cc"]

    # And the lists: by kind, by scope (a commune holds its own only; the département both)
    async def titles(query: str) -> list[str]:
        listed = await _text(await client.get(f"/listings?{query}", headers=BROWSER))
        return [t for t in ("Réparation de vélos", "Table en chêne") if t in listed]

    assert await titles("") == ["Réparation de vélos", "Table en chêne"]
    assert await titles("kind=classified") == ["Table en chêne"]
    assert await titles("section=offer&category=service") == ["Réparation de vélos"]
    assert await titles("territory=commune:93048") == ["Réparation de vélos"]
    assert await titles("territory=departement:93") == ["Réparation de vélos", "Table en chêne"]
    assert await titles("q=CH%C3%8ANE") == ["Table en chêne"]
    territory_page = await _text(await client.get("/territoires/commune/93006", headers=BROWSER))
    assert "Table en chêne" in territory_page
    assert "Réparation de vélos" not in territory_page
    nav = await _text(await client.get("/events", headers=BROWSER))
    assert 'href="/listings"' in nav

    # And the scope query: the territory items API with kind=listing, and /api/v1/places
    items = await _json(await client.get("/api/territories/commune/93048/items?kind=listing"))
    assert [(i["title"], i["url"]) for i in items["items"]] == [
        ("Réparation de vélos", document["id"])
    ]
    places = await _json(await client.get("/api/v1/places?type=listing&territory=commune:93006"))
    assert [p["title"] for p in places["items"]] == ["Table en chêne"]
    async with pool.acquire() as conn:
        item = await located_queries.select_item(conn, document["id"])
    assert item is not None
    assert item.kind == "listing"
    assert item.summary.startswith("Offre · Service · 15\u00a0€")
    assert item.latitude == pytest.approx(48.8638)
    assert item.longitude == pytest.approx(2.4485)
    # And the map: its GeoJSON and the territory's map.geojson file show it as a listing, at the
    # commune's centre (it has no point of its own), valid RFC 7946
    for path in ("/map/features.geojson", "/territoires/commune/93048/map.geojson"):
        response = await client.get(path)
        assert response.status_code == 200, path
        collection = json.loads(await _text(response))
        FeatureCollection[Any].model_validate(collection)
        (marker,) = [f for f in collection["features"] if f["properties"]["url"] == document["id"]]
        assert marker["properties"]["kind"] == "listing", path
        assert marker["properties"]["name"] == "Réparation de vélos"
        assert marker["geometry"]["coordinates"] == pytest.approx([2.4485, 48.8638])

    # When the clock passes the expiry
    clock.advance(timedelta(days=31))
    # Then it leaves the list at once, its page says it expired, and housekeeping takes it
    # out of the scope query
    assert await titles("") == []
    expired = await _text(await client.get(page_path, headers=BROWSER))
    assert "expirée" in expired
    async with pool.acquire() as conn:
        assert await listings.unlocate_expired(conn, clock.now()) == 2
        assert await listings.unlocate_expired(conn, clock.now()) == 0
    items = await _json(await client.get("/api/territories/commune/93048/items?kind=listing"))
    assert items["items"] == []

    # When alice (logged in again: a month went by) renews it, it is back in the lists and the
    # scope query
    token = await _log_in(client, pool, keygen, "alice", new=False)
    renewed = await client.post(page_path + "/renew", form={"csrf_token": token})
    assert renewed.status_code == 303, await _text(renewed)
    assert await titles("") == ["Réparation de vélos"]
    items = await _json(await client.get("/api/territories/commune/93048/items?kind=listing"))
    assert len(items["items"]) == 1

    # And deleting it takes it out for good (410)
    deleted = await client.post(page_path + "/delete", form={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get(page_path, headers=BROWSER)).status_code == 410
    assert await titles("") == []

    # When alice, an admin of an association, posts as the association
    async with pool.acquire() as conn:
        velo = await actor_service.create_organization(
            conn, "velo", organization_kind="association", keygen=keygen
        )
        await organization_queries.upsert_membership(
            conn,
            organization_id=velo.id,
            member_uri="http://fedicity.test/actors/alice",
            state="accepted",
            role="admin",
            activity_uri=None,
            invited_by=None,
            now=clock.now(),
        )
    form_page = await _text(await client.get("/listings/new", headers=BROWSER))
    assert '<option value="velo">' in form_page
    as_velo = await client.post(
        "/listings", form=_form(token, title="Atelier d'autoréparation", price="", **{"as": "velo"})
    )
    assert as_velo.status_code == 303, await _text(as_velo)
    document = await _json(await client.get(as_velo.headers["Location"], headers=AS))
    # Then the association is its author (and the one to answer); no price, no price terms
    assert document["attributedTo"] == "http://fedicity.test/actors/velo"
    assert "Répondre : message privé à @velo@fedicity.test" in document["content"]
    assert "price" not in document
    # And a citizen who is not its admin can neither post as it nor change its listing
    bob = await _log_in(client, pool, keygen, "bob")
    refused = await client.post("/listings", form=_form(bob, **{"as": "velo"}))
    assert refused.status_code == 403
    edit = await client.post(as_velo.headers["Location"] + "/edit", form=_form(bob))
    assert edit.status_code == 403


async def test_hostile_input_from_the_form_and_the_network_is_refused_precisely(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    clock.current = datetime(2026, 12, 4, 10, tzinfo=UTC)
    token = await _log_in(client, pool, keygen, "alice")

    # The form: each absurd value answers 422 with the form and the message that names it
    refusals = {
        "Un prix est un montant à partir de 0": [
            {"price": "NaN"},
            {"price": "-1"},
            {"price": "1e999"},
            {"price": "12.345"},
            {"price": "inf"},
        ],
        "Ce prix est trop élevé.": [{"price": "9999999999999"}],
        "Choisissez une monnaie dans la liste.": [{"currency": "X" * 5000}],
        "Choisissez une catégorie de ce type d'annonce.": [{"category": "vehicles"}],
        "Choisissez une rubrique de ce type d'annonce.": [{"section": "for_sale"}],
        "Choisissez un type d'annonce": [{"kind": "weapon"}],
        "Une annonce est valable douze mois au plus.": [{"expires_on": "2028-12-04"}],
        "Une annonce expire à une date à venir.": [
            {"expires_on": "2020-01-01"},
            {"expires_on": "99999-01-01"},
            {"expires_on": "2026-02-30"},
        ],
        "Ce lieu n'est pas desservi par cette instance.": [{"territory": "commune:75056"}],
        "Indiquez dans quelle commune se trouve l'annonce.": [{"territory": ""}],
        "latitude": [{"latitude": "1e999", "longitude": "2"}, {"latitude": "nan"}],
    }
    for expected, cases in refusals.items():
        for fields in cases:
            answer = await client.post("/listings", form=_form(token, **fields))
            page = await _text(answer)
            assert answer.status_code == 422, (fields, answer.status_code, page[-600:])
            assert expected in page or expected.lower() in page.lower(), (fields, page)
    # A NUL anywhere in a form is refused before any view (PostgreSQL cannot store it)
    for fields in ({"title": "Vélo\x00"}, {"description": "a\x00b"}, {"price": "1\x00"}):
        answer = await client.post("/listings", form=_form(token, **fields))
        assert answer.status_code == 400, fields
        assert "NUL" in await _text(answer)
    long_title = await client.post("/listings", form=_form(token, title="x" * 201))
    assert long_title.status_code == 422
    assert await _count(pool) == 0

    # A javascript: link in the Markdown never becomes a link; the listing is kept
    kept = await client.post(
        "/listings",
        form=_form(token, description="[clic](javascript:alert(1)) <script>x</script>"),
    )
    assert kept.status_code == 303
    raw = await client.get(kept.headers["Location"], headers=BROWSER)
    shown = await raw.get_data(as_text=True)
    assert 'href="javascript' not in shown
    assert "<script>x" not in shown
    assert "&lt;script&gt;x" in shown

    # The list's filters: unknown values are 400, an unknown territory 404, NUL refused
    assert (await client.get("/listings?kind=weapon")).status_code == 400
    assert (await client.get("/listings?section=x")).status_code == 400
    assert (await client.get("/listings?category=" + "x" * 5000)).status_code == 400
    assert (await client.get("/listings?q=a%00b")).status_code == 400
    assert (await client.get("/listings?q=" + "x" * 101)).status_code == 400
    assert (await client.get("/listings?territory=commune:99999")).status_code == 404
    assert (await client.get("/listings?before=nope")).status_code == 400
    assert (await client.get("/listings/nothing")).status_code == 404
    assert (await client.get("/listings/contact?listing=nothing")).status_code == 404

    # Another citizen may neither edit, renew nor delete it; alice cannot write to herself
    own = await client.post(
        "/listings/contact", form={"csrf_token": token, "listing": _uri(kept), "text": "Moi ?"}
    )
    assert own.status_code == 422
    assert "C'est votre propre annonce." in await _text(own)
    bob = await _log_in(client, pool, keygen, "bob")
    for action in ("edit", "renew", "delete"):
        answer = await client.post(f"{_path(kept)}/{action}", form=_form(bob))
        assert answer.status_code == 403, action
    empty = await client.post(
        "/listings/contact", form={"csrf_token": bob, "listing": _uri(kept), "text": "  "}
    )
    assert empty.status_code == 422
    assert "Écrivez un message." in await _text(empty)
    nul = await client.post(
        "/listings/contact", form={"csrf_token": bob, "listing": _uri(kept), "text": "a\x00"}
    )
    assert nul.status_code == 400

    # When alice closes her account, her listing goes with it (page 410, out of the scope)
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, "alice")
    assert account is not None
    await closing.close_account(
        pool, account, urls=Urls(settings.base_url), clock=clock, data_dir=settings.data_dir
    )
    assert (await client.get(_path(kept), headers=BROWSER)).status_code == 410
    async with pool.acquire() as conn:
        assert await located_queries.select_item(conn, _uri(kept)) is None

    # The network: the parser refuses each hostile member with its reason
    now = clock.now()
    good: dict[str, Any] = {
        "id": "https://remote.example/listings/1",
        "type": "Page",
        "attributedTo": "https://remote.example/users/zoe",
        "name": "Cours de guitare",
        "content": "<p>Cours</p>",
        "listingKind": "ressource",
        "section": "offer",
        "category": "skill",
        "price": 10,
        "priceCurrency": "G1",
        "validThrough": "2026-12-20T10:00:00Z",
        "location": {"type": "Place", "level": "commune", "territoryCode": "93048"},
    }
    place = place_of(good)
    assert isinstance(place, RemotePlace)

    def read(**changes: Any) -> Any:
        return listing_from_ap(
            {**good, **changes},
            author=good["attributedTo"],
            territory_id=1,
            place=place,
            now=now,
        )

    data = read()
    assert not isinstance(data, str)
    assert (data.price, data.currency) == (Decimal(10), "G1")
    assert "refused: price_invalid" in read(price=float("nan"))
    assert "refused: price_invalid" in read(price=-1)
    assert "refused: price_invalid" in read(price=float("inf"))
    assert "refused: price_too_high" in read(price=10**400)
    assert "refused: price_too_high" in read(price=1e12)
    assert "refused: price_invalid" in read(price="1e999")
    assert "refused: price_invalid" in read(price=True)
    assert "refused: price_invalid" in read(price={"deep": [[[[1]]]]})
    assert "priceCurrency is one of" in read(priceCurrency="E" * 5000)
    assert "the name is a text" in read(name="Vélo\x00")
    assert "the name is a text" in read(name="x" * 5000)
    assert "the name is a text" in read(name=[[[["deep"]]]])
    assert "http(s)" in read(id="javascript:alert(1)")
    assert "http(s)" in read(id="https://elsewhere.example/listings/1")
    assert "the url is not an http(s) address" in read(url="javascript:alert(1)")
    assert "has expired" in read(validThrough="2020-01-01T00:00:00Z")
    assert "at most a year" in read(validThrough="2029-01-01T00:00:00Z")
    assert "validThrough" in read(validThrough="+275760-09-13T00:00:00Z")
    assert "section is one of" in read(section="for_sale")
    assert "category is one of" in read(category=["skill"])
    assert "unknown listingKind" in read(listingKind={"@id": "x"})
    assert "content" in read(content="\x00")
    assert "javascript" not in read(content='<a href="javascript:alert(1)">x</a>').description_html
    assert "no location" in str(place_of({**good, "location": "Montreuil"}))
    assert "names no territory" in str(
        place_of({**good, "location": {"level": "commune", "territoryCode": "9" * 50}})
    )
    assert "latitude_invalid" in str(
        place_of({**good, "location": {**good["location"], "latitude": 1e308 * 10, "longitude": 2}})
    )
    assert "not numbers" in str(
        place_of({**good, "location": {**good["location"], "latitude": "48", "longitude": 2}})
    )
    assert price_of("12,50") == Decimal("12.50")
    assert price_of("") is None


def _path(response: Any) -> str:
    return str(response.headers["Location"])


def _uri(response: Any) -> str:
    return "http://fedicity.test" + _path(response)


async def _count(pool: Pool) -> int:
    async with pool.acquire() as conn:
        return len(
            await listing_queries.select_live(conn, datetime(2000, 1, 1, tzinfo=UTC), limit=50)
        )
