"""Remote servers for the federation security tests: real HTTP/1.1 servers on 127.0.0.1.

A FakePeer serves JSON documents by exact path and records every request (method, path, Host
header) and every connection it accepted, so a test can assert that something was never
contacted. Its `mode` makes it a server that accepts connections and never answers ("silent"),
or one that is not HTTP at all ("garbage").
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.clock import Clock

Mode = Literal["http", "silent", "garbage"]


@dataclass
class Seen:
    """One request a fake peer received."""

    method: str
    path: str
    host: str


@dataclass
class FakePeer:
    """A server on 127.0.0.1 that answers GET `path` with the JSON registered for it."""

    mode: Mode = "http"
    documents: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        """The peer's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """An absolute URL on this peer."""
        return self.base + path

    def serve(self, path: str, document: dict[str, Any], status: int = 200) -> None:
        """Answer GET `path` with `document`."""
        self.documents[path] = (status, document)

    def redirect(self, path: str, location: str) -> None:
        """Answer GET `path` with a 302 to `location`."""
        self.redirects[path] = location

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        self._closing.set()
        for writer in list(self._writers):
            writer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.mode == "silent":
                # Accept, read nothing, answer nothing: hold the connection until the test ends.
                await self._closing.wait()
                return
            if self.mode == "garbage":
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                await writer.drain()
                return
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            host = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in lines[1:]
                    if line.lower().startswith("host:")
                ),
                "",
            )
            self.requests.append(Seen(method, path, host))
            if path in self.redirects:
                writer.write(
                    f"HTTP/1.1 302 Found\r\nLocation: {self.redirects[path]}\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
                )
                await writer.drain()
                return
            status, document = self.documents.get(path, (404, {"error": "not found"}))
            body = json.dumps(document).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/activity+json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@asynccontextmanager
async def fake_peer(mode: Mode = "http") -> AsyncIterator[FakePeer]:
    """A started FakePeer, stopped when the block ends."""
    peer = FakePeer(mode=mode)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


def person(uri: str, keypair: KeyPair, *, username: str = "someone") -> dict[str, Any]:
    """A Mastodon-shaped actor document publishing `keypair`, inbox on its own server."""
    base = uri.split("/users/", 1)[0]
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": username,
        "inbox": uri + "/inbox",
        "outbox": uri + "/outbox",
        "followers": uri + "/followers",
        "endpoints": {"sharedInbox": base + "/inbox"},
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": keypair.public_pem},
    }


def signed_post(
    url: str, body: bytes, key_id: str, keypair: KeyPair, clock: Clock
) -> dict[str, str]:
    """Mastodon-style draft-cavage headers for POSTing `body` to `url` (Host from `url`)."""
    headers = {"Content-Type": "application/activity+json"}
    headers.update(
        sign_cavage(
            "POST",
            url,
            headers,
            body,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            clock.now(),
        )
    )
    return headers


def signed_get(
    url: str, key_id: str, keypair: KeyPair, clock: Clock, accept: str
) -> dict[str, str]:
    """Mastodon-style draft-cavage headers for a GET of `url`."""
    headers = {"Accept": accept} if accept else {}
    headers.update(
        sign_cavage(
            "GET",
            url,
            headers,
            None,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            clock.now(),
        )
    )
    return headers


def problem_reason(response: httpx.Response) -> str | None:
    """The `reason` of a problem document, or None when the body is not one."""
    try:
        document = response.json()
    except ValueError:
        return None
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) else None


async def logged_in(http: httpx.AsyncClient, base: str, login: str, password: str) -> str:
    """Log `http` in through the login form; the session's CSRF token for later forms."""
    page = await http.get(base + "/login")
    token = _csrf_in(page.text)
    answer = await http.post(
        base + "/login",
        data={"login": login, "password": password, "csrf_token": token, "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return _csrf_in((await http.get(base + "/home")).text)


def _csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)
