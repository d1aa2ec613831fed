"""Finding a place and communecting to it: a citizen types a name or a postal code and reaches
the territory's page, and makes it her territory from there."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice
from tests.web.test_social_feedback import citizen, log_in

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the département of Seine-Saint-Denis."""
    return dataclasses.replace(settings, territory_level="departement", territory_code="93")


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


async def test_a_place_is_found_by_name_postal_code_or_code(client: TestClientProtocol) -> None:
    # When a visitor types a commune's name, its postal code or its code, in any case
    for typed in ("montreuil", "MONTREUIL", "93100", "93048", "commune:93048"):
        response = await client.get(f"/territoires?q={typed}", headers=HTML)
        # Then she is taken to its page
        assert response.status_code == 303, typed
        assert response.headers["Location"] == "/territoires/commune/93048", typed
    # When she types the beginning of a name that only one served place has, she is there too
    response = await client.get("/territoires?q=bagn", headers=HTML)
    assert response.headers["Location"] == "/territoires/commune/93006"
    # When nothing served matches (Paris is not in Seine-Saint-Denis), she is told so
    for typed in ("Paris", "75056", "<script>alert(1)</script>", "x" * 5000, "%"):
        response = await client.get("/territoires", query_string={"q": typed}, headers=HTML)
        assert response.status_code == 404, typed
        page = await response.get_data(as_text=True)
        assert "<script>alert(1)" not in page
    # And a NUL is refused before any search, as everywhere
    nul = await client.get("/territoires", query_string={"q": "\u0000"}, headers=HTML)
    assert nul.status_code == 400
    # And with nothing typed, the form
    assert (await client.get("/territoires", headers=HTML)).status_code == 200


async def test_a_citizen_communects_to_a_served_territory_and_leaves_it(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen with no territory
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    token = await log_in(client, "camille")
    page = await (await client.get("/territoires/commune/93006", headers=HTML)).get_data(
        as_text=True
    )
    assert "Communect here (make it my territory)" in page
    # When she communects to Bagnolet
    response = await client.post("/territoires/commune/93006/communect", form={"csrf_token": token})
    # Then it is her territory, and the page says so
    assert response.status_code == 303
    assert response.headers["Location"] == "/territoires/commune/93006?notice=communected"
    page = await (await client.get(response.headers["Location"], headers=HTML)).get_data(
        as_text=True
    )
    assert "This is now your territory" in page
    assert "Your territory." in page
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, camille.id)
    assert actor is not None
    assert actor.home_territory_id is not None
    # And her composer offers it by name
    feed = await (await client.get("/home")).get_data(as_text=True)
    assert re.search(r'name="territory" value="Bagnolet"', feed)
    # When she leaves it, she has no territory any more
    await client.post(
        "/territoires/commune/93006/communect", form={"csrf_token": token, "leave": "1"}
    )
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, camille.id)
    assert actor is not None
    assert actor.home_territory_id is None
    # And a territory this instance does not serve, or a forged form, changes nothing
    assert (
        await client.post("/territoires/commune/75056/communect", form={"csrf_token": token})
    ).status_code == 404
    assert (
        await client.post("/territoires/commune/93006/communect", form={"csrf_token": "forged"})
    ).status_code == 400
