"""Over real HTTP on Hypercorn: WebFinger leads to an actor whose key verifies our signatures."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypercorn.asyncio import serve
from hypercorn.config import Config

from fedicity.accounts import service as accounts
from fedicity.activitypub.keys import (
    KeyGenerator,
    KeyPair,
    load_private_key,
    load_public_key,
)
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web.app import create_app
from tests.conftest import FixedKeys

ACTIVITY_JSON = "application/activity+json"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RecordingKeys:
    """Hands out the fixed keys, remembering each pair it gave."""

    def __init__(self, keygen: FixedKeys) -> None:
        self._keygen = keygen
        self.handed_out: list[KeyPair] = []

    def __call__(self) -> KeyPair:
        pair = self._keygen()
        self.handed_out.append(pair)
        return pair


@asynccontextmanager
async def _serving(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: KeyGenerator
) -> AsyncIterator[str]:
    """Serve the app on Hypercorn in this event loop; yield its base URL; stop it cleanly."""
    app = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    config = Config()
    config.bind = [settings.listen]
    config.accesslog = None
    config.graceful_timeout = 5
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        async with httpx.AsyncClient(base_url=settings.base_url) as probe:
            for _ in range(200):
                if server.done():
                    server.result()  # raise what stopped it
                try:
                    await probe.get("/.well-known/host-meta")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.025)
            else:
                pytest.fail("the server did not start listening")
        yield settings.base_url
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=10)


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    """The test settings, with a base URL on a free local port."""
    port = _free_port()
    return dataclasses.replace(
        settings, base_url=f"http://127.0.0.1:{port}", listen=f"127.0.0.1:{port}"
    )


async def test_webfinger_to_actor_key_over_real_http(
    e2e_settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    async with _serving(e2e_settings, pool, clock, keygen) as base_url:
        host = base_url.removeprefix("http://")
        # Given a citizen registered on the running instance, with a key from the fixed keygen
        recording = RecordingKeys(keygen)
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough", keygen=recording
            )
        (camille_keys,) = recording.handed_out
        async with httpx.AsyncClient(timeout=10) as http:
            # When a remote server looks up her handle over HTTP
            finger = await http.get(
                f"{base_url}/.well-known/webfinger",
                params={"resource": f"acct:camille@{host}"},
            )
            assert finger.status_code == 200
            assert finger.headers["content-type"].startswith("application/jrd+json")
            assert finger.headers["access-control-allow-origin"] == "*"
            jrd = finger.json()
            assert jrd["subject"] == f"acct:camille@{host}"
            (self_link,) = [link for link in jrd["links"] if link["rel"] == "self"]
            assert self_link["href"] == f"{base_url}/actors/camille"
            # And follows the self link asking for ActivityStreams
            fetched = await http.get(self_link["href"], headers={"Accept": ACTIVITY_JSON})
        assert fetched.status_code == 200
        assert fetched.headers["content-type"].startswith(ACTIVITY_JSON)
        actor = fetched.json()
        assert actor["id"] == self_link["href"]
        assert actor["publicKey"]["owner"] == actor["id"]

    # Then the published key loads, and verifies what the private key handed out for her signs
    public_key = load_public_key(actor["publicKey"]["publicKeyPem"])
    assert isinstance(public_key, rsa.RSAPublicKey)
    message = f"(request-target): post /inbox\nhost: {host}".encode()
    signature = load_private_key(camille_keys.private_pem).sign(
        message, padding.PKCS1v15(), hashes.SHA256()
    )
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    # And it rejects a tampered message, and a signature by another key
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, message + b"!", padding.PKCS1v15(), hashes.SHA256())
    other = load_private_key(keygen().private_pem)
    with pytest.raises(InvalidSignature):
        public_key.verify(
            other.sign(message, padding.PKCS1v15(), hashes.SHA256()),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )


async def test_server_stops_cleanly_and_frees_its_port(
    e2e_settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given a running server that answered a request
    async with _serving(e2e_settings, pool, clock, keygen) as base_url:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{base_url}/nodeinfo/2.1")
        assert response.status_code == 200
        assert response.json()["software"]["homepage"] == base_url
    # When it has been shut down, nothing listens on its port any more
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{base_url}/nodeinfo/2.1")
    # And the shared pool is still usable by others
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
