"""Proposal pages: writing one through the form, the page and its Question at the same URL,
voting from the page, and the proposal on its territory's page (the instance serves région 11)."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.proposals import queries
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the région prepared."""
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def _csrf(client: TestClientProtocol, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, path
    match = _CSRF.search(await response.get_data(as_text=True))
    assert match is not None, path
    return match.group(1)


async def _log_in(client: TestClientProtocol, pool: Pool, keygen: FixedKeys, name: str) -> str:
    async with pool.acquire() as conn:
        await accounts.register(conn, username=name, password=PASSWORD, keygen=keygen)
    token = await _csrf(client, "/login")
    response = await client.post(
        "/login", form={"csrf_token": token, "login": name, "password": PASSWORD}
    )
    assert response.status_code == 303
    return await _csrf(client, "/proposals/new")


async def _refused_by(response: Response, field: str, *, control: bool = True) -> str:
    """The form came back (422) with a message by `field` (and its control marked invalid,
    when the form shows one); the page."""
    assert response.status_code == 422
    page = html.unescape(await response.get_data(as_text=True))
    assert f'id="f-{field}-error"' in page, page
    if control:
        assert f'id="f-{field}" name="{field}" aria-invalid="true"' in page
    return page


async def test_write_open_vote_and_see_it_on_the_territory_page(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client = app.test_client()
    token = await _log_in(client, pool, keygen, "camille")
    response = await client.post(
        "/proposals",
        form={
            "csrf_token": token,
            "title": "Un jardin partagé",
            "text": "Rue de Paris <script>",
            "territory": "93048",
            "tags": "jardin écologie",
            "vote_change_allowed": "on",
            "federated_votes_count": "on",
            "ballot": "nominal",
        },
    )
    assert response.status_code == 303
    path = response.headers["Location"]
    async with pool.acquire() as conn:
        proposal = await queries.select_proposal_by_token(conn, path.rsplit("/", 1)[1])
    assert proposal is not None
    assert proposal.state == "draft"
    assert "&lt;script&gt;" in proposal.content_html
    # A draft is the author's alone
    assert (await app.test_client().get(path, headers={"Accept": BROWSER})).status_code == 404
    response = await client.post(
        path + "/state", form={"csrf_token": token, "action": "voting", "days": "7"}
    )
    assert response.status_code == 303
    response = await client.post(path + "/vote", form={"csrf_token": token, "option": "Pour"})
    assert response.status_code == 303
    assert "error" not in response.headers["Location"]
    page = html.unescape(
        await (await client.get(path, headers={"Accept": BROWSER})).get_data(as_text=True)
    )
    assert "Un jardin partagé" in page
    # A nominal vote lists its voters, by name and handle (step 7: never by their actor URL)
    voters = re.search(r'<ul class="voters">(.*?)</ul>', page, re.S)
    assert voters is not None
    assert "@camille@fedicity.test</span></span>: Pour" in voters.group(1)
    assert "/actors/" not in re.sub(r'href="[^"]*"', "", voters.group(1))
    assert "@camille@fedicity.test" in page.split('class="byline"', 1)[1].split("</p>", 1)[0]
    document = json.loads(
        await (
            await app.test_client().get(path, headers={"Accept": "application/activity+json"})
        ).get_data(as_text=True)
    )
    assert document["type"] == "Question"
    assert document["oneOf"][0]["replies"]["totalItems"] == 1
    assert document["proposalState"] == "voting"
    assert document["audience"] == "http://fedicity.test/actors/montreuil"
    territory = html.unescape(
        await (
            await app.test_client().get("/territoires/commune/93048", headers={"Accept": BROWSER})
        ).get_data(as_text=True)
    )
    assert "Un jardin partagé" in territory
    # A vote without the CSRF token is refused
    response = await client.post(path + "/vote", form={"option": "Contre"})
    assert response.status_code in {400, 403}


async def test_refusals_come_back_as_messages(app: Quart, pool: Pool, keygen: FixedKeys) -> None:
    client = app.test_client()
    token = await _log_in(client, pool, keygen, "camille")
    response = await client.post("/proposals", form={"csrf_token": token, "title": "", "text": "x"})
    await _refused_by(response, "title")
    response = await client.post(
        "/proposals",
        form={"csrf_token": token, "title": "T", "electorate": "members"},
    )
    await _refused_by(response, "electorate")


async def test_room_and_proposal_forms_rooms_organisations_and_links(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    from fedicity.actors import service as actor_service
    from fedicity.organizations import queries as organization_queries

    client = app.test_client()
    token = await _log_in(client, pool, keygen, "camille")
    async with pool.acquire() as conn:
        org = await actor_service.create_organization(
            conn, "asso", organization_kind="association", keygen=keygen
        )
        other = await actor_service.create_organization(
            conn, "autre", organization_kind="association", keygen=keygen
        )
        for organization, role in ((org, "admin"), (other, "member")):
            await organization_queries.upsert_membership(
                conn,
                organization_id=organization.id,
                member_uri="http://fedicity.test/actors/camille",
                state="accepted",
                role=role,
                activity_uri=None,
                invited_by=None,
                now=org.created_at,
            )
    # Only organisations one administers are offered (and a territory only to instance admins)
    form = await (await client.get("/rooms/new")).get_data(as_text=True)
    assert 'value="asso"' in form
    assert 'value="autre"' not in form
    assert 'value="territory"' not in form
    response = await client.post(
        "/rooms", form={"csrf_token": token, "owner": "autre", "name": "Salle"}
    )
    assert response.headers["Location"] == "/rooms/new?error=not_allowed"
    response = await client.post(
        "/rooms", form={"csrf_token": token, "owner": "territory", "name": "Salle"}
    )
    assert response.headers["Location"] == "/rooms/new?error=not_allowed"
    response = await client.post(
        "/rooms", form={"csrf_token": token, "owner": "asso", "name": "Vélo", "description": "x"}
    )
    room_path = response.headers["Location"]
    assert room_path.startswith("/rooms/")
    room_token = room_path.rsplit("/", 1)[1]
    form = await (await client.get(f"/proposals/new?room={room_token}")).get_data(as_text=True)
    assert f'value="{room_token}" selected' in form
    assert 'value="http://fedicity.test/actors/asso"' in form
    assert 'value="http://fedicity.test/actors/autre"' not in form
    # Not in the name of an organisation one does not administer
    response = await client.post(
        "/proposals",
        form={
            "csrf_token": token,
            "title": "T",
            "organization": "http://fedicity.test/actors/autre",
        },
    )
    await _refused_by(response, "organization")
    response = await client.post(
        "/proposals",
        form={"csrf_token": token, "title": "T", "links": "javascript:alert(1) x"},
    )
    page = await _refused_by(response, "links")
    assert ">javascript:alert(1) x</textarea>" in page
    # The members' electorate works from the form, in the organisation's name
    response = await client.post(
        "/proposals",
        form={
            "csrf_token": token,
            "title": "Budget",
            "organization": "http://fedicity.test/actors/asso",
            "electorate": "members",
            "links": "https://example.org/budget.pdf Le budget détaillé",
        },
    )
    path = response.headers["Location"]
    async with pool.acquire() as conn:
        proposal = await queries.select_proposal_by_token(conn, path.rsplit("/", 1)[1])
    assert proposal is not None
    assert proposal.electorate == "members"
    assert proposal.organization_uri == "http://fedicity.test/actors/asso"
    assert [(a.href, a.name) for a in proposal.attachments] == [
        ("https://example.org/budget.pdf", "Le budget détaillé")
    ]
    # In a room: the proposal shows on the room's page once it is public
    response = await client.post(
        "/proposals", form={"csrf_token": token, "title": "Pistes", "room": room_token}
    )
    path = response.headers["Location"]
    await client.post(path + "/state", form={"csrf_token": token, "action": "voting", "days": "7"})
    page = html.unescape(
        await (await client.get(room_path, headers={"Accept": BROWSER})).get_data(as_text=True)
    )
    assert "Pistes" in page
    response = await client.post(
        room_path + "/status", form={"csrf_token": token, "status": "archived"}
    )
    assert response.headers["Location"] == room_path
    response = await client.post(
        "/proposals", form={"csrf_token": token, "title": "Encore", "room": room_token}
    )
    # The archived room is no longer offered: the message stands where its list was
    await _refused_by(response, "room", control=False)


async def test_the_federated_votes_checkbox_is_read_as_the_browser_sends_it(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client = app.test_client()
    token = await _log_in(client, pool, keygen, "camille")
    # The form sends a hidden "off" before the checkbox, so that an unchecked box still says so
    page = await (await client.get("/proposals/new")).get_data(as_text=True)
    hidden = page.index('<input type="hidden" name="federated_votes_count" value="off">')
    assert hidden < page.index('<input type="checkbox" name="federated_votes_count"')
    stored = {}
    for title, sent in (("Cochée", ["off", "on"]), ("Décochée", ["off"])):
        # When camille saves a proposal with the box checked (both values), then unchecked
        body = urlencode(
            [("csrf_token", token), ("title", title), ("text", "x")]
            + [("federated_votes_count", value) for value in sent]
        )
        response = await client.post(
            "/proposals",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 303
        async with pool.acquire() as conn:
            proposal = await queries.select_proposal_by_token(
                conn, response.headers["Location"].rsplit("/", 1)[1]
            )
        assert proposal is not None
        stored[title] = proposal.federated_votes_count
    # Then the last value wins, as the browser meant it (the first, "off", was read before)
    assert stored == {"Cochée": True, "Décochée": False}
