"""The JSON API (/api/v1) and its OpenAPI document: reads with their filters and pages, personal
tokens from the settings page, writes with them, what stays hidden, and attacks."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import suspension
from fedicity.actors import queries as actor_queries
from fedicity.audit.models import SYSTEM
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import ProposalData, State
from fedicity.settings import ETALAB_LICENCE, Settings
from fedicity.stewardship import actions
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice
from tests.web.test_social_feedback import citizen, log_in

URLS = Urls("http://fedicity.test")
_TOKEN = re.compile(r'<code class="token" id="new-token">([^<]+)</code>')
_TOKEN_ID = re.compile(r'name="token" value="([0-9]+)"')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the département of Seine-Saint-Denis, with a small form window."""
    return dataclasses.replace(
        settings, territory_level="departement", territory_code="93", form_posts_per_minute=40
    )


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the département prepared."""
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def new_token(client: TestClientProtocol, csrf: str, name: str = "agenda") -> str:
    """Make a token on the settings page; the token it shows once."""
    response = await client.post("/settings/tokens", form={"csrf_token": csrf, "token_name": name})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    found = _TOKEN.search(await response.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    """The header of a token."""
    return {"Authorization": f"Bearer {token}"}


def event_body(title: str, **extra: Any) -> dict[str, Any]:
    """An event at Montreuil's town hall."""
    return {
        "title": title,
        "startsAt": "2030-05-01T18:00:00+02:00",
        "placeName": "Mairie",
        "latitude": 48.8638,
        "longitude": 2.4485,
        "territory": "commune:93048",
        **extra,
    }


async def data(response: Any) -> Any:
    """A response's JSON."""
    return json.loads(await response.get_data(as_text=True))


