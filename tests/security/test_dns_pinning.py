"""Connections go only to addresses that were checked, and to exactly those (DNS rebinding).

A name can resolve to a public address when it is checked and to a private one a moment later,
when the socket layer resolves it again to connect. The clients fetches and deliveries use
resolve once when connecting, check every address, and connect to a checked one. Tested with
real servers on 127.0.0.1: `localhost` is a real name for a loopback address, and a resolver
handed to the client stands for the answer that was checked.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import httpx
import pytest

from fedicity.activitypub.fetch import (
    FetchError,
    FetchFailure,
    FetchPolicy,
    IPAddress,
    RefusedAddress,
    fetch_document,
)
from fedicity.activitypub.fetcher import new_http_client
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.parse import parse_remote_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.urls import Urls, new_token
from fedicity.workers.delivery import deliver_batch
from fedicity.workers.federation import start_federation
from tests.conftest import FixedKeys, fixed_keypairs
from tests.peer import running_peer
from tests.security.federation_peers import person

LAX = FetchPolicy(allow_private_addresses=True, timeout=5.0)
STRICT = FetchPolicy(timeout=5.0)


class Answers:
    """A resolver that answers `addresses` for every name, and records what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses: list[IPAddress] = [ipaddress.ip_address(a) for a in addresses]
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return list(self.addresses)


async def test_a_name_for_a_loopback_address_is_refused_when_connecting() -> None:
    async with running_peer() as peer, new_http_client() as client:
        peer.serve("/note", {"id": f"http://localhost:{peer.port}/note", "type": "Note"})
        url = f"http://localhost:{peer.port}/note"
        # When the client itself is asked to GET a name that resolves to loopback
        with pytest.raises(httpx.ConnectError) as raised:
            await client.get(url)
        # Then it refuses to connect, whatever its caller checked or did not check
        assert isinstance(raised.value.__cause__, RefusedAddress)
        assert peer.connections == 0
        # And a fetch whose own policy would allow loopback gets a precise reason, no connection
        fetched = await fetch_document(client, url, policy=LAX)
        assert isinstance(fetched, FetchError), fetched
        assert fetched.reason is FetchFailure.BLOCKED_ADDRESS
        assert peer.connections == 0


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    async with running_peer() as peer:
        name = "pinned.invalid"  # RFC 6761: no DNS server will ever answer for it
        url = f"http://{name}:{peer.port}/note"
        peer.serve("/note", {"id": url, "type": "Note"})
        checked = Answers("127.0.0.1")
        async with new_http_client(allow_private_addresses=True, resolve=checked) as client:
            fetched = await fetch_document(client, url, policy=LAX, resolve=checked)
        # Then the document came from the checked address, asked for by its name
        assert not isinstance(fetched, FetchError), fetched
        assert fetched.document["id"] == url
        assert [(seen.path, seen.host) for seen in peer.requests] == [
            ("/note", f"{name}:{peer.port}")
        ]
        # Resolved once for the early check and once, checked again, to connect
        assert checked.asked == [(name, peer.port), (name, peer.port)]

        # When the name answers a public address for the early check and a loopback one when
        # the connection is made (DNS rebinding with a zero TTL)
        at_check, at_connect = Answers("1.1.1.1"), Answers("127.0.0.1")
        async with new_http_client(resolve=at_connect) as strict:
            fooled = await fetch_document(strict, url, policy=STRICT, resolve=at_check)
        # Then the early check passed, the second answer was checked too, and nothing connected
        assert at_check.asked == [(name, peer.port)]
        assert at_connect.asked == [(name, peer.port)]
        assert isinstance(fooled, FetchError), fooled
        assert fooled.reason is FetchFailure.BLOCKED_ADDRESS
        assert len(peer.requests) == 1
        assert peer.connections == 1


async def test_deliveries_and_key_fetches_use_pinned_clients(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    strict = dataclasses.replace(settings, allow_private_addresses=False)
    async with running_peer() as peer:
        # Given a follower whose inbox is on a name for a loopback address
        remote = f"http://localhost:{peer.port}/users/bob"
        async with pool.acquire() as conn:
            await actor_queries.upsert_remote_actor(
                conn, parse_remote_actor(person(remote, fixed_keypairs()[0]), clock.now())
            )
            camille = await actor_service.create_person(conn, "camille", keygen=keygen)
        urls = Urls(strict.base_url)
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": urls.activity(new_token()),
            "type": "Like",
            "actor": urls.actor("camille"),
            "object": remote,
            "to": [remote, PUBLIC],
        }
        async with pool.acquire() as conn, conn.transaction():
            await publish(
                conn,
                actor=camille,
                activity=activity,
                audience=Audience(actors=frozenset({remote})),
                urls=urls,
                clock=clock,
            )
        federation = await start_federation(pool, strict, clock=clock, keygen=keygen)
        try:
            # When the process's client delivers, with a destination check that let it through
            # (as a name that answered a public address at check time would)
            assert federation.delivery_client is not None
            await deliver_batch(pool, federation.delivery_client, urls=urls, clock=clock)
            # Then nothing reached the address, and the delivery is given up, not retried
            assert peer.connections == 0
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT state, last_error FROM deliveries")
            assert row is not None
            assert row["state"] == "failed", dict(row)
            assert "inbox refused" in row["last_error"]
            # And the key fetch client refuses it the same way
            assert federation.key_client is not None
            with pytest.raises(httpx.ConnectError):
                await federation.key_client.get(remote)
            assert peer.connections == 0
        finally:
            await federation.close()
