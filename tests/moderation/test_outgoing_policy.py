"""A suspended domain gets nothing from us either: no fetches, no deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from fedicity.accounts import service as accounts
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.actors import queries as actor_queries
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.remote import LookupFailure
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.delivery import deliver_batch
from fedicity.workers.federation import start_federation
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor


class CountingServer:
    """An HTTP server on 127.0.0.1 that answers 202 to everything and counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        await reader.read(65536)
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> CountingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[CountingServer]:
    """A counting loopback server."""
    async with CountingServer() as running:
        yield running


async def _suspend(pool: Pool, domain: str) -> None:
    async with pool.acquire() as conn:
        await moderation_queries.upsert_domain_policy(conn, domain, "suspend", "test")


async def test_no_fetch_from_a_suspended_domain(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, server: CountingServer
) -> None:
    # Given a federation whose admin suspended the host a remote actor lives on
    federation = await start_federation(
        pool, replace(settings, allow_private_addresses=True), clock=clock, keygen=keygen
    )
    try:
        await _suspend(pool, "127.0.0.1")
        # When something asks for an actor there
        found = await federation.directory.actor(f"http://127.0.0.1:{server.port}/users/x")
        # Then it is refused by policy and the server never heard from us
        assert isinstance(found, LookupFailure)
        assert found.reason == "refused_by_policy"
        assert server.requests == 0
    finally:
        await federation.close()


async def test_no_delivery_to_a_suspended_domain(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, server: CountingServer, tmp_path: Path
) -> None:
    # Given a queued activity for a remote actor on a host suspended after it was queued
    urls = Urls("http://fedicity.test")
    remote = f"http://127.0.0.1:{server.port}/users/x"
    await seed_remote_actor(pool, remote, fixed_keypairs()[0], clock.now())
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="long enough", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        async with conn.transaction():
            await publish(
                conn,
                actor=camille,
                activity={
                    "id": urls.activity("a1"),
                    "type": "Like",
                    "actor": urls.actor("camille"),
                    "object": remote + "/notes/1",
                    "to": [remote],
                },
                audience=Audience(frozenset({remote})),
                urls=urls,
                clock=clock,
            )
    await _suspend(pool, "127.0.0.1")
    # When the delivery worker runs
    async with new_delivery_client(allow_private_addresses=True) as client:
        await deliver_batch(pool, client, urls=urls, clock=clock)
    # Then nothing was sent, and the row failed for good with the reason
    assert server.requests == 0
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, last_error FROM deliveries")
    assert row is not None
    assert row["state"] == "failed"
    assert "refused by policy" in row["last_error"]