async def test_the_openapi_document_describes_the_json_api_only(
    client: TestClientProtocol,
    settings: Settings,
    pool: Pool,
    clock: FrozenClock,
    keygen: FixedKeys,
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = await data(response)
    info = document["info"]
    assert info["title"] == "fedicity API"
    assert info["version"]
    # The licence is the open-data catalogue's, from the same setting
    assert info["license"] == {"name": "Licence Ouverte 2.0 (Etalab)", "url": ETALAB_LICENCE}
    catalogue = await data(await client.get(URLS.catalogue))
    assert catalogue["dct:license"] == {"@id": info["license"]["url"]}
    other = "https://creativecommons.org/licenses/by/4.0/"
    elsewhere = create_app(
        dataclasses.replace(settings, open_data_licence=other),
        pool=pool,
        clock=clock,
        keygen=keygen,
    )
    async with elsewhere.test_app():
        licensed = await data(await elsewhere.test_client().get("/openapi.json"))
    assert licensed["info"]["license"] == {"name": other, "url": other}
    assert "Français" in info["description"]
    assert "English" in info["description"]
    paths = document["paths"]
    # Only /api/ routes: no pages, no ActivityPub, no admin
    assert all(path.startswith("/api/") for path in paths), sorted(paths)
    for path in (
        "/api/v1/events",
        "/api/v1/events/{token}",
        "/api/v1/events/{token}/cancel",
        "/api/v1/places",
        "/api/v1/organizations",
        "/api/v1/organizations/{username}",
        "/api/v1/proposals",
        "/api/v1/proposals/{token}",
        "/api/v1/notes",
        "/api/territories/search",
        "/api/near",
    ):
        assert path in paths, path
    listed = paths["/api/v1/events"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {
        "territory",
        "type",
        "from",
        "to",
        "tag",
        "bbox",
        "limit",
        "next",
    }
    assert "application/problem+json" in listed["responses"]["400"]["content"]
    # Enumerated filters declare their values, so schemathesis sends unknown ones too
    states = {p["name"]: p["schema"] for p in paths["/api/v1/proposals"]["get"]["parameters"]}[
        "state"
    ]
    assert [c["enum"] for c in states["anyOf"] if "enum" in c] == [
        ["amendable", "voting", "closed", "withdrawn", "archived"]
    ]
    writing = paths["/api/v1/events"]["post"]
    assert writing["security"] == [{"bearer": []}]
    assert {"401", "403", "413", "415", "422", "429"} <= set(writing["responses"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # No documentation page that would load scripts from a CDN
    for page in ("/docs", "/redocs", "/scalar"):
        assert (await client.get(page)).status_code == 404


async def test_a_token_is_made_used_and_revoked(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given Camille, logged in, who makes a token on her settings page
    await citizen(pool, keygen, "camille", "Camille Martin")
    csrf = await log_in(client, "camille")
    token = await new_token(client, csrf, "Mon agenda")
    page = await (await client.get("/settings")).get_data(as_text=True)
    assert "Mon agenda" in page
    assert token not in page
    # Without a token, or with a bad one, a write is refused with the challenge
    fresh = client.app.test_client()
    for headers, error in (
        ({}, None),
        ({"Authorization": "Basic abc"}, "invalid_request"),
        (bearer("x" * 43), "invalid_token"),
        (bearer("short"), "invalid_token"),
    ):
        refused = await fresh.post("/api/v1/events", json=event_body("Sans jeton"), headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (error is None) == ("error=" not in refused.headers["WWW-Authenticate"])
        assert refused.headers["Content-Type"] == "application/problem+json"
    # With it, from a client with no cookie at all, she organises an event
    created = await fresh.post(
        "/api/v1/events",
        json=event_body("Réunion de quartier", tags=["velo"]),
        headers=bearer(token),
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    event = await data(created)
    assert event["organizer"] == URLS.actor("camille")
    assert event["status"] == "confirmed"
    assert event["tags"] == ["velo"]
    assert created.headers["Location"] == f"/api/v1/events/{event['token']}"
    assert "Access-Control-Allow-Origin" not in created.headers  # writes are not CORS
    # And it is federated as the web form's: a Create in her outbox
    async with pool.acquire() as conn:
        kinds = await conn.fetch(
            """SELECT o.type, o.object_uri FROM outbox_activities o
                 JOIN actors a ON a.id = o.actor_id WHERE a.username = 'camille'"""
        )
    assert ("Create", event["id"]) in {(row["type"], row["object_uri"]) for row in kinds}
    # She edits it and cancels it
    path = f"/api/v1/events/{event['token']}"
    edited = await fresh.patch(path, json={"title": "Réunion (salle 2)"}, headers=bearer(token))
    assert edited.status_code == 200, await edited.get_data(as_text=True)
    assert (await data(edited))["title"] == "Réunion (salle 2)"
    assert (await data(edited))["place"]["latitude"] == 48.8638  # the rest kept
    cancelled = await fresh.post(f"{path}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200
    # Anyone reads it, shown as cancelled, with CORS
    read = await fresh.get(path)
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    assert (await data(read))["status"] == "cancelled"
    listed = await data(await fresh.get("/api/v1/events"))
    assert [e["status"] for e in listed["items"]] == ["cancelled"]
    # Dominique's token may not change Camille's event
    await citizen(pool, keygen, "dominique", "Dominique")
    other = client.app.test_client()
    other_token = await new_token(other, await log_in(other, "dominique"))
    forbidden = await fresh.patch(path, json={"title": "Pris"}, headers=bearer(other_token))
    assert forbidden.status_code == 403
    assert (await fresh.post(f"{path}/cancel", headers=bearer(other_token))).status_code == 403
    # When Camille revokes her token on the settings page, it opens nothing any more
    page = await (await client.get("/settings")).get_data(as_text=True)
    token_id = _TOKEN_ID.search(page)
    assert token_id is not None
    revoked = await client.post(
        "/settings/tokens/revoke", form={"csrf_token": csrf, "token": token_id.group(1)}
    )
    assert revoked.status_code == 303
    after = await fresh.patch(path, json={"title": "Encore"}, headers=bearer(token))
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    # A token needs a name
    unnamed = await client.post("/settings/tokens", form={"csrf_token": csrf, "token_name": " "})
    assert unnamed.status_code == 422
    # And a cookie alone never authenticates a write (no CSRF token needed, none accepted)
    cookie_only = await client.post("/api/v1/events", json=event_body("Cookie"))
    assert cookie_only.status_code == 401


async def test_an_admin_organises_for_her_organisation_and_a_member_may_not(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    await citizen(pool, keygen, "dominique", "Dominique")
    async with pool.acquire() as conn:
        await organizations.create(
            conn,
            creator=camille,
            username="velo",
            organization_kind="association",
            display_name="Vélo Montreuil",
            keygen=keygen,
            env=Env(urls=URLS, clock=clock),
            latitude=48.86,
            longitude=2.44,
        )
    token = await new_token(client, await log_in(client, "camille"))
    created = await client.post(
        "/api/v1/events",
        json=event_body("Bourse aux vélos", organization="velo"),
        headers=bearer(token),
    )
    assert created.status_code == 201
    event = await data(created)
    assert event["organizer"] == URLS.actor("velo")
    # Camille, its admin, cancels the organisation's event
    cancel = await client.post(f"/api/v1/events/{event['token']}/cancel", headers=bearer(token))
    assert cancel.status_code == 200
    other = client.app.test_client()
    other_token = await new_token(other, await log_in(other, "dominique"))
    refused = await other.post(
        "/api/v1/events",
        json=event_body("Pas à moi", organization="velo"),
        headers=bearer(other_token),
    )
    assert refused.status_code == 403
    unknown = await other.post(
        "/api/v1/events",
        json=event_body("Personne", organization="nobody"),
        headers=bearer(other_token),
    )
    assert unknown.status_code == 422
    assert (await data(unknown))["errors"][0]["field"] == "organization"
    # The organisation is listed and read by its username
    listed = await data(await client.get("/api/v1/organizations?type=association"))
    assert [o["username"] for o in listed["items"]] == ["velo"]
    assert (await data(await client.get("/api/v1/organizations?type=company")))["items"] == []
    boxed = await data(await client.get("/api/v1/organizations?bbox=2.4,48.8,2.5,48.9"))
    assert len(boxed["items"]) == 1
    away = await data(await client.get("/api/v1/organizations?bbox=5,40,6,41"))
    assert away["items"] == []
    one = await client.get("/api/v1/organizations/velo")
    assert (await data(one))["name"] == "Vélo Montreuil"
    assert (await client.get("/api/v1/organizations/camille")).status_code == 404


async def test_lists_filter_and_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await citizen(pool, keygen, "camille", "Camille Martin")
    token = await new_token(client, await log_in(client, "camille"))
    plan = [
        ("Atelier vélo", "commune:93048", "SPORTS", ["velo"], "2030-05-01T10:00:00Z", 48.86, 2.44),
        ("Concert", "commune:93006", "MUSIC", ["fete"], "2030-05-02T20:00:00Z", 48.87, 2.41),
        ("Marché", "commune:93048", None, ["marche"], "2030-06-10T08:00:00Z", 48.86, 2.45),
        ("Bal", "commune:93006", "MUSIC", ["fete", "velo"], "2030-07-14T21:00:00Z", 48.87, 2.42),
        ("Vide-grenier", "commune:93048", None, [], "2030-09-01T08:00:00Z", 48.86, 2.44),
    ]
    for title, place, category, tags, start, lat, lon in plan:
        body = {
            "title": title,
            "startsAt": start,
            "placeName": "Ici",
            "territory": place,
            "tags": tags,
            "latitude": lat,
            "longitude": lon,
        }
        if category:
            body["category"] = category
        response = await client.post("/api/v1/events", json=body, headers=bearer(token))
        assert response.status_code == 201, await response.get_data(as_text=True)
    # A public note written in Bagnolet is a located item; a followers-only one is nowhere
    for visibility in ("public", "followers", "direct", "unlisted"):
        note = await client.post(
            "/api/v1/notes",
            json={
                "text": f"Note {visibility} #velo",
                "visibility": visibility,
                "territory": "commune:93006",
            },
            headers=bearer(token),
        )
        assert note.status_code == 201, await note.get_data(as_text=True)
        assert (await data(note))["visibility"] == visibility

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/events?{query}")
        assert response.status_code == 200, (query, await response.get_data(as_text=True))
        return [e["title"] for e in (await data(response))["items"]]

    assert await titles("") == [p[0] for p in plan]  # soonest first
    assert await titles("territory=commune:93006") == ["Concert", "Bal"]
    # A territory includes those below it
    assert len(await titles("territory=departement:93")) == 5
    assert await titles("type=MUSIC") == ["Concert", "Bal"]
    assert await titles("tag=velo") == ["Atelier vélo", "Bal"]
    assert await titles("from=2030-06-01T00:00:00Z&to=2030-08-01T00:00:00Z") == ["Marché", "Bal"]
    assert await titles("from=2030-06-01") == ["Marché", "Bal", "Vide-grenier"]
    assert await titles("bbox=2.40,48.865,2.43,48.88") == ["Concert", "Bal"]
    assert await titles("tag=velo&type=MUSIC&territory=commune:93006") == ["Bal"]
    # Pages of two follow one another, none repeated, none lost
    seen: list[str] = []
    query = "limit=2"
    while True:
        page = await data(await client.get(f"/api/v1/events?{query}"))
        seen += [e["title"] for e in page["items"]]
        if page["next"] is None:
            break
        query = f"limit=2&next={page['next']}"
    assert seen == [p[0] for p in plan]
    # Places: the located events and the public note only, newest first
    places = await data(await client.get("/api/v1/places?territory=commune:93006"))
    texts = [(p["type"], p["title"] or p["summary"]) for p in places["items"]]
    assert ("post", "Note public #velo") in texts, texts
    assert not any(
        word in text for _kind, text in texts for word in ("followers", "direct", "unlisted")
    )
    assert len(places["items"]) == 3  # Concert, Bal, the public note
    posts = await data(await client.get("/api/v1/places?type=post&tag=velo"))
    assert [p["type"] for p in posts["items"]] == ["post"]
    paged = await data(await client.get("/api/v1/places?limit=1"))
    assert len(paged["items"]) == 1
    assert paged["next"]
    second = await data(await client.get(f"/api/v1/places?limit=1&next={paged['next']}"))
    assert second["items"][0]["id"] != paged["items"][0]["id"]
    # Proposals: none past their draft yet
    assert (await data(await client.get("/api/v1/proposals?territory=departement:93")))[
        "items"
    ] == []
    # An unknown territory is a 404, a token of nothing too
    assert (await client.get("/api/v1/events?territory=commune:99999")).status_code == 404
    assert (await client.get("/api/v1/events/nothing")).status_code == 404
    assert (await client.get("/api/v1/proposals/nothing")).status_code == 404


async def test_attacks_get_precise_refusals(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, settings: Settings
) -> None:
    await citizen(pool, keygen, "camille", "Camille Martin")
    token = await new_token(client, await log_in(client, "camille"))
    for query in (
        "bbox=NaN,0,1,1",
        "bbox=1e999,0,1,1",
        "bbox=2,48,1,49",  # min > max
        "bbox=0,-91,1,1",
        "bbox=0,0,181,1",
        "bbox=1,2,3",
        "limit=0",
        "limit=101",
        "limit=1e3",
        "from=yesterday",
        "from=0001-01-01T00:00:00%2B14:00",
        "type=NOPE",
        "tag=" + "a" * 10_000,
        "tag=%00",
        "territory=%00",
        "next=abc",
        "next=99999999999999_1",
        "territory=commune",
    ):
        response = await client.get(f"/api/v1/events?{query}")
        assert response.status_code == 400, query
        assert response.headers["Content-Type"] == "application/problem+json", query
    refused = await data(await client.get("/api/v1/events?limit=0&bbox=x"))
    assert {e["field"] for e in refused["errors"]} == {"limit", "bbox"}
    # An unknown value of an enumerated filter, on every list: a 400 naming the argument and
    # the values it allows, as the proposals feed refuses an unknown state
    for path, name, allowed in (
        ("events", "type", "MUSIC"),
        ("places", "type", "post"),
        ("organizations", "type", "association"),
        ("proposals", "state", "voting"),
    ):
        for value in ("zzz", "<script>", "draft"):
            response = await client.get(f"/api/v1/{path}?{name}={value}")
            assert response.status_code == 400, (path, value)
            assert response.headers["Content-Type"] == "application/problem+json"
            problem = await data(response)
            assert problem["errors"][0]["field"] == name
            assert allowed in problem["errors"][0]["allowed"], path
            assert problem["detail"].startswith(f"{name} is one of "), problem
            assert "<script>" not in json.dumps(problem)
    headers = bearer(token)
    # A body nested 10,000 deep, NUL escapes, NaN: refused before any model reads them
    deep = ("[" * 10_000) + ("]" * 10_000)
    for raw in (deep, '{"title": "a\\u0000b"}', '{"title": NaN}', "{", '"text"', "[]"):
        response = await client.post(
            "/api/v1/notes",
            data=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422), raw[:20]
    # The wrong content type
    form = await client.post("/api/v1/notes", form={"text": "hello"}, headers=headers)
    assert form.status_code == 415
    # Per-field reasons for an invalid body
    invalid = await client.post(
        "/api/v1/events",
        json={"title": "", "startsAt": "soon", "latitude": 91, "surprise": 1},
        headers=headers,
    )
    assert invalid.status_code == 422
    fields = {e["field"] for e in (await data(invalid))["errors"]}
    assert {"title", "startsAt", "latitude", "surprise"} <= fields
    # The service's own checks come back per field too
    backwards = await client.post(
        "/api/v1/events",
        json=event_body("A l'envers", endsAt="2030-04-01T00:00:00Z"),
        headers=headers,
    )
    assert backwards.status_code == 422
    assert (await data(backwards))["errors"] == [{"field": "endsAt", "reason": "ends_before_start"}]
    outside = await client.post(
        "/api/v1/events", json=event_body("Paris", territory="commune:75056"), headers=headers
    )
    assert outside.status_code == 422
    # Over the body cap
    huge = await client.post(
        "/api/v1/notes",
        data=json.dumps({"text": "x" * (settings.max_body_bytes + 10)}),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    # The forms' rate limit: 429 with Retry-After
    statuses = []
    for number in range(settings.form_posts_per_minute + 1):
        response = await client.post(
            "/api/v1/notes",
            json={"text": f"note {number}", "visibility": "direct"},
            headers=headers,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0
            break
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {201}


async def test_silenced_and_suspended_accounts_leave_the_lists(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given two citizens who each organise an event and write a located note
    people = {}
    for name in ("camille", "dominique"):
        people[name] = await citizen(pool, keygen, name, name.title())
        other = client.app.test_client()
        token = await new_token(other, await log_in(other, name))
        created = await other.post(
            "/api/v1/events", json=event_body(f"Fête {name}"), headers=bearer(token)
        )
        assert created.status_code == 201
        people[f"{name}-event"] = (await data(created))["token"]
        note = await other.post(
            "/api/v1/notes",
            json={"text": f"Note {name}", "territory": "commune:93048"},
            headers=bearer(token),
        )
        assert note.status_code == 201
    everyone = await data(await client.get("/api/v1/places"))
    assert len(everyone["items"]) == 4
    # Each has an organisation and a proposal; and a third organisation hides from directories
    async with pool.acquire() as conn:
        for name, founder in (("velo", "camille"), ("jardin", "dominique"), ("discret", "camille")):
            await organizations.create(
                conn,
                creator=people[founder],
                username=name,
                organization_kind="association",
                display_name=name.title(),
                keygen=keygen,
                env=Env(urls=URLS, clock=clock),
            )
            await proposal_queries.upsert_proposal(
                conn,
                ProposalData(
                    uri=URLS.proposal(f"prop-{name}"),
                    token=f"prop-{name}",
                    local_actor_id=people[founder].id,
                    author_uri=URLS.actor(founder),
                    title=f"Proposition {name}",
                    content_html="<p>Texte</p>",
                    options=("Pour", "Contre"),
                    published=clock.now(),
                    state="voting",
                    territory_id=None,
                    tags=(),
                ),
            )
        discreet = await actor_queries.select_actor_by_username(conn, "discret")
        assert discreet is not None
        await actor_queries.update_profile(
            conn,
            discreet.id,
            display_name="Discret",
            summary="",
            manually_approves_followers=False,
            discoverable=False,
        )

    async def usernames() -> set[str]:
        listed = await data(await client.get("/api/v1/organizations"))
        return {o["username"] for o in listed["items"]}

    # The API lists what the directory page lists: the discoverable ones, and reads only those
    directory = await (await client.get("/organizations")).get_data(as_text=True)
    assert await usernames() == {"velo", "jardin"}
    assert "/organizations/velo" in directory
    assert "/organizations/discret" not in directory
    assert (await client.get("/api/v1/organizations/discret")).status_code == 404
    assert len((await data(await client.get("/api/v1/proposals")))["items"]) == 3
    # When the moderators silence Camille and suspend Dominique
    async with pool.acquire() as conn:
        await actions.silence(
            conn, URLS.actor("camille"), by=SYSTEM, reason="spam", env=actions.Env(URLS, clock)
        )
        async with conn.transaction():
            await suspension.suspend(
                conn, people["dominique"], by=SYSTEM, reason="abuse", urls=URLS, clock=clock
            )
    # Then neither shows in the lists any more
    assert (await data(await client.get("/api/v1/events")))["items"] == []
    assert (await data(await client.get("/api/v1/places")))["items"] == []
    # A silenced account's event is still read by its address, as its page is; a suspended one's
    # is gone (410), as its page is
    assert (await client.get(f"/api/v1/events/{people['camille-event']}")).status_code == 200
    assert (await client.get(f"/api/v1/events/{people['dominique-event']}")).status_code == 410
    # The same for proposals, page and API alike
    assert (await data(await client.get("/api/v1/proposals")))["items"] == []
    for token, status in (("prop-velo", 200), ("prop-jardin", 410)):
        assert (await client.get(f"/api/v1/proposals/{token}")).status_code == status
        assert (await client.get(URLS.proposal(token))).status_code == status
    # And for organisations: silenced, out of the list and still read; suspended, gone (410)
    async with pool.acquire() as conn:
        await actions.silence(
            conn, URLS.actor("velo"), by=SYSTEM, reason="spam", env=actions.Env(URLS, clock)
        )
        garden = await actor_queries.select_actor_by_username(conn, "jardin")
        assert garden is not None
        async with conn.transaction():
            await suspension.suspend(
                conn, garden, by=SYSTEM, reason="abuse", urls=URLS, clock=clock
            )
    assert await usernames() == set()
    # The directory page leaves them out as the API does
    directory = await (await client.get("/organizations")).get_data(as_text=True)
    assert "/organizations/velo" not in directory
    assert "/organizations/jardin" not in directory
    for username, status in (("velo", 200), ("jardin", 410)):
        assert (await client.get(f"/api/v1/organizations/{username}")).status_code == status
        assert (await client.get(f"/organizations/{username}")).status_code == status


async def test_proposals_filter_by_territory_state_tag_and_dates_and_page(
    client: TestClientProtocol, pool: Pool
) -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        bagnolet = await territory_queries.select_territory(conn, "commune", "93006")
        assert montreuil is not None
        assert bagnolet is not None
        plan: list[tuple[State, Territory, tuple[str, ...]]] = [
            ("draft", montreuil, ("velo",)),
            ("amendable", montreuil, ("velo",)),
            ("voting", bagnolet, ("parc",)),
            ("closed", montreuil, ()),
            ("voting", montreuil, ("velo", "parc")),
        ]
        for number, (state, place, tags) in enumerate(plan):
            await proposal_queries.upsert_proposal(
                conn,
                ProposalData(
                    uri=f"http://remote.test/proposals/p{number}",
                    token=f"p{number}",
                    local_actor_id=None,
                    author_uri="http://remote.test/users/zoe",
                    title=f"Proposition {number}",
                    content_html="<p>Texte</p>",
                    options=("Pour", "Contre"),
                    published=when + timedelta(days=number),
                    state=state,
                    territory_id=place.id,
                    tags=tags,
                ),
            )

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/proposals?{query}")
        assert response.status_code == 200, query
        return [p["title"][-1] for p in (await data(response))["items"]]

    # Newest first, never a draft
    assert await titles("") == ["4", "3", "2", "1"]
    assert await titles("territory=commune:93048") == ["4", "3", "1"]
    assert await titles("territory=departement:93&state=voting") == ["4", "2"]
    assert await titles("tag=velo") == ["4", "1"]
    assert await titles("from=2030-01-03T00:00:00Z&to=2030-01-05") == ["3", "2"]
    first = await data(await client.get("/api/v1/proposals?limit=3"))
    assert first["next"] is not None
    rest = await data(await client.get(f"/api/v1/proposals?limit=3&next={first['next']}"))
    assert [p["title"][-1] for p in rest["items"]] == ["1"]
    assert rest["next"] is None
    # One by its token; a draft is nobody's business here
    assert (await data(await client.get("/api/v1/proposals/p2")))["state"] == "voting"
    assert (await client.get("/api/v1/proposals/p0")).status_code == 404
