"""Every recorded real-server activity in tests/fixtures/inbound is accepted (202) and processed
without a failure, signed by its own actor's key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.activitypub.accessors import get_id
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FIXTURES, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

INBOUND = FIXTURES / "inbound"


def _activities() -> list[Path]:
    found = []
    for path in sorted(INBOUND.glob("*.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and get_id(document.get("actor")) is not None:
            found.append(path)
    return found


@pytest.mark.parametrize("path", _activities(), ids=lambda p: p.stem)
async def test_recorded_activity_is_accepted_and_processed(
    path: Path, app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    # Given the payload's actor, known with a key we hold
    payload = path.read_bytes()  # noqa: ASYNC240 -- a small fixture file
    activity: dict[str, Any] = json.loads(payload)
    actor = get_id(activity["actor"])
    assert actor is not None
    keypair = fixed_keypairs()[0]
    await seed_remote_actor(pool, actor, keypair, clock.now())
    # When it is delivered, signed, to the shared inbox exactly as recorded
    response = await post_signed(
        client,
        "/inbox",
        payload,
        key_id=actor + "#main-key",
        keypair=keypair,
        now=clock.now(),
    )
    # Then it is accepted and stored once
    assert response.status_code == 202, await response.get_data(as_text=True)
    again = await post_signed(
        client,
        "/inbox",
        payload,
        key_id=actor + "#main-key",
        keypair=keypair,
        now=clock.now(),
    )
    assert again.status_code == 202
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 1
        # (a type nothing handles is stored already ignored, for the worker to skip)
        waiting = await conn.fetchval("SELECT count(*) FROM inbox_items WHERE state = 'pending'")
    # And the worker handles it without a failure (done or knowingly ignored)
    app_state: AppState = app.extensions["fedicity"]
    handled = await process_batch(
        pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock
    )
    assert handled == waiting
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, last_error FROM inbox_items")
    assert row is not None
    assert row["state"] in {"done", "ignored"}, row["last_error"]
