"""Inbox POSTs are answered in front of Quart (web/inbox.py): what Quart's hooks gave them is
still there, over real HTTP on loopback (uvicorn, as `fedicity web` serves) and through the
test client: the body cap declared or streamed, the body timeout, NUL refused, 405 for other
methods, problem documents with the security headers, the access log line, a bug's 500."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.cli.lifecycle import serve_asgi
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web import inbox
from fedicity.web.app import create_app
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import free_port, wait_listening
from tests.inbox_helpers import seed_remote_actor, signed_headers

BASE = "http://fedicity.test"
ALICE = "https://social.invalid/users/alice"
KEY = fixed_keypairs()[0]
CAP = 4096


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small body cap, so that passing it takes little."""
    return dataclasses.replace(settings, max_body_bytes=CAP)


@pytest.fixture
async def served(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[tuple[Quart, int]]:
    """The app served by uvicorn on a loopback port, with a body timeout of half a second."""
    app = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    app.config["BODY_TIMEOUT"] = 0.5
    port = free_port()
    stop = asyncio.Event()
    server = asyncio.create_task(serve_asgi(app, settings, listen=f"127.0.0.1:{port}", stop=stop))
    await wait_listening(port)
    try:
        yield app, port
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def _exchange(port: int, head: bytes, *chunks: bytes, pause: float = 0.0) -> bytes:
    """Send a raw request (its head, then its chunks, pausing after them) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        if pause:
            await asyncio.sleep(pause)
        answer = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    return answer


def _status_and_problem(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body) if body else {}


async def _stored(pool: Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM inbox_items")
    return count


def _head(length: str | None = None, *extra: str) -> bytes:
    lines = [
        "POST /inbox HTTP/1.1",
        "Host: fedicity.test",
        "Content-Type: application/activity+json",
        *([f"Content-Length: {length}"] if length is not None else []),
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def test_a_body_declared_past_the_cap_is_refused_before_it_is_sent(
    served: tuple[Quart, int], pool: Pool
) -> None:
    _app, port = served
    # A sender announces an absurd body and sends none of it
    answer = await _exchange(port, _head(str(10**18)))
    # It is told at once, without the server waiting for the body
    status, headers, problem = _status_and_problem(answer)
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert problem["detail"] == f"an activity is at most {CAP} bytes"
    assert await _stored(pool) == 0


async def test_a_chunked_body_is_refused_once_it_passes_the_cap(
    served: tuple[Quart, int], pool: Pool
) -> None:
    _app, port = served
    # A body with no length, streamed in chunks past the cap
    chunk = b"x" * 1024
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer = await _exchange(port, _head(None, "Transfer-Encoding: chunked"), *[framed] * 6)
    status, _headers, problem = _status_and_problem(answer)
    assert status == 413, answer
    assert problem["status"] == 413
    assert await _stored(pool) == 0


async def test_a_body_that_stops_coming_gets_408(served: tuple[Quart, int], pool: Pool) -> None:
    _app, port = served
    # A sender declares 100 bytes, sends 10 and waits (a slow-body attack holds a connection)
    answer = await _exchange(port, _head("100"), b'{"type": "', pause=1.0)
    status, _headers, problem = _status_and_problem(answer)
    assert status == 408
    assert problem["detail"] == "the body did not arrive in time"
    assert await _stored(pool) == 0


async def test_a_signed_post_over_http_is_stored_with_the_document_headers_and_logged(
    served: tuple[Quart, int], pool: Pool, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    _app, port = served
    await seed_remote_actor(pool, ALICE, KEY, clock.now())
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": ALICE + "#likes/1",
        "type": "Like",
        "actor": ALICE,
        "object": BASE + "/notes/1",
    }
    body = json.dumps(activity).encode()
    headers = signed_headers(BASE + "/inbox", body, ALICE + "#main-key", KEY, clock.now())
    with caplog.at_level(logging.INFO, logger="fedicity.web.access"):
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/inbox", content=body, headers=headers
            )
    # Accepted and stored, with the headers every document of ours carries
    assert response.status_code == 202, response.text
    assert response.content == b""
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in response.headers
    assert await _stored(pool) == 1
    # And logged once by its route, as every request is
    lines = [r for r in caplog.records if r.name == "fedicity.web.access"]
    assert [(r.getMessage(), r.__dict__["route"]) for r in lines] == [("POST /inbox 202", "/inbox")]


async def test_other_methods_get_405_naming_post(client: TestClientProtocol) -> None:
    for path in ("/inbox", "/actor/inbox", "/actors/camille/inbox"):
        response = await client.get(path)
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"
        assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/actors/ca%00mille/inbox", "/inbox?page=%00"])
async def test_a_nul_in_the_path_or_query_is_refused(
    client: TestClientProtocol, pool: Pool, path: str
) -> None:
    response = await client.post(
        path, data=b"{}", headers={"Content-Type": "application/activity+json"}
    )
    assert response.status_code == 400
    problem = json.loads(await response.get_data(as_text=True))
    assert problem["detail"] == "the request contains a NUL character"
    assert await _stored(pool) == 0


async def test_an_unknown_actor_inbox_is_404(client: TestClientProtocol) -> None:
    response = await client.post(
        "/actors/nobody/inbox", data=b"{}", headers={"Content-Type": "application/activity+json"}
    )
    assert response.status_code == 404
    assert json.loads(await response.get_data(as_text=True))["status"] == 404


async def test_a_bug_is_a_logged_500_that_tells_nothing(
    client: TestClientProtocol, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(inbox, "check", broken)
    with caplog.at_level(logging.ERROR, logger="fedicity.web.inbox"):
        response = await client.post(
            "/inbox", data=b"{}", headers={"Content-Type": "application/activity+json"}
        )
    text = await response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret" not in text
    assert json.loads(text)["detail"] == "internal error; it has been logged"
    errors = [r for r in caplog.records if r.name == "fedicity.web.inbox"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
