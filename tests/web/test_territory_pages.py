"""Territory pages and their JSON API, the radius and search APIs, communexion in /settings, and
posting in a territory, on an instance serving the région 11 of the Montreuil/Bagnolet slice."""

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
from quart import Quart, Response
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import blocks
from fedicity.located import queries as located
from fedicity.located.models import ItemKind, NewItem
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor
from tests.territory_helpers import import_slice
from tests.web.test_paging import MARKED, flat, walk

BASE = "http://fedicity.test"
URLS = Urls(BASE)
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
PROBLEM_JSON = "application/problem+json"
PASSWORD = "correct horse"
MONTREUIL_POINT = (48.8638, 2.4485)
BAGNOLET_POINT = (48.8692, 2.4183)
NOT_SERVED_FR = "Ce lieu n'est pas desservi par cette instance."
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
BASE_TIME = datetime(2026, 3, 1, 9, 0, 0, 123457, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the région prepared, as at start-up."""
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


# --- helpers ---------------------------------------------------------------------------------


async def _get(conn: Connection, level: str, code: str) -> Territory:
    found = await territory_queries.select_territory(conn, level, code)
    assert found is not None, (level, code)
    return found


async def _json(response: Response) -> Any:
    return json.loads(await response.get_data(as_text=True))


async def _page(response: Response) -> str:
    return html.unescape(await response.get_data(as_text=True))


async def _seed_items(pool: Pool) -> None:
    """Posts, an event and a proposal in both communes, with their points."""
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        bagnolet = await _get(conn, "commune", "93006")
        seeds: list[tuple[str, Territory, ItemKind, tuple[float, float]]] = [
            ("Marché solidaire à Montreuil", montreuil, "post", MONTREUIL_POINT),
            ("Conseil de quartier", montreuil, "event", MONTREUIL_POINT),
            ("Vide-grenier à Bagnolet", bagnolet, "post", BAGNOLET_POINT),
            ("Jardin partagé", bagnolet, "proposal", BAGNOLET_POINT),
            ("Fête de la musique à Montreuil", montreuil, "post", MONTREUIL_POINT),
        ]
        for minutes, (title, territory, kind, point) in enumerate(seeds):
            await located.upsert_item(
                conn,
                NewItem(
                    object_uri=f"https://social.invalid/notes/{minutes}",
                    kind=kind,
                    territory_id=territory.id,
                    title=title,
                    summary=title,
                    url=None,
                    author_uri="https://social.invalid/users/alice",
                    origin_host="social.invalid",
                    published=BASE_TIME + timedelta(minutes=minutes),
                    # An event item always has its start: this one is in a year's time.
                    starts_at=BASE_TIME + timedelta(days=365) if kind == "event" else None,
                    latitude=point[0],
                    longitude=point[1],
                ),
            )


async def _register(pool: Pool, keygen: FixedKeys, username: str = "camille") -> Actor:
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn,
            username=username,
            password=PASSWORD,
            keygen=keygen,
            display_name=username.capitalize(),
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _csrf(client: TestClientProtocol, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, path
    match = _CSRF.search(await response.get_data(as_text=True))
    assert match is not None, f"no csrf_token input on {path}"
    return match.group(1)


async def _log_in(client: TestClientProtocol, login: str) -> str:
    """Log in; return the session's CSRF token."""
    token = await _csrf(client, "/login")
    response = await client.post(
        "/login", form={"csrf_token": token, "login": login, "password": PASSWORD}
    )
    assert response.status_code == 303
    return await _csrf(client, "/settings")


async def _home_territory(pool: Pool, actor_id: int) -> tuple[str, str] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT t.level, t.code FROM actors a JOIN territories t
                   ON t.id = a.home_territory_id WHERE a.id = $1""",
            actor_id,
        )
    return None if row is None else (row["level"], row["code"])


def _codes(territories: list[dict[str, Any]]) -> list[str]:
    return [t["code"] for t in territories]


# --- territory pages -------------------------------------------------------------------------


async def test_region_page_in_html_is_french_by_default(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given items in both communes of the région
    await _seed_items(pool)
    # When a browser opens the région's page
    response = await client.get("/territoires/region/11", headers=BROWSER)
    # Then it is an HTML page in French
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = await _page(response)
    assert '<html lang="fr">' in page
    assert "<h1>Île-de-France</h1>" in page
    # With the breadcrumb to the country, the départements within, and the latest posts
    assert '<a href="/territoires/country/FR">France</a>' in page
    assert "Territoires parents" in page
    assert '<a href="/territoires/departement/93">Seine-Saint-Denis</a>' in page
    assert '<a href="/territoires/departement/75">Paris</a>' in page
    assert "Dernières publications" in page
    assert "Fête de la musique à Montreuil" in page
    assert "Vide-grenier à Bagnolet" in page
    # And how to follow the région's actor
    assert "@ile_de_france@fedicity.test" in page
    assert f'href="{BASE}/actors/ile_de_france"' in page
    # And in English when asked
    english = await _page(await client.get("/territoires/region/11?lang=en", headers=BROWSER))
    assert "Latest posts" in english


async def test_region_and_communes_as_json_with_their_directory(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given items in both communes, and a citizen who communected to Montreuil
    await _seed_items(pool)
    camille = await _register(pool, keygen)
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        await actor_queries.update_home_territory(conn, camille.id, montreuil.id)
    camille_id = BASE + "/actors/camille"
    # When a program asks for the région's page
    response = await client.get("/territoires/region/11", headers=JSON)
    # Then it gets the overview as JSON
    assert response.status_code == 200
    assert response.content_type == "application/json"
    region = await _json(response)
    assert (region["level"], region["code"], region["name"]) == ("region", "11", "Île-de-France")
    assert region["url"] == BASE + "/territoires/region/11"
    assert region["actor"] == BASE + "/actors/ile_de_france"
    assert region["handle"] == "@ile_de_france@fedicity.test"
    assert _codes(region["breadcrumb"]) == ["FR"]
    assert _codes(region["children"]) == ["75", "93"]
    assert [p["title"] for p in region["posts"]] == [
        "Fête de la musique à Montreuil",
        "Vide-grenier à Bagnolet",
        "Marché solidaire à Montreuil",
    ]
    assert [e["title"] for e in region["events"]] == ["Conseil de quartier"]
    assert [p["title"] for p in region["proposals"]] == ["Jardin partagé"]
    # With the citizen in its directory, as in Montreuil's, but not in Bagnolet's
    assert [(d["id"], d["kind"]) for d in region["directory"]] == [(camille_id, "person")]
    commune = await _json(await client.get("/api/territories/commune/93048"))
    assert [d["id"] for d in commune["directory"]] == [camille_id]
    assert _codes(commune["breadcrumb"]) == ["FR", "11", "93", "200054781", "200057875"]
    assert commune["children"] == []
    assert commune["postalCodes"] == ["93100"]
    assert [p["title"] for p in commune["posts"]] == [
        "Fête de la musique à Montreuil",
        "Marché solidaire à Montreuil",
    ]
    neighbour = await _json(await client.get("/territoires/commune/93006", headers=JSON))
    assert neighbour["directory"] == []
    assert [p["title"] for p in neighbour["posts"]] == ["Vide-grenier à Bagnolet"]


async def test_unknown_territories_are_404(client: TestClientProtocol) -> None:
    for path in (
        "/territoires/commune/99999",
        "/territoires/planet/1",
        "/api/territories/commune/99999",
        "/api/territories/commune/99999/items",
    ):
        # When a territory that is not in the tree is asked for
        response = await client.get(path, headers=JSON)
        # Then the answer is a 404 problem document
        assert response.status_code == 404, path
        assert response.content_type == PROBLEM_JSON
        assert (await _json(response))["status"] == 404
    # And a browser gets an HTML error page
    page = await client.get("/territoires/commune/99999", headers=BROWSER)
    assert page.status_code == 404
    assert page.content_type.startswith("text/html")


# --- items, radius and search APIs -----------------------------------------------------------


async def test_items_api_filters_by_kind_and_pages_with_before(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given items in both communes
    await _seed_items(pool)
    # When Montreuil's posts are asked for
    response = await client.get("/api/territories/commune/93048/items?kind=post")
    # Then only its posts come, newest first, open to any origin
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = await _json(response)
    assert body["territory"]["code"] == "93048"
    assert [i["title"] for i in body["items"]] == [
        "Fête de la musique à Montreuil",
        "Marché solidaire à Montreuil",
    ]
    assert {i["kind"] for i in body["items"]} == {"post"}
    assert body["next"] is None
    # When the région's items are read two at a time, each page after the previous `next`
    titles: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        query = "limit=2" + (f"&before={cursor}" if cursor else "")
        page = await _json(await client.get(f"/api/territories/region/11/items?{query}"))
        titles += [i["title"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    # Then every item came once, newest first, microsecond timestamps notwithstanding
    assert titles == [
        "Fête de la musique à Montreuil",
        "Jardin partagé",
        "Vide-grenier à Bagnolet",
        "Conseil de quartier",
        "Marché solidaire à Montreuil",
    ]


async def test_near_api_finds_items_within_the_radius(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given items at Montreuil's and Bagnolet's points, about 2.3 km apart
    await _seed_items(pool)
    lat, lon = MONTREUIL_POINT
    # When asked within 1 km of Montreuil, then only Montreuil's items come
    near = await _json(await client.get(f"/api/near?lat={lat}&lon={lon}&radius_km=1"))
    assert [i["title"] for i in near["items"]] == [
        "Fête de la musique à Montreuil",
        "Conseil de quartier",
        "Marché solidaire à Montreuil",
    ]
    assert near["next"] is None
    # When asked within 5 km, then Bagnolet's come too
    wider = await _json(await client.get(f"/api/near?lat={lat}&lon={lon}&radius_km=5"))
    assert len(wider["items"]) == 5
    # And kind and paging work as on territories
    events = await _json(await client.get(f"/api/near?lat={lat}&lon={lon}&kind=event"))
    assert [i["title"] for i in events["items"]] == ["Conseil de quartier"]
    first = await _json(await client.get(f"/api/near?lat={lat}&lon={lon}&limit=1"))
    second = await _json(
        await client.get(f"/api/near?lat={lat}&lon={lon}&limit=1&before={first['next']}")
    )
    assert [i["title"] for i in first["items"] + second["items"]] == [
        "Fête de la musique à Montreuil",
        "Jardin partagé",
    ]
    assert first["items"][0]["latitude"] == lat


async def test_bad_parameters_are_400_problem_documents(client: TestClientProtocol) -> None:
    items = "/api/territories/commune/93048/items"
    near = "/api/near?lat=48.86&lon=2.44"
    for path in (
        f"{items}?kind=video",
        f"{items}?limit=0",
        f"{items}?limit=101",
        f"{items}?limit=ten",
        f"{items}?limit=-1",
        f"{items}?limit=%C2%B2",  # a superscript two: a digit to str.isdigit, not to int()
        f"{items}?limit={'9' * 5000}",
        f"{items}?before=yesterday",
        f"{items}?before=1767225600.0_x",
        f"{items}?before=nan_1",
        f"{items}?before=1e300_1",
        f"{items}?before=1767225600.0_{10**23}",  # beyond a bigint row id
        f"{near}&before=1767225600.0_-{10**23}",
        "/api/near?lat=91&lon=2.44",
        "/api/near?lat=-90.5&lon=2.44",
        "/api/near?lat=north&lon=2.44",
        "/api/near?lon=2.44",
        "/api/near?lat=48.86&lon=181",
        "/api/near?lat=nan&lon=2.44",
        f"{near}&radius_km=0",
        f"{near}&radius_km=-3",
        f"{near}&radius_km=1000",
        f"{near}&radius_km=nan",
        f"{near}&radius_km=inf",
        f"{near}&radius_km=far",
        f"{near}&kind=video",
        f"{near}&limit=0",
        "/api/territories/search",
        "/api/territories/search?q=%20",
        f"/api/territories/search?q={'a' * 101}",
    ):
        # When a parameter is out of its range or not a number
        response = await client.get(path)
        # Then the answer is a 400 problem document saying which
        assert response.status_code == 400, path
        assert response.content_type == PROBLEM_JSON, path
        problem = await _json(response)
        assert problem["status"] == 400
        assert problem["detail"]


async def test_search_by_name_prefix_and_postal_code(client: TestClientProtocol) -> None:
    # When a name's beginning is searched, in any case and without its accents
    for query in ("montr", "MONTR", "Montreuil"):
        results = (await _json(await client.get(f"/api/territories/search?q={query}")))["results"]
        # Then the commune is found, with its page
        assert [(r["level"], r["code"]) for r in results] == [("commune", "93048")], query
        assert results[0]["url"] == BASE + "/territoires/commune/93048"
    accented = await _json(await client.get("/api/territories/search?q=ile-de"))
    assert _codes(accented["results"]) == ["11"]
    # When a postal code or a code is searched, then its territory is found
    by_postal = await _json(await client.get("/api/territories/search?q=93100"))
    assert _codes(by_postal["results"]) == ["93048"]
    by_code = await _json(await client.get("/api/territories/search?q=93006"))
    assert _codes(by_code["results"]) == ["93006"]
    # And nothing matches what is not there
    nothing = await _json(await client.get("/api/territories/search?q=lyon"))
    assert nothing["results"] == []


# --- communexion and posting in a territory --------------------------------------------------


async def test_communexion_in_settings(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen
    camille = await _register(pool, keygen)
    token = await _log_in(client, "camille")

    async def save(home: str) -> Response:
        return await client.post(
            "/settings",
            form={"csrf_token": token, "display_name": "Camille", "home_territory": home},
            headers=BROWSER,
        )

    # When she sets her territory to Montreuil's code
    response = await save("93048")
    # Then it is saved and shown back in the form
    assert response.status_code == 303
    assert await _home_territory(pool, camille.id) == ("commune", "93048")
    assert 'value="commune:93048"' in await _page(await client.get("/settings"))
    # When she sets it by a postal code, or by level and code, then those work too
    assert (await save("93170")).status_code == 303
    assert await _home_territory(pool, camille.id) == ("commune", "93006")
    assert (await save("93100")).status_code == 303
    assert await _home_territory(pool, camille.id) == ("commune", "93048")
    assert (await save("commune:93006")).status_code == 303
    assert await _home_territory(pool, camille.id) == ("commune", "93006")
    # When she names a place this instance does not serve (or that does not exist)
    for unserved in ("75056", "country:FR", "nowhere"):
        refused = await save(unserved)
        # Then the form comes back with the French message, and her territory is unchanged
        assert refused.status_code == 422, unserved
        assert NOT_SERVED_FR in await _page(refused)
        assert await _home_territory(pool, camille.id) == ("commune", "93006")
    # When she empties the field, then she has no territory any more
    assert (await save("")).status_code == 303
    assert await _home_territory(pool, camille.id) is None


async def test_posting_in_a_territory_locates_and_announces_public_posts(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen
    camille = await _register(pool, keygen)
    token = await _log_in(client, "camille")

    async def write(text: str, visibility: str, territory: str) -> Response:
        return await client.post(
            "/notes",
            form={
                "csrf_token": token,
                "text": text,
                "visibility": visibility,
                "territory": territory,
            },
        )

    # When she posts publicly in Montreuil
    response = await write("Marché solidaire samedi", "public", "93048")
    assert response.status_code == 303
    assert "error" not in response.headers["Location"]
    # And followers-only in Montreuil too
    assert (await write("Pour mes abonné·es seulement", "followers", "93048")).status_code == 303
    # And in a commune this instance does not serve
    refused = await write("Ailleurs, <b>vraiment</b>", "unlisted", "75056")
    # Then the form comes back with what she typed and the reason by the place field
    assert refused.status_code == 422
    again = await refused.get_data(as_text=True)
    assert "Ailleurs, &lt;b&gt;vraiment&lt;/b&gt;</textarea>" in again
    assert 'value="75056" placeholder="Montreuil" maxlength="100" aria-invalid="true"' in again
    assert '<span class="field-error" id="territory-error">' in again
    assert '<option value="unlisted" selected>' in again

    async with pool.acquire() as conn:
        notes = await conn.fetch(
            "SELECT uri, visibility FROM posts WHERE author_uri = $1 ORDER BY id",
            BASE + "/actors/camille",
        )
        items = await conn.fetch("SELECT object_uri, territory_id, latitude FROM located_items")
        montreuil = await _get(conn, "commune", "93048")
        announces = await conn.fetch(
            """SELECT a.username, o.raw FROM outbox_activities o
                 JOIN actors a ON a.id = o.actor_id
                WHERE o.type = 'Announce' ORDER BY o.id"""
        )
        create = await conn.fetchval(
            "SELECT raw FROM outbox_activities WHERE type = 'Create' AND actor_id = $1 "
            "ORDER BY id LIMIT 1",
            camille.id,
        )
    # Then the two posts exist, the unserved one was not written
    assert [n["visibility"] for n in notes] == ["public", "followers"]
    public_uri = notes[0]["uri"]
    # And only the public one is located, in Montreuil at its point
    assert [(i["object_uri"], i["territory_id"]) for i in items] == [(public_uri, montreuil.id)]
    assert items[0]["latitude"] == MONTREUIL_POINT[0]
    # And Montreuil's actor (and those above it, all served here) announce it once each
    by_actor = {row["username"]: row["raw"] for row in announces}
    assert len(by_actor) == len(announces)
    assert set(by_actor) == {
        "montreuil",
        "est_ensemble",
        "metropole_du_grand_paris",
        "seine_saint_denis",
        "ile_de_france",
    }
    assert by_actor["montreuil"]["object"]["object"]["id"] == public_uri
    assert by_actor["montreuil"]["audience"] == BASE + "/actors/montreuil"
    # And her Create names Montreuil as its audience
    assert create["object"]["id"] == public_uri
    assert create["audience"] == BASE + "/actors/montreuil"
    # And the post shows on Montreuil's page
    page = await _json(await client.get("/api/territories/commune/93048/items"))
    assert [i["id"] for i in page["items"]] == [public_uri]
    # And a commune is found by its name, the first one this instance serves
    assert (await write("Au marché", "public", "montreuil")).status_code == 303


async def test_a_territory_section_pages_on_its_own(client: TestClientProtocol, pool: Pool) -> None:
    # Given 45 posts located in Montreuil, some at the same moment
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        for number in range(45):
            await located.upsert_item(
                conn,
                NewItem(
                    object_uri=f"https://social.invalid/notes/{number}",
                    kind="post",
                    territory_id=montreuil.id,
                    title="",
                    summary=f"item-{number:03d}",
                    url=None,
                    author_uri="https://social.invalid/users/alice",
                    origin_host="social.invalid",
                    published=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=number // 3),
                ),
            )
    # When a visitor opens the commune's page, then its posts a page at a time
    overview = await _page(await client.get("/territoires/commune/93048", headers=HTML))
    assert len(MARKED.findall(overview)) == 20
    assert 'href="/territoires/commune/93048?show=posts&before=' in overview
    pages = await walk(client, "/territoires/commune/93048?show=posts")
    # Then every post is there once, newest first, even those sharing a moment
    assert [len(p) for p in pages] == [40, 5]
    assert sorted(flat(pages), reverse=True) == flat(pages)
    assert len(set(flat(pages))) == 45


@pytest.mark.parametrize(
    "query",
    ["show=posts&before=x", "show=events&after=1_%00", "show=nothing", "show=people&before=1e9_1"],
)
async def test_a_territory_cursor_not_taken_from_a_page_is_a_400(
    client: TestClientProtocol, query: str
) -> None:
    # When a visitor asks for a section with a cursor or a section no page gave
    response = await client.get(f"/territoires/commune/93048?{query}")
    # Then it is a bad request, not a server error
    assert response.status_code == 400, query


async def test_a_territorys_posts_leave_out_whom_the_viewer_blocks_mutes_or_domain_blocks(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given posts located in Montreuil: by a muted account, by one on a blocked domain, one
    # announced there by a blocked account, and one kept
    muted = "https://social.invalid/users/alice"
    announcer = "https://relais.invalid/users/relais"
    seeds = [
        ("Par Alice", muted, None),
        ("Par Bob", "https://autre.invalid/users/bob", None),
        ("Relayé", "https://loin.invalid/users/chloe", announcer),
        ("Gardé", "https://loin.invalid/users/chloe", None),
    ]
    async with pool.acquire() as conn:
        montreuil = await _get(conn, "commune", "93048")
        for number, (title, author, via) in enumerate(seeds):
            await located.upsert_item(
                conn,
                NewItem(
                    object_uri=f"{author}/notes/{number}",
                    kind="post",
                    territory_id=montreuil.id,
                    title=title,
                    summary=title,
                    url=None,
                    author_uri=author,
                    origin_host=author.split("/")[2],
                    published=BASE_TIME + timedelta(minutes=number),
                    via=via,
                ),
            )
    for uri in (muted, announcer):
        await seed_remote_actor(pool, uri, fixed_keypairs()[0], BASE_TIME)
    camille = await _register(pool, keygen)
    async with pool.acquire() as conn:
        await blocks.mute(
            conn, owner=camille, target=muted, notifications=False, urls=URLS, clock=clock
        )
        await blocks.block(conn, owner=camille, target=announcer, urls=URLS, clock=clock)
        await blocks.block_domain(
            conn, owner=camille, typed="autre.invalid", urls=URLS, clock=clock
        )
    titles = [title for title, _, _ in seeds]
    # Then a visitor sees them all, on the page and in its posts section
    for path in ("/territoires/commune/93048", "/territoires/commune/93048?show=posts"):
        shown = await _page(await client.get(path, headers=HTML))
        assert all(title in shown for title in titles), path
    # And camille, logged in, only the one she hides nothing of
    await _log_in(client, "camille")
    for path in ("/territoires/commune/93048", "/territoires/commune/93048?show=posts"):
        shown = await _page(await client.get(path, headers=HTML))
        assert "Gardé" in shown, path
        assert not any(title in shown for title in titles[:3]), path
