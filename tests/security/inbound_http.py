"""Real HTTP on loopback for the inbound security tests: a remote peer that publishes actors and
takes deliveries, and signed POSTs to a running instance's inbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key
from tests.inbox_helpers import actor_document

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@dataclass
class RemotePeer:
    """A remote server on 127.0.0.1: GET serves JSON by exact path, POST is taken (202)."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        """An absolute URL on this peer."""
        return f"http://127.0.0.1:{self.port}{path}"

    def publish_actor(self, name: str, keypair: KeyPair) -> str:
        """Serve a Mastodon-shaped actor publishing `keypair`; return its id."""
        uri = self.url(f"/users/{name}")
        self.documents[f"/users/{name}"] = actor_document(uri, keypair, username=name)
        return uri

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path = head.decode("latin-1").split(" ", 2)[:2]
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            if method == "POST":
                self.received.append((path, body))
                status, payload = 202, b""
            elif path in self.documents:
                status, payload = 200, json.dumps(self.documents[path]).encode()
            else:
                status, payload = 404, b"{}"
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/activity+json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def remote_peer() -> AsyncIterator[RemotePeer]:
    """A peer listening on an ephemeral port of 127.0.0.1 for the block's duration."""
    peer = RemotePeer()
    peer.server = await asyncio.start_server(peer._handle, "127.0.0.1", 0)
    peer.port = peer.server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        peer.server.close()
        await peer.server.wait_closed()


async def post_signed_http(
    http: httpx.AsyncClient,
    url: str,
    body: bytes | dict[str, Any],
    *,
    key_id: str,
    keypair: KeyPair,
    now: datetime,
    content_type: str = "application/activity+json",
) -> httpx.Response:
    """POST a body to an inbox URL over HTTP, signed Mastodon-style (draft-cavage) as `key_id`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    key = SigningKey(key_id, load_private_key(keypair.private_pem))
    headers.update(sign_cavage("POST", url, headers, data, key, now))
    return await http.post(url, content=data, headers=headers)
