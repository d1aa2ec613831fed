"""fetch_document and fetch_key_owner against real HTTP servers on 127.0.0.1 (no httpx mocking).

The servers are tiny asyncio HTTP/1.1 handlers, so a test controls the exact bytes: lying or
missing Content-Length, chunked bodies that never end, a server that stalls. The SSRF tests use
addresses nothing listens on (or a tripwire transport), so a refusal can only come from the policy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fedicity import __version__
from fedicity.activitypub.fetch import (
    DEFAULT_ACCEPT,
    Fetched,
    FetchError,
    FetchFailure,
    FetchPolicy,
    IPAddress,
    fetch_document,
    fetch_key_owner,
    is_blocked_address,
    origin_of,
    resolve_host,
    user_agent_for,
)

LOCAL = FetchPolicy(allow_private_addresses=True, timeout=2.0)
STRICT = FetchPolicy()
AS_JSON = "application/activity+json"


@dataclass
class Request:
    """What a test server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    """What a handler wants sent: a whole response, or headers then an endless body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Handler = Callable[["Server", Request, asyncio.StreamWriter], Awaitable[Reply | None]]


class Server:
    """A minimal HTTP/1.1 server: one request per connection, routes by exact path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self.aborted = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base(self) -> str:
        """http://host:port of this server."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.base + path

    def route(self, path: str, handler: Handler) -> None:
        """Serve `path` with `handler`."""
        self.routes[path] = handler

    def json(
        self, path: str, document: Any, content_type: str = AS_JSON, status: int = 200
    ) -> None:
        """Serve a fixed JSON document at `path`."""
        body = json.dumps(document).encode()

        async def handler(_s: Server, _r: Request, _w: asyncio.StreamWriter) -> Reply:
            return Reply(status, {"Content-Type": content_type}, body)

        self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect `path` to `location`."""

        async def handler(_s: Server, _r: Request, _w: asyncio.StreamWriter) -> Reply:
            return Reply(status, {"Location": location})

        self.route(path, handler)

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cancel handlers still running (slow or endless ones)."""
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            request = Request(method, path, headers)
            self.requests.append(request)
            handler = self.routes.get(path)
            reply = await handler(self, request, writer) if handler else Reply(404)
            if reply is not None:
                reply.headers.setdefault("Content-Length", str(len(reply.body)))
                await send_head(writer, reply.status, reply.headers)
                writer.write(reply.body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.aborted.set()
        finally:
            writer.close()


async def send_head(writer: asyncio.StreamWriter, status: int, headers: dict[str, str]) -> None:
    """Write a status line and headers (every response closes its connection)."""
    lines = [f"HTTP/1.1 {status} Whatever"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1"))
    await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A fresh test server on 127.0.0.1."""
    srv = Server()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A real client, built as production builds it: no redirects, no proxies from the env."""
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as c:
        yield c


def note(url: str) -> dict[str, Any]:
    """A small Note whose id is `url`."""
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": url, "type": "Note"}


def fail(result: Fetched | FetchError, reason: FetchFailure) -> FetchError:
    """Assert that a fetch failed for `reason` and return the error."""
    assert isinstance(result, FetchError), result
    assert result.reason is reason, result
    return result


# --- success and redirects ---------------------------------------------------------------


async def test_fetches_a_document(server: Server, client: httpx.AsyncClient) -> None:
    url = server.url("/notes/1")
    server.json("/notes/1", note(url), 'application/ld+json; profile="x"')
    result = await fetch_document(
        client, url, policy=LOCAL, user_agent=user_agent_for("https://city.example")
    )
    assert result == Fetched(document=note(url), url=url, status=200)
    sent = server.requests[0].headers
    assert sent["accept"] == DEFAULT_ACCEPT
    assert sent["user-agent"] == f"fedicity/{__version__} (+https://city.example)"
    assert "signature" not in sent


async def test_plain_application_json_is_accepted(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.json("/n", note(server.url("/n")), "application/json; charset=utf-8")
    assert isinstance(await fetch_document(client, server.url("/n"), policy=LOCAL), Fetched)


async def test_follows_redirects_within_the_limit(
    server: Server, client: httpx.AsyncClient
) -> None:
    final = server.url("/final")
    server.redirect("/r1", "/r2", 301)
    server.redirect("/r2", server.url("/r3"), 307)
    server.redirect("/r3", "/final#fragment", 308)
    server.json("/final", note(final))
    signed: list[str] = []

    def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        signed.append(f"{method} {url}")
        return {"Signature": f"for {url}"}

    result = await fetch_document(client, server.url("/r1"), policy=LOCAL, sign=sign)
    assert isinstance(result, Fetched)
    assert result.url == final
    assert [r.path for r in server.requests] == ["/r1", "/r2", "/r3", "/final"]
    # Every hop is signed for its own URL, and the fragment is never part of it.
    assert signed == [f"GET {server.url(p)}" for p in ("/r1", "/r2", "/r3", "/final")]
    assert [r.headers["signature"] for r in server.requests] == [
        f"for {server.url(p)}" for p in ("/r1", "/r2", "/r3", "/final")
    ]


async def test_too_many_redirects(server: Server, client: httpx.AsyncClient) -> None:
    for hop in range(5):
        server.redirect(f"/r{hop}", f"/r{hop + 1}")
    server.json("/r5", note(server.url("/r5")))
    policy = FetchPolicy(allow_private_addresses=True, max_redirects=3)
    fail(
        await fetch_document(client, server.url("/r0"), policy=policy),
        FetchFailure.TOO_MANY_REDIRECTS,
    )
    # The original request and three redirects were followed, the fourth was not.
    assert [r.path for r in server.requests] == ["/r0", "/r1", "/r2", "/r3"]


async def test_redirect_to_another_host_cannot_vouch_for_the_first(
    server: Server, client: httpx.AsyncClient
) -> None:
    other = Server("127.0.0.2")
    await other.start()
    try:
        claimed = server.url("/notes/1")
        server.redirect("/notes/1", other.url("/copy"))
        other.json("/copy", note(claimed))
        error = fail(await fetch_document(client, claimed, policy=LOCAL), FetchFailure.ID_MISMATCH)
        assert "127.0.0.2" in error.detail
        assert len(other.requests) == 1
    finally:
        await other.stop()


async def test_redirect_to_a_non_http_scheme_is_refused(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.redirect("/r", "file:///etc/passwd")
    fail(await fetch_document(client, server.url("/r"), policy=LOCAL), FetchFailure.BAD_URL)


# --- size limits -------------------------------------------------------------------------


async def test_declared_content_length_over_the_limit(
    server: Server, client: httpx.AsyncClient
) -> None:
    async def huge(_s: Server, _r: Request, writer: asyncio.StreamWriter) -> None:
        await send_head(writer, 200, {"Content-Type": AS_JSON, "Content-Length": "50000000"})
        for _ in range(50_000_000 // 65536):
            writer.write(b" " * 65536)
            await writer.drain()
            server.bytes_sent += 65536

    server.route("/big", huge)
    policy = FetchPolicy(allow_private_addresses=True, max_bytes=1000)
    error = fail(
        await fetch_document(client, server.url("/big"), policy=policy), FetchFailure.TOO_LARGE
    )
    assert "Content-Length" in error.detail
    await asyncio.wait_for(server.aborted.wait(), 2)
    assert server.bytes_sent < 50_000_000


async def test_streamed_body_over_the_limit_stops_reading(
    server: Server, client: httpx.AsyncClient
) -> None:
    async def endless(_s: Server, _r: Request, writer: asyncio.StreamWriter) -> None:
        # Chunked, so no Content-Length warns the client: only counting can stop it.
        await send_head(writer, 200, {"Content-Type": AS_JSON, "Transfer-Encoding": "chunked"})
        chunk = b"%x\r\n%s\r\n" % (4096, b"[" * 4096)
        for _ in range(100_000_000 // 4096):
            writer.write(chunk)
            await writer.drain()
            server.bytes_sent += 4096

    server.route("/endless", endless)
    policy = FetchPolicy(allow_private_addresses=True, max_bytes=10_000)
    started = time.monotonic()
    error = fail(
        await fetch_document(client, server.url("/endless"), policy=policy), FetchFailure.TOO_LARGE
    )
    assert "exceeds 10000" in error.detail
    # The client hung up: the server's writes fail long before its 100 MB are out.
    await asyncio.wait_for(server.aborted.wait(), 2)
    assert server.bytes_sent < 20_000_000
    assert time.monotonic() - started < 2


async def test_body_exactly_at_the_limit_is_fine(server: Server, client: httpx.AsyncClient) -> None:
    document = note(server.url("/n"))
    size = len(json.dumps(document).encode())
    server.json("/n", document)
    policy = FetchPolicy(allow_private_addresses=True, max_bytes=size)
    assert isinstance(await fetch_document(client, server.url("/n"), policy=policy), Fetched)


# --- time limits -------------------------------------------------------------------------


async def test_slow_server_times_out(server: Server, client: httpx.AsyncClient) -> None:
    async def stall(_s: Server, _r: Request, _w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server.route("/slow", stall)
    policy = FetchPolicy(allow_private_addresses=True, timeout=0.3)
    started = time.monotonic()
    fail(await fetch_document(client, server.url("/slow"), policy=policy), FetchFailure.TIMEOUT)
    assert time.monotonic() - started < 1.5


async def test_dripping_body_hits_the_overall_deadline(
    server: Server, client: httpx.AsyncClient
) -> None:
    async def drip(_s: Server, _r: Request, writer: asyncio.StreamWriter) -> None:
        # Each byte arrives well within a per-read timeout; only a deadline on the whole fetch
        # stops this.
        await send_head(writer, 200, {"Content-Type": AS_JSON, "Content-Length": "1000"})
        for _ in range(1000):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)

    server.route("/drip", drip)
    policy = FetchPolicy(allow_private_addresses=True, timeout=0.5)
    started = time.monotonic()
    fail(await fetch_document(client, server.url("/drip"), policy=policy), FetchFailure.TIMEOUT)
    assert time.monotonic() - started < 1.5


# --- statuses, types, JSON and origin ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, FetchFailure.HTTP_ERROR),
        (500, FetchFailure.HTTP_ERROR),
        (410, FetchFailure.GONE),
        (401, FetchFailure.UNAUTHORIZED),
        (403, FetchFailure.UNAUTHORIZED),
    ],
)
async def test_error_statuses(
    server: Server, client: httpx.AsyncClient, status: int, reason: FetchFailure
) -> None:
    server.json("/x", {"error": "no"}, status=status)
    error = fail(await fetch_document(client, server.url("/x"), policy=LOCAL), reason)
    assert error.status == status


async def test_unknown_path_is_http_error_404(server: Server, client: httpx.AsyncClient) -> None:
    error = fail(
        await fetch_document(client, server.url("/missing"), policy=LOCAL), FetchFailure.HTTP_ERROR
    )
    assert error.status == 404


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xml", ""])
async def test_wrong_content_type(
    server: Server, client: httpx.AsyncClient, content_type: str
) -> None:
    async def page(_s: Server, _r: Request, _w: asyncio.StreamWriter) -> Reply:
        headers = {"Content-Type": content_type} if content_type else {}
        return Reply(200, headers, json.dumps(note(server.url("/p"))).encode())

    server.route("/p", page)
    fail(
        await fetch_document(client, server.url("/p"), policy=LOCAL), FetchFailure.BAD_CONTENT_TYPE
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not json</html>",
        b'{"id": "truncated',
        b"\xff\xfe\xfa not utf",
        b"[" * 200_000 + b"]" * 200_000,  # nesting deep enough to exhaust the recursion limit
        b'{"n": ' + b"9" * 5000 + b"}",  # an integer past Python's digit limit
    ],
    ids=["html", "truncated", "bad-bytes", "deep-nesting", "huge-int"],
)
async def test_bad_json(server: Server, client: httpx.AsyncClient, body: bytes) -> None:
    async def garbage(_s: Server, _r: Request, _w: asyncio.StreamWriter) -> Reply:
        return Reply(200, {"Content-Type": AS_JSON}, body)

    server.route("/g", garbage)
    fail(await fetch_document(client, server.url("/g"), policy=LOCAL), FetchFailure.BAD_JSON)


@pytest.mark.parametrize("document", [[{"id": "x"}], "a string", 42, None])
async def test_json_that_is_not_an_object(
    server: Server, client: httpx.AsyncClient, document: Any
) -> None:
    server.json("/a", document)
    fail(await fetch_document(client, server.url("/a"), policy=LOCAL), FetchFailure.BAD_JSON)


@pytest.mark.parametrize(
    "object_id",
    ["https://elsewhere.example/notes/1", None, "", 17, "urn:uuid:1b4e28ba-2fa1-11d2-883f"],
)
async def test_id_not_on_the_serving_host(
    server: Server, client: httpx.AsyncClient, object_id: Any
) -> None:
    document = {"type": "Note"} if object_id is None else {"id": object_id, "type": "Note"}
    server.json("/n", document)
    fail(await fetch_document(client, server.url("/n"), policy=LOCAL), FetchFailure.ID_MISMATCH)


@pytest.mark.parametrize("object_id", ["https://127.0.0.1/notes/1", "http://127.0.0.1/notes/1"])
async def test_id_on_another_port_or_scheme_of_the_same_host_is_refused(
    server: Server, client: httpx.AsyncClient, object_id: str
) -> None:
    # Another port of a host name is another server: it cannot speak for this one.
    server.json("/n", note(object_id))
    fail(await fetch_document(client, server.url("/n"), policy=LOCAL), FetchFailure.ID_MISMATCH)


def test_origin_of_writes_the_default_port_out() -> None:
    assert origin_of("https://City.Example/a") == origin_of("https://city.example:443/b")
    assert origin_of("http://city.example/a") == "http://city.example:80"
    assert origin_of("https://city.example:8443/a") != origin_of("https://city.example/a")
    assert origin_of("http://[::1]:8000/a") == "http://[::1]:8000"
    assert origin_of("urn:uuid:1") is None


async def test_non_activitystreams_documents_choose_types_and_skip_the_origin_check(
    server: Server, client: httpx.AsyncClient
) -> None:
    # WebFinger's JRD: its own media type and no id, but every other check still applies.
    jrd = {"subject": "acct:a@127.0.0.1", "links": []}
    server.json("/.well-known/webfinger", jrd, "application/jrd+json")
    url = server.url("/.well-known/webfinger")
    jrd_types = frozenset({"application/jrd+json", "application/json"})
    fail(await fetch_document(client, url, policy=LOCAL), FetchFailure.BAD_CONTENT_TYPE)
    fail(
        await fetch_document(client, url, policy=LOCAL, content_types=jrd_types),
        FetchFailure.ID_MISMATCH,
    )
    result = await fetch_document(
        client, url, policy=LOCAL, content_types=jrd_types, check_origin=False
    )
    assert isinstance(result, Fetched)
    assert result.document == jrd


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    fail(
        await fetch_document(client, f"http://127.0.0.1:{closed_port()}/", policy=LOCAL),
        FetchFailure.CONNECTION_ERROR,
    )


# --- key owners ----------------------------------------------------------------------------


def signature_required(document: dict[str, Any]) -> Handler:
    """A handler answering 401 unless the request carries a Signature header."""

    async def handler(_s: Server, request: Request, _w: asyncio.StreamWriter) -> Reply:
        if "signature" not in request.headers:
            return Reply(401, {"Content-Type": AS_JSON}, b'{"error": "signature required"}')
        return Reply(200, {"Content-Type": AS_JSON}, json.dumps(document).encode())

    return handler


def recording_signer(calls: list[str]) -> Callable[[str, str, dict[str, str]], dict[str, str]]:
    """A signer that records its calls and adds a (fake) Signature header."""

    def sign(method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        calls.append(url)
        assert headers["Accept"] == DEFAULT_ACCEPT
        return {"Signature": 'keyId="https://city.example/actor#main-key",signature="x"'}

    return sign


async def test_key_owner_is_fetched_unsigned_then_signed_on_401(
    server: Server, client: httpx.AsyncClient
) -> None:
    actor = {"id": server.url("/users/a"), "type": "Person", "publicKey": {"id": "#main-key"}}
    server.route("/users/a", signature_required(actor))
    calls: list[str] = []
    result = await fetch_key_owner(
        client, server.url("/users/a#main-key"), policy=LOCAL, sign=recording_signer(calls)
    )
    assert isinstance(result, Fetched)
    assert result.document == actor
    assert ["signature" in r.headers for r in server.requests] == [False, True]
    assert [r.path for r in server.requests] == ["/users/a", "/users/a"]
    assert calls == [server.url("/users/a")]


async def test_key_owner_served_unsigned_is_never_signed(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.json("/users/a", {"id": server.url("/users/a"), "type": "Person"})
    calls: list[str] = []
    result = await fetch_key_owner(
        client, server.url("/users/a#main-key"), policy=LOCAL, sign=recording_signer(calls)
    )
    assert isinstance(result, Fetched)
    assert calls == []
    assert len(server.requests) == 1


async def test_key_owner_refused_twice_stops_after_two_requests(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.json("/users/a", {"error": "go away"}, status=401)
    calls: list[str] = []
    result = await fetch_key_owner(
        client, server.url("/users/a#main-key"), policy=LOCAL, sign=recording_signer(calls)
    )
    fail(result, FetchFailure.UNAUTHORIZED)
    assert ["signature" in r.headers for r in server.requests] == [False, True]


async def test_key_owner_without_signer_reports_unauthorized(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.json("/users/a", {"error": "go away"}, status=403)
    fail(
        await fetch_key_owner(client, server.url("/users/a"), policy=LOCAL, sign=None),
        FetchFailure.UNAUTHORIZED,
    )
    assert len(server.requests) == 1


async def test_gotosocial_main_key_stub_is_returned_as_fetched(
    server: Server, client: httpx.AsyncClient
) -> None:
    key_id = server.url("/users/a/main-key")
    stub = {
        "@context": "https://w3id.org/security/v1",
        "id": key_id,
        "owner": server.url("/users/a"),
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
    }
    server.json("/users/a/main-key", stub)
    result = await fetch_key_owner(client, key_id, policy=LOCAL, sign=None)
    assert isinstance(result, Fetched)
    assert result.document["owner"] == server.url("/users/a")


# --- SSRF policy ---------------------------------------------------------------------------


class Tripwire(httpx.AsyncBaseTransport):
    """A transport that records any request reaching it and never touches the network."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raise httpx.ConnectError("the tripwire transport never connects", request=request)


BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://localhost/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "https://[fd00::1]/",
    "http://[fe80::1%25eth0]/",
    "http://224.0.0.1/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number, which getaddrinfo accepts
    "http://0x7f.0.0.1/",
]
LOOPBACK_HOSTS = [
    "127.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",  # noqa: S104 (an address under test, not a bind)
    "localhost",
    "2130706433",
]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("url", BLOCKED_URLS)
async def test_blocked_addresses_are_refused_before_any_request(url: str) -> None:
    tripwire = Tripwire()
    async with httpx.AsyncClient(transport=tripwire) as guarded:
        fail(await fetch_document(guarded, url, policy=STRICT), FetchFailure.BLOCKED_ADDRESS)
    assert tripwire.requests == []


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_blocked_loopback_is_refused_without_connecting(
    client: httpx.AsyncClient, host: str
) -> None:
    # A real client and a port nothing listens on: had a connection been tried, this would be
    # CONNECTION_ERROR, or a "connected to" refusal from the after-connect check.
    url = f"http://{host}:{closed_port()}/users/a"
    error = fail(await fetch_document(client, url, policy=STRICT), FetchFailure.BLOCKED_ADDRESS)
    assert "connected to" not in error.detail


async def test_blocked_address_even_on_a_listening_server(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.json("/n", note(server.url("/n")))
    fail(
        await fetch_document(client, server.url("/n"), policy=STRICT), FetchFailure.BLOCKED_ADDRESS
    )
    assert server.requests == []


async def test_each_redirect_hop_is_resolved_and_checked(
    server: Server, client: httpx.AsyncClient
) -> None:
    # The second hop goes through the same resolution and address check as the first; a name
    # that does not resolve proves it (a blocked one would too, but a strict policy cannot reach
    # the loopback server of the first hop).
    server.redirect("/r", "http://nowhere.test/secret")
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        resolved.append(host)
        if host == "nowhere.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await resolve_host(host, port)

    result = await fetch_document(
        client, f"http://localhost:{server.port}/r", policy=LOCAL, resolve=resolve
    )
    fail(result, FetchFailure.DNS_FAILURE)
    assert resolved == ["localhost", "nowhere.test"]
    assert [r.path for r in server.requests] == ["/r"]


async def test_dns_rebinding_response_is_not_read(
    server: Server, client: httpx.AsyncClient
) -> None:
    # Our resolver says public, but httpx resolves "localhost" itself and reaches 127.0.0.1:
    # the rebinding case. The request goes out; the answer must not come back.
    server.json("/n", note(f"http://localhost:{server.port}/n"))

    async def public(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34")]

    result = await fetch_document(
        client, f"http://localhost:{server.port}/n", policy=STRICT, resolve=public
    )
    error = fail(result, FetchFailure.BLOCKED_ADDRESS)
    assert "connected to" in error.detail
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        [],
        [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.1.2.3")],
    ],
    ids=["no-address", "one-private-among-public"],
)
async def test_resolver_answers(answer: list[IPAddress]) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        assert (host, port) == ("social.example", 443)
        return answer

    tripwire = Tripwire()
    async with httpx.AsyncClient(transport=tripwire) as guarded:
        result = await fetch_document(
            guarded, "https://Social.Example./users/a", policy=STRICT, resolve=resolve
        )
    expected = FetchFailure.DNS_FAILURE if not answer else FetchFailure.BLOCKED_ADDRESS
    fail(result, expected)
    assert tripwire.requests == []


async def test_dns_failure() -> None:
    async def nxdomain(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    tripwire = Tripwire()
    async with httpx.AsyncClient(transport=tripwire) as guarded:
        fail(
            await fetch_document(
                guarded, "https://nowhere.invalid/", policy=STRICT, resolve=nxdomain
            ),
            FetchFailure.DNS_FAILURE,
        )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///no-host",
        "https://user:secret@social.example/users/a",
        "not a url at all",
        "http://0177.0.0.1/",
    ],
)
async def test_bad_urls(url: str) -> None:
    tripwire = Tripwire()
    async with httpx.AsyncClient(transport=tripwire) as guarded:
        fail(await fetch_document(guarded, url, policy=STRICT), FetchFailure.BAD_URL)
    assert tripwire.requests == []


# --- the address classifier (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "0.0.0.0",  # noqa: S104 (an address under test, not a bind)
        "0.1.2.3",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",  # deprecated site-local
        "ff02::1",  # multicast
        "2001:db8::1",  # documentation
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
    ],
)
def test_classifier_blocks(address: str) -> None:
    assert is_blocked_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.1",  # just above CGNAT
        "172.32.0.1",  # just above 172.16/12
        "2606:4700:4700::1111",
        "2a01:4f8::1",
        "::ffff:8.8.8.8",  # IPv4-mapped public address: judged as 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    ],
)
def test_classifier_allows_public_addresses(address: str) -> None:
    assert not is_blocked_address(ipaddress.ip_address(address))


def test_policy_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="invalid fetch policy"):
        FetchPolicy(timeout=0)
    with pytest.raises(ValueError, match="invalid fetch policy"):
        FetchPolicy(max_bytes=-1)
