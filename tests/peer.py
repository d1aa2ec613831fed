"""A remote server for tests: a real HTTP server on 127.0.0.1, never a patched function.

GET answers the JSON registered for a path (or a redirect); POST is taken with 202 and kept. It
records what it was asked, and can also play a server that accepts connections and never answers
(`silent`) or one that answers something that is not HTTP (`garbage`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from fedicity.activitypub.keys import KeyPair
from tests.inbox_helpers import actor_document

Mode = Literal["http", "silent", "garbage"]


@dataclass(frozen=True)
class Seen:
    """One request the peer received."""

    method: str
    path: str
    host: str


@dataclass(frozen=True)
class Posted:
    """One POST the peer received, headers included."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class Peer:
    """A fediverse server on 127.0.0.1 (see the module's docstring)."""

    mode: Mode = "http"
    documents: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    # The Content-Type of a path served otherwise than as ActivityStreams (WebFinger's JRD).
    content_types: dict[str, str] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    # What was POSTed: (path, body).
    received: list[tuple[str, bytes]] = field(default_factory=list)
    # The same POSTs with their headers (as sent, in order), to check their signatures.
    posted: list[Posted] = field(default_factory=list)
    connections: int = 0
    # A silent server's connections the client still holds, and the most ever held at once: a
    # client that gave up (its timeout) and opened another is not over its cap.
    open_silent: int = 0
    most_open_silent: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def host(self) -> str:
        """host:port, as handles and domains name it."""
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        """The peer's base URL."""
        return f"http://{self.host}"

    def url(self, path: str) -> str:
        """An absolute URL on this peer."""
        return self.base + path

    @property
    def paths(self) -> list[str]:
        """The paths it was asked for, in order."""
        return [seen.path for seen in self.requests]

    def received_json(self) -> list[Any]:
        """The POSTed bodies, decoded."""
        return [json.loads(body) for _path, body in self.received]

    def serve(
        self,
        path: str,
        document: dict[str, Any],
        status: int = 200,
        content_type: str = "application/activity+json",
    ) -> None:
        """Answer GET `path` with `document` (replacing what was served there)."""
        self.documents[path] = (status, document)
        self.content_types[path] = content_type

    def document(self, path: str) -> dict[str, Any]:
        """What GET `path` answers (to change it in place)."""
        return self.documents[path][1]

    def publish_actor(self, name: str, keypair: KeyPair) -> str:
        """Serve a Mastodon-shaped actor publishing `keypair` at /users/NAME; its id."""
        uri = self.url(f"/users/{name}")
        self.serve(f"/users/{name}", actor_document(uri, keypair, username=name))
        return uri

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
                # Accept, answer nothing: hold the connection until the test ends or the client
                # closes it (reading only to see that end).
                self.open_silent += 1
                self.most_open_silent = max(self.most_open_silent, self.open_silent)
                try:
                    closing = asyncio.ensure_future(self._closing.wait())
                    hung_up = asyncio.ensure_future(reader.read())
                    await asyncio.wait({closing, hung_up}, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in (closing, hung_up):
                        waiter.cancel()
                finally:
                    self.open_silent -= 1
                return
            if self.mode == "garbage":
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                await writer.drain()
                return
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(1)
        if first == b"\x16":
            # A TLS handshake (an https:// attempt, as WebFinger makes first): this server
            # speaks plain HTTP only, so it hangs up at once, as a closed port would.
            return
        head = first + await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        raw_headers = tuple(
            (name.strip(), value.strip())
            for name, _sep, value in (line.partition(":") for line in lines[1:] if line)
        )
        headers = {
            name.strip().lower(): value.strip()
            for name, _sep, value in (line.partition(":") for line in lines[1:] if line)
        }
        self.requests.append(Seen(method, path, headers.get("host", "")))
        if method == "POST":
            length = int(headers.get("content-length", "0") or "0")
            body = await reader.readexactly(length) if length else b""
            self.received.append((path, body))
            self.posted.append(Posted(path, raw_headers, body))
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif path in self.redirects:
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {self.redirects[path]}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
        else:
            status, document = self.documents.get(path, (404, {"error": "not found"}))
            body = json.dumps(document).encode()
            content_type = self.content_types.get(path, "application/activity+json")
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
        await writer.drain()


@asynccontextmanager
async def running_peer(mode: Mode = "http") -> AsyncIterator[Peer]:
    """A started Peer, stopped when the block ends."""
    peer = Peer(mode=mode)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()
