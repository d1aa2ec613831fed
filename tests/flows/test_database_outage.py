"""PostgreSQL stopped under a running instance (issue 12, recovery): 503 with Retry-After while
it is down (a page for browsers, a problem document for servers, one log line for the outage),
served again once it is back, and the worker resumes and processes every row.

The database is a server of the test's own (not the shared test server), stopped and started
again with pg_ctl, as an administrator or a crash-restart would.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.db import embedded
from fedicity.db.migrate import migrate
from fedicity.db.pool import Pool, connect, create_pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.peer import running_peer
from tests.security.inbound_http import AS_CONTEXT, PUBLIC, post_signed_http

ALICE_KEY = fixed_keypairs()[3]
# Found without importing pgserver (its import warns when XDG_RUNTIME_DIR is unset).
_PGSERVER = importlib.util.find_spec("pgserver")
assert _PGSERVER is not None
assert _PGSERVER.origin is not None
PG_CTL = Path(_PGSERVER.origin).parent / "pginstall" / "bin" / "pg_ctl"


@dataclass
class Server:
    """A PostgreSQL of this test's own, which it may stop and start."""

    handle: embedded.EmbeddedPostgres

    def _pg_ctl(self, *args: str) -> None:
        # pgserver runs the server as its own system user when we are root (PostgreSQL refuses
        # root); pg_ctl must run as that user too.
        user = getattr(self.handle._server, "system_user", None)
        subprocess.run(
            [str(PG_CTL), "-D", str(self.handle.pgdata), "-w", *args],
            check=True,
            capture_output=True,
            user=user,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop it the way an administrator does (fast: sessions are ended)."""
        # The socket directory is the fifth line of postmaster.pid; read it while it exists.
        self.sockets = (self.handle.pgdata / "postmaster.pid").read_text().splitlines()[4]
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Start it again on the same socket."""
        log = str(self.handle.pgdata / "log")
        self._pg_ctl("-l", log, "-o", '-h ""', "-o", f"-k {self.sockets}", "start")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """A dedicated, migrated PostgreSQL."""
    handle = await asyncio.to_thread(embedded.start, tmp_path / "db", "fedicity")
    try:
        conn = await connect(handle.dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield Server(handle)
    finally:
        await asyncio.to_thread(handle.stop)


@pytest.fixture
async def own_pool(server: Server) -> AsyncIterator[Pool]:
    """A pool on the dedicated server, as a `fedicity` process opens it."""
    created = await create_pool(server.handle.dsn)
    try:
        yield created
    finally:
        await created.close()


def _note(actor: str, number: int) -> dict[str, Any]:
    note = f"{actor}/statuses/{number}"
    return {
        "@context": AS_CONTEXT,
        "id": note + "/activity",
        "type": "Create",
        "actor": actor,
        "to": [PUBLIC],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": actor,
            "to": [PUBLIC],
            "content": f"<p>Note {number}</p>",
        },
    }


async def test_an_instance_answers_503_while_its_database_is_down_then_catches_up(
    server: Server,
    own_pool: Pool,
    tmp_path: Path,
    keygen: FixedKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fedicity")
    async with (
        running_peer() as peer,
        running_instance(own_pool, tmp_path / "data", keygen) as instance,
        httpx.AsyncClient(timeout=10) as http,
    ):
        async with own_pool.acquire() as conn:
            await accounts.register(conn, username="camille", password="long enough", keygen=keygen)
        camille = instance.base + "/actors/camille"
        alice = peer.publish_actor("alice", ALICE_KEY)

        async def deliver(number: int) -> httpx.Response:
            return await post_signed_http(
                http,
                instance.base + "/inbox",
                _note(alice, number),
                key_id=alice + "#main-key",
                keypair=ALICE_KEY,
                now=datetime.now(UTC),
            )

        async def none_pending() -> bool:
            async with own_pool.acquire() as conn:
                return not await conn.fetchval(
                    "SELECT count(*) FROM inbox_items WHERE state = 'pending'"
                )

        # Given an instance that took Alice's first notes
        for number in range(3):
            assert (await deliver(number)).status_code == 202
        await eventually(none_pending)

        # When its PostgreSQL stops
        await asyncio.to_thread(server.stop)
        # Then a browser is shown a page saying to come back, and told when
        page = await http.get(camille, headers={"Accept": "text/html", "Accept-Language": "en"})
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert page.headers["Content-Type"].startswith("text/html")
        assert "cannot reach its database" in page.text
        # And a server delivering to the inbox is told to deliver again later, as a problem
        refused = [await deliver(number) for number in range(3, 13)]
        assert {response.status_code for response in refused} == {503}
        problem = refused[0].json()
        assert refused[0].headers["Content-Type"] == "application/problem+json"
        assert refused[0].headers["Retry-After"] == "5"
        assert (problem["status"], problem["reason"]) == (503, "database_unavailable")
        # And the outage is logged once by the web, with no traceback, however many requests
        web_lines = [r.getMessage() for r in caplog.records if r.name == "fedicity.web.errors"]
        assert len(web_lines) == 1
        assert web_lines[0].startswith("PostgreSQL unreachable")
        assert not [r for r in caplog.records if r.exc_info]

        # And the worker says it once too
        async def worker_noticed() -> bool:
            lines = _loop_lines(caplog)
            return any(r.getMessage().startswith("PostgreSQL unreachable") for r in lines)

        await eventually(worker_noticed)

        # When PostgreSQL is back
        await asyncio.to_thread(server.start)

        # Then the instance serves again, and takes the notes the server delivers again
        async def serving() -> bool:
            return (await http.get(camille, headers={"Accept": "text/html"})).status_code == 200

        await eventually(serving)
        for number in range(3, 13):
            response = await deliver(number)
            assert response.status_code == 202, response.text
        # And the worker resumed and processed every row
        await eventually(none_pending)
        async with own_pool.acquire() as conn:
            states = await conn.fetch("SELECT state FROM inbox_items ORDER BY id")
        assert len(states) == 13
        # And each side logged the end of the outage once, still with no traceback
        ends = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
        assert len([e for e in ends if "request(s) were answered 503" in e]) == 1
        assert len([r for r in _loop_lines(caplog) if "reachable again" in r.getMessage()]) == 1
        assert not [r for r in caplog.records if r.exc_info]


def _loop_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fedicity.workers.loops"]
