"""The admin page's actions: federation policy, quartiers, aggregation, reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.actors.parse import parse_remote_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import actor_document
from tests.territory_helpers import import_slice
from tests.web.test_accounts_web import _csrf, _log_in, _register


@pytest.fixture
async def serving_app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """An app serving the commune of Montreuil, from the test slice of the tree."""
    await import_slice(pool, tmp_path)
    serving = replace(settings, territory_level="commune", territory_code="93048")
    await prepare_serving(pool, serving)
    application = create_app(serving, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


ALICE = "https://social.invalid/users/alice"


async def _admin_client(app: Quart, pool: Pool, keygen: FixedKeys) -> TestClientProtocol:
    await _register(pool, keygen, "root_admin", is_admin=True)
    client = app.test_client()
    await _log_in(client, "root_admin")
    return client


async def test_admin_adds_a_quartier_with_its_own_actor(
    serving_app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    token = await _csrf(client, "/admin")
    # When the admin adds a quartier to the served commune
    response = await client.post(
        "/admin",
        form={
            "csrf_token": token,
            "action": "quartier",
            "commune": "93048",
            "name": "Bas-Montreuil",
        },
    )
    assert "quartier_added" in response.headers["Location"]
    # Then it is a quartier under Montreuil with a followable territory actor
    async with pool.acquire() as conn:
        quartier = await territory_queries.select_territory(conn, "quartier", "93048-bas-montreuil")
        assert quartier is not None
        ancestors = [t.code for t in await territory_queries.select_ancestors(conn, quartier.id)]
    assert "93048" in ancestors
    actor = await client.get(
        "/actors/bas_montreuil", headers={"Accept": "application/activity+json"}
    )
    assert actor.status_code == 200
    assert (await actor.get_json())["level"] == "quartier"
    # And a commune the instance does not serve is refused
    refused = await client.post(
        "/admin",
        form={"csrf_token": token, "action": "quartier", "commune": "93006", "name": "Centre"},
    )
    assert "quartier_failed" in refused.headers["Location"]


async def test_non_admin_cannot_act(serving_app: Quart, pool: Pool, keygen: FixedKeys) -> None:
    await _register(pool, keygen, "citizen")
    client = serving_app.test_client()
    await _log_in(client, "citizen")
    token = await _csrf(client, "/settings")
    response = await client.post(
        "/admin", form={"csrf_token": token, "action": "suspend", "domain": "x.example"}
    )
    assert response.status_code == 403
    async with pool.acquire() as conn:
        assert await moderation_queries.select_domain_policy(conn, "x.example") is None


async def test_aggregating_something_that_is_not_a_territory_actor_is_refused(
    serving_app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client = await _admin_client(serving_app, pool, keygen)
    token = await _csrf(client, "/admin")
    response = await client.post(
        "/admin", form={"csrf_token": token, "action": "aggregate", "handle": "@root_admin"}
    )
    assert "aggregate_failed" in response.headers["Location"]


async def test_reports_name_their_reporter_and_keep_hostile_targets_unlinked(
    serving_app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a report from a known remote moderator, about a post and a hostile "URL"
    document = {**actor_document(ALICE, fixed_keypairs()[0], username="alice")}
    document["name"] = "Alice Modératrice"
    async with pool.acquire() as conn:
        await actor_queries.upsert_remote_actor(
            conn, parse_remote_actor(document, datetime(2026, 3, 1, tzinfo=UTC))
        )
        await moderation_queries.insert_report(
            conn,
            activity_uri="https://social.invalid/flags/1",
            reporter=ALICE,
            targets=["https://social.invalid/notes/1", "javascript:alert(1)"],
            content="spam",
            raw={},
            now=datetime(2026, 3, 1, 13, 30, tzinfo=UTC),
        )
    client = await _admin_client(serving_app, pool, keygen)
    # When the admin opens the report in the moderation queue
    async with pool.acquire() as conn:
        number = (await moderation_queries.select_reports_page(conn, limit=1))[0].id
    page = await (await client.get(f"/admin/reports/{number}")).get_data(as_text=True)
    # Then the reporter is named, the time is Paris time, and only the http(s) target is a link
    assert "Alice Modératrice" in page
    assert "@alice@social.invalid" in page
    assert ALICE + "</" not in page
    assert "14:30" in page
    assert '<a href="https://social.invalid/notes/1">' in page
    assert 'href="javascript:' not in page
