"""Delivery reliability: publish fans out to one row per inbox; the worker retries, backs off,
survives being killed, skips dead domains and never delivers a row twice.

Targets are real HTTP/1.1 servers on 127.0.0.1 that record every POST and answer as told; the
worker runs through deliver_batch with a FrozenClock that the tests move (no real waiting).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal, Protocol

import pytest

from fedicity.activitypub.fetch.poster import DeliveryClient, new_delivery_client
from fedicity.activitypub.httpsig import ParsedSignature, parse_signature, verify
from fedicity.activitypub.keys import load_public_key
from fedicity.activitypub.retry import MAX_ATTEMPTS
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.parse import parse_remote_actor
from fedicity.actors.service import create_person
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool, record_dict
from fedicity.delivery import queries as delivery_queries
from fedicity.follows import queries as follow_queries
from fedicity.urls import Urls, new_token
from fedicity.workers.delivery import LEASE, PROBE_INTERVAL, PROBE_WAIT, deliver_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, free_port
from tests.inbox_helpers import actor_document, seed_remote_actor

URLS = Urls("http://fedicity.test")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REMOTE_KEY = fixed_keypairs()[-1]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

Mode = Literal["accept", "error", "throttle", "gone", "bad", "hang"]
_ANSWERS: dict[Mode, int | None] = {
    "accept": 202,
    "error": 500,
    "throttle": 429,
    "gone": 410,
    "bad": 400,
    "hang": None,
}


# ---------------------------------------------------------------------------------------------
# A loopback inbox server


@dataclass(frozen=True)
class ReceivedPost:
    """One request the server read in full, and the status it answered (None: it hung)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int | None

    @property
    def activity_id(self) -> str:
        """The id of the posted activity."""
        activity_id: str = json.loads(self.body)["id"]
        return activity_id


@dataclass
class InboxServer:
    """An HTTP/1.1 inbox on 127.0.0.1 that records every request and answers as `mode` says."""

    port: int
    mode: Mode = "accept"
    retry_after: str = "3600"
    received: list[ReceivedPost] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        """The host (with port) deliveries to this server are filed under."""
        return f"127.0.0.1:{self.port}"

    @property
    def answered(self) -> list[ReceivedPost]:
        """The requests that got a 2xx."""
        return [post for post in self.received if post.status is not None and post.status < 300]

    async def start(self) -> None:
        """Listen on the port (again)."""
        self._release = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Close the port and every open connection, hung ones included."""
        self._release.set()
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        """Wait until `count` requests have arrived."""

        async def arrived() -> bool:
            return len(self.received) >= count

        await eventually(arrived, within=within, interval=0.01)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers = tuple(
            (name.strip(), value.strip())
            for name, _, value in (line.partition(":") for line in lines)
        )
        length = int(
            dict((name.lower(), value) for name, value in headers).get("content-length", 0)
        )
        body = await reader.readexactly(length)
        status = _ANSWERS[self.mode]
        self.received.append(ReceivedPost(method, path, headers, body, status))
        if status is None:
            await self._release.wait()
            return False
        text = b"ok" if status < 300 else b"boom"
        extra = f"Retry-After: {self.retry_after}\r\n" if status == 429 else ""
        writer.write(
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(text)}\r\n{extra}\r\n".encode("latin-1")
            + text
        )
        await writer.drain()
        return True


class ServerFactory(Protocol):
    """Makes an inbox server on a free port, listening unless `started` is False."""

    def __call__(self, *, started: bool = True, mode: Mode = "accept") -> Awaitable[InboxServer]:
        """Make one."""
        ...


@pytest.fixture
async def servers() -> AsyncIterator[ServerFactory]:
    """Make inbox servers (started unless told otherwise); all are stopped after the test."""
    made: list[InboxServer] = []

    async def make(*, started: bool = True, mode: Mode = "accept") -> InboxServer:
        server = InboxServer(free_port(), mode=mode)
        made.append(server)
        if started:
            await server.start()
        return server

    yield make
    for server in made:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[DeliveryClient]:
    """The client a worker uses (no proxies from the environment)."""
    async with new_delivery_client(allow_private_addresses=True) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# Rows and helpers


@dataclass(frozen=True)
class DeliveryRow:
    """A deliveries row as the tests look at it."""

    id: int
    activity_id: int
    inbox: str
    domain: str
    state: str
    attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None
    last_status: int | None
    last_error: str | None


async def _rows(pool: Pool) -> list[DeliveryRow]:
    async with pool.acquire() as conn:
        records = await conn.fetch(
            """SELECT id, activity_id, inbox, domain, state, attempts, next_attempt_at,
                      locked_until, last_status, last_error
                 FROM deliveries ORDER BY id"""
        )
    return [DeliveryRow(**record_dict(record)) for record in records]


async def _only_row(pool: Pool) -> DeliveryRow:
    rows = await _rows(pool)
    assert len(rows) == 1, rows
    return rows[0]


async def _health(pool: Pool, domain: str) -> delivery_queries.DomainHealth | None:
    async with pool.acquire() as conn:
        return await delivery_queries.select_domain_health(conn, domain)


async def _sender(pool: Pool, keygen: FixedKeys, username: str = "camille") -> Actor:
    async with pool.acquire() as conn:
        return await create_person(conn, username, keygen=keygen)


async def _recipient(pool: Pool, base: str, name: str, clock: FrozenClock) -> RemoteActor:
    """A remote actor at base/users/name whose server has a shared inbox at base/inbox."""
    return await seed_remote_actor(pool, f"{base}/users/{name}", REMOTE_KEY, clock.now())


async def _recipient_without_shared_inbox(
    pool: Pool, base: str, name: str, clock: FrozenClock
) -> RemoteActor:
    """A remote actor that only has its personal inbox (base/users/name/inbox)."""
    document = actor_document(f"{base}/users/{name}", REMOTE_KEY, username=name)
    del document["endpoints"]
    async with pool.acquire() as conn:
        return await actor_queries.upsert_remote_actor(
            conn, parse_remote_actor(document, clock.now())
        )


def _note(sender: Actor, to: list[str]) -> dict[str, Any]:
    token = new_token()
    author = URLS.actor(sender.username)
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": URLS.absolute(f"/activities/{token}"),
        "type": "Create",
        "actor": author,
        "to": to,
        "object": {
            "id": URLS.absolute(f"/notes/{token}"),
            "type": "Note",
            "attributedTo": author,
            "to": to,
            "content": f"<p>Conseil municipal ce soir ({token})</p>",
        },
    }


async def _publish(
    pool: Pool,
    sender: Actor,
    clock: FrozenClock,
    *,
    to: list[RemoteActor] | None = None,
    extra: frozenset[str] = frozenset(),
    followers: bool = False,
) -> dict[str, Any]:
    uris = frozenset(actor.uri for actor in to or []) | extra
    activity = _note(sender, sorted(uris) or [PUBLIC])
    async with pool.acquire() as conn, conn.transaction():
        await publish(
            conn,
            actor=sender,
            activity=activity,
            audience=Audience(actors=uris, followers=followers),
            urls=URLS,
            clock=clock,
        )
    return activity


async def _deliver(
    pool: Pool, client: DeliveryClient, clock: FrozenClock, *, limit: int = 64
) -> int:
    return await deliver_batch(pool, client, urls=URLS, clock=clock, limit=limit)


def _advance_to(clock: FrozenClock, when: datetime) -> None:
    assert when >= clock.now()
    clock.advance(when - clock.now())


def _assert_signed_by(
    post: ReceivedPost, server: InboxServer, sender: Actor, now: datetime
) -> ParsedSignature:
    """The POST carries a draft-cavage signature by the sender's key over this very body."""
    url = server.base + post.path
    parsed = parse_signature(post.method, url, post.headers)
    assert isinstance(parsed, ParsedSignature), parsed
    assert parsed.scheme == "cavage"
    assert parsed.key_id == URLS.actor_key(sender.username)
    assert {"(request-target)", "host", "date", "digest"} <= set(parsed.components)
    assert sender.public_key_pem is not None
    failure = verify(
        parsed,
        load_public_key(sender.public_key_pem),
        method=post.method,
        body=post.body,
        headers=post.headers,
        now=now,
        authority=server.base.split("://", 1)[1],
    )
    assert failure is None, failure
    return parsed


def _backoff_window(failed_at: datetime, attempts: int) -> tuple[datetime, datetime]:
    """When the retry policy may schedule the next try after `attempts` failures."""
    base = timedelta(seconds=attempts**4 + 15)
    return failed_at + base, failed_at + base + timedelta(seconds=0.5 * attempts**4)


# ---------------------------------------------------------------------------------------------
# Fan-out


async def test_one_row_per_distinct_inbox(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given three recipients on one server that has a shared inbox, and one on another server
    sender = await _sender(pool, keygen)
    same_host = [
        await _recipient(pool, "https://ville.example", name, clock)
        for name in ("ana", "bruno", "chloe")
    ]
    elsewhere = await _recipient(pool, "https://quartier.example", "dora", clock)
    # And a local citizen, who gets no HTTP delivery
    await _sender(pool, keygen, "bob")

    # When an activity addressed to all of them is published
    activity = await _publish(
        pool, sender, clock, to=[*same_host, elsewhere], extra=frozenset({URLS.actor("bob")})
    )

    # Then there is exactly one pending row per distinct inbox: two in all
    rows = await _rows(pool)
    assert sorted((row.inbox, row.domain) for row in rows) == [
        ("https://quartier.example/inbox", "quartier.example"),
        ("https://ville.example/inbox", "ville.example"),
    ]
    assert all(row.state == "pending" and row.attempts == 0 for row in rows)
    assert all(row.next_attempt_at == clock.now() for row in rows)
    # And the local citizen got it in the local mailbox, not over HTTP
    assert not [row for row in rows if row.domain == "fedicity.test"]
    async with pool.acquire() as conn:
        local = await conn.fetch("SELECT activity_uri, key_id, raw FROM inbox_items")
    assert [(item["activity_uri"], item["key_id"]) for item in local] == [(activity["id"], "local")]


async def test_followers_audience_collapses_to_shared_inboxes(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given followers: three on one server (shared inbox), one on another without a shared
    # inbox, one whose follow is still pending, and a local follower
    sender = await _sender(pool, keygen)
    await _sender(pool, keygen, "bob")
    followers = [
        await _recipient(pool, "https://ville.example", name, clock)
        for name in ("ana", "bruno", "chloe")
    ]
    solo = await _recipient_without_shared_inbox(pool, "https://solo.example", "eve", clock)
    pending = await _recipient(pool, "https://attente.example", "fred", clock)
    followee = URLS.actor(sender.username)
    async with pool.acquire() as conn:
        for follower in [*followers, solo]:
            await follow_queries.upsert_follow(
                conn,
                follower=follower.uri,
                followee=followee,
                activity_uri=None,
                accepted=True,
                now=clock.now(),
            )
        await follow_queries.upsert_follow(
            conn,
            follower=pending.uri,
            followee=followee,
            activity_uri=None,
            accepted=False,
            now=clock.now(),
        )
        await follow_queries.upsert_follow(
            conn,
            follower=URLS.actor("bob"),
            followee=followee,
            activity_uri=None,
            accepted=True,
            now=clock.now(),
        )

    # When a followers-only activity is published, also addressed to one follower by name
    activity = await _publish(pool, sender, clock, to=[followers[0]], followers=True)

    # Then the three followers on one server share one row, the solo follower has its own
    rows = await _rows(pool)
    assert sorted(row.inbox for row in rows) == [
        "https://solo.example/users/eve/inbox",
        "https://ville.example/inbox",
    ]
    # And the pending follower and the local follower get no HTTP delivery
    assert {row.domain for row in rows} == {"ville.example", "solo.example"}
    async with pool.acquire() as conn:
        local = await conn.fetchval(
            "SELECT count(*) FROM inbox_items WHERE activity_uri = $1", activity["id"]
        )
    assert local == 1


# ---------------------------------------------------------------------------------------------
# Acceptance: a target that is down receives the activity after it comes back


async def test_a_delivery_target_that_is_down_receives_the_activity_after_it_comes_back(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a recipient whose server's port is closed
    target = await servers(started=False)
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    activity = await _publish(pool, sender, clock, to=[recipient])

    # When the worker tries to deliver
    failed_at = clock.now()
    assert await _deliver(pool, http, clock) == 1

    # Then the attempt failed and is scheduled again on the back-off curve
    row = await _only_row(pool)
    assert row.state == "pending"
    assert row.attempts == 1
    assert row.last_status is None
    assert row.last_error
    assert "Connect" in row.last_error
    assert row.locked_until is None
    earliest, latest = _backoff_window(failed_at, 1)
    assert earliest <= row.next_attempt_at <= latest
    assert row.next_attempt_at > clock.now()
    # And it is not tried again before then
    clock.advance(timedelta(seconds=10))
    assert await _deliver(pool, http, clock) == 0

    # When the clock passes the retry time and the server is still down
    _advance_to(clock, row.next_attempt_at)
    failed_again_at = clock.now()
    assert await _deliver(pool, http, clock) == 1

    # Then it counts a second attempt with a longer wait
    row = await _only_row(pool)
    assert (row.state, row.attempts) == ("pending", 2)
    earliest, latest = _backoff_window(failed_again_at, 2)
    assert earliest <= row.next_attempt_at <= latest
    health = await _health(pool, target.domain)
    assert health is not None
    assert health.failure_days == [failed_at.date()]
    assert not health.unavailable

    # When the server comes back on the same port and the clock passes the next retry time
    await target.start()
    clock.advance(timedelta(seconds=5))
    assert await _deliver(pool, http, clock) == 0
    assert target.received == []
    _advance_to(clock, row.next_attempt_at + timedelta(seconds=1))
    assert await _deliver(pool, http, clock) == 1

    # Then it is delivered, once, signed by the sender, with the activity as body
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 3, 202)
    assert row.last_error is None
    assert len(target.received) == 1
    post = target.received[0]
    assert (post.method, post.path, post.status) == ("POST", "/inbox", 202)
    assert json.loads(post.body) == activity
    assert dict((n.lower(), v) for n, v in post.headers)["content-type"] == (
        "application/activity+json"
    )
    _assert_signed_by(post, target, sender, clock.now())
    # And the domain's failures are forgotten
    health = await _health(pool, target.domain)
    assert health is not None
    assert health.failure_days == []
    assert not health.unavailable
    assert health.last_success_at == clock.now()
    # And nothing is delivered again
    clock.advance(timedelta(days=3))
    assert await _deliver(pool, http, clock) == 0
    assert len(target.received) == 1


# ---------------------------------------------------------------------------------------------
# Acceptance: killing a worker mid-delivery loses nothing


async def test_killing_a_worker_mid_delivery_loses_nothing(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, servers: ServerFactory
) -> None:
    # Given a recipient whose server reads the POST and then never answers
    target = await servers(mode="hang")
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    activity = await _publish(pool, sender, clock, to=[recipient])
    claimed_at = clock.now()

    # When a worker is killed (its task cancelled) while the POST is in flight
    async with new_delivery_client(allow_private_addresses=True) as first_client:
        worker = asyncio.create_task(_deliver(pool, first_client, clock))
        await target.wait_for(1)
        assert not worker.done()
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker

    # Then the row is still pending, unspent, and leased
    row = await _only_row(pool)
    assert row.state == "pending"
    assert row.attempts == 0
    assert row.locked_until == claimed_at + LEASE

    # When another worker looks before the lease expires (the target now answers)
    target.mode = "accept"
    clock.advance(LEASE - timedelta(seconds=1))
    async with new_delivery_client(allow_private_addresses=True) as early_client:
        # Then it does not take the leased row
        assert await _deliver(pool, early_client, clock) == 0
    assert len(target.received) == 1

    # When a second worker runs after the lease expired
    clock.advance(timedelta(seconds=2))
    async with new_delivery_client(allow_private_addresses=True) as second_client:
        assert await _deliver(pool, second_client, clock) == 1

    # Then the activity is delivered, signed, and the row is done
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.locked_until) == ("delivered", 1, None)
    assert [post.status for post in target.received] == [None, 202]
    delivered = target.answered[0]
    assert json.loads(delivered.body) == activity
    _assert_signed_by(delivered, target, sender, clock.now())


_KILLABLE_WORKER = """
import asyncio, sys
from datetime import datetime

from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.clock import FrozenClock
from fedicity.db.pool import create_pool
from fedicity.workers.delivery import deliver_batch
from fedicity.urls import Urls


async def main() -> None:
    dsn, now, base = sys.argv[1:4]
    pool = await create_pool(dsn, max_size=2)
    clock = FrozenClock(datetime.fromisoformat(now))
    async with new_delivery_client(allow_private_addresses=True) as client:
        await deliver_batch(
            pool, client, urls=Urls(base), clock=clock
        )
    print("finished", flush=True)


asyncio.run(main())
"""


async def test_sigkilled_worker_process_loses_nothing(
    pool: Pool,
    database_dsn: str,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a recipient whose server reads the POST and then never answers
    target = await servers(mode="hang")
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    activity = await _publish(pool, sender, clock, to=[recipient])

    # When a worker process claims the row, posts, and is SIGKILLed while the POST hangs
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _KILLABLE_WORKER,
        database_dsn,
        clock.now().isoformat(),
        URLS.base,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await target.wait_for(1, within=30)
    except AssertionError:
        process.kill()
        _out, err = await process.communicate()
        raise AssertionError(f"the worker process never posted: {err.decode()[-2000:]}") from None
    process.send_signal(signal.SIGKILL)
    out, _err = await process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert b"finished" not in out

    # Then the row is pending, unspent and leased by the dead worker
    row = await _only_row(pool)
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.locked_until == clock.now() + LEASE
    target.mode = "accept"
    assert await _deliver(pool, http, clock) == 0

    # When the lease has expired and a worker in this process runs
    clock.advance(LEASE + timedelta(seconds=1))
    assert await _deliver(pool, http, clock) == 1

    # Then the activity is delivered, signed by the sender
    row = await _only_row(pool)
    assert (row.state, row.attempts) == ("delivered", 1)
    assert [post.status for post in target.received] == [None, 202]
    assert json.loads(target.answered[0].body) == activity
    _assert_signed_by(target.answered[0], target, sender, clock.now())


# ---------------------------------------------------------------------------------------------
# Answers


@pytest.mark.parametrize(("mode", "status"), [("gone", 410), ("bad", 400)])
async def test_final_client_errors_fail_the_row_at_once(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
    mode: Mode,
    status: int,
) -> None:
    # Given a recipient whose server refuses the activity for good
    target = await servers(mode=mode)
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    await _publish(pool, sender, clock, to=[recipient])

    # When the worker delivers
    assert await _deliver(pool, http, clock) == 1

    # Then the row failed after one attempt, with the status and the answer kept
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.last_status) == ("failed", 1, status)
    assert row.last_error == "boom"
    assert row.locked_until is None
    _assert_signed_by(target.received[0], target, sender, clock.now())
    # And it is never tried again, and the domain is not counted as failing
    target.mode = "accept"
    clock.advance(timedelta(days=3))
    assert await _deliver(pool, http, clock) == 0
    assert len(target.received) == 1
    assert await _health(pool, target.domain) is None


async def test_rate_limit_waits_at_least_the_retry_after(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a recipient whose server answers 429 with Retry-After: 3600
    target = await servers(mode="throttle")
    target.retry_after = "3600"
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    activity = await _publish(pool, sender, clock, to=[recipient])

    # When the worker delivers
    limited_at = clock.now()
    assert await _deliver(pool, http, clock) == 1

    # Then the row waits an hour (not the 16 s of the curve), without failing the domain
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 429)
    assert row.next_attempt_at >= limited_at + timedelta(hours=1)
    assert row.next_attempt_at <= limited_at + timedelta(hours=1, seconds=1)
    assert await _health(pool, target.domain) is None
    clock.advance(timedelta(minutes=59))
    assert await _deliver(pool, http, clock) == 0

    # When the hour has passed and the server accepts
    target.mode = "accept"
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await _deliver(pool, http, clock) == 1

    # Then it is delivered
    row = await _only_row(pool)
    assert (row.state, row.attempts) == ("delivered", 2)
    assert [post.status for post in target.received] == [429, 202]
    assert json.loads(target.received[1].body) == activity


async def test_absurd_retry_after_is_capped_instead_of_breaking_the_worker(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a server answering 429 with a Retry-After too large for a timedelta
    target = await servers(mode="throttle")
    target.retry_after = "99999999999999999999"
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    await _publish(pool, sender, clock, to=[recipient])

    # When the worker delivers
    assert await _deliver(pool, http, clock) == 1

    # Then the attempt is recorded and the wait capped at a day
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 429)
    assert row.next_attempt_at == clock.now() + timedelta(days=1)
    assert row.locked_until is None


async def test_server_errors_are_retried_until_max_attempts(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a recipient whose server answers 500
    target = await servers(mode="error")
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    await _publish(pool, sender, clock, to=[recipient])

    # When the worker delivers
    failed_at = clock.now()
    assert await _deliver(pool, http, clock) == 1

    # Then the row is retried on the back-off curve, and the domain has a failure day
    row = await _only_row(pool)
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "pending",
        1,
        500,
        "boom",
    )
    earliest, latest = _backoff_window(failed_at, 1)
    assert earliest <= row.next_attempt_at <= latest
    health = await _health(pool, target.domain)
    assert health is not None
    assert health.failure_days == [failed_at.date()]

    # When it keeps failing at every retry time (the failures span about two days)
    for attempt in range(2, MAX_ATTEMPTS + 1):
        _advance_to(clock, row.next_attempt_at)
        assert await _deliver(pool, http, clock) == 1
        row = await _only_row(pool)
        assert row.attempts == attempt

    # Then it gave up after MAX_ATTEMPTS posts, two to three days after the first
    assert (row.state, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(target.received) == MAX_ATTEMPTS
    assert timedelta(days=2) <= clock.now() - failed_at <= timedelta(days=3.1)
    clock.advance(timedelta(days=1))
    assert await _deliver(pool, http, clock) == 0


# ---------------------------------------------------------------------------------------------
# Domain health


async def test_a_domain_failing_on_seven_days_is_probed_and_recovers(
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    servers: ServerFactory,
    http: DeliveryClient,
) -> None:
    # Given a recipient whose server is down
    target = await servers(started=False)
    sender = await _sender(pool, keygen)
    recipient = await _recipient(pool, target.base, "ana", clock)
    first = await _publish(pool, sender, clock, to=[recipient])

    # When its delivery fails once a day for seven days
    days: list[date] = []
    for day in range(7):
        if day:
            clock.advance(timedelta(days=1))
        days.append(clock.now().date())
        assert await _deliver(pool, http, clock) == 1
        health = await _health(pool, target.domain)
        assert health is not None
        # Then the domain stays available for six days
        assert health.unavailable == (day == 6)

    # Then on the seventh distinct day it is marked unavailable
    health = await _health(pool, target.domain)
    assert health is not None
    assert health.failure_days == days
    assert health.last_failure_at == clock.now()
    probe_due = clock.now() + PROBE_INTERVAL
    first_row = await _only_row(pool)
    assert first_row.attempts == 7

    # When new activities for that domain are due (the server now up, answering 500)
    await target.start()
    target.mode = "error"
    second = await _publish(pool, sender, clock, to=[recipient])
    third = await _publish(pool, sender, clock, to=[recipient])
    assert await _deliver(pool, http, clock) == 2

    # Then they are postponed to the probe time without a POST or a spent attempt
    assert target.received == []
    rows = await _rows(pool)
    assert [(row.attempts, row.next_attempt_at) for row in rows[1:]] == [(0, probe_due)] * 2
    # And the first row, due again within the hour, waits as well
    _advance_to(clock, first_row.next_attempt_at)
    assert await _deliver(pool, http, clock) == 1
    assert target.received == []
    rows = await _rows(pool)
    assert [(row.attempts, row.next_attempt_at) for row in rows] == [
        (7, probe_due),
        (0, probe_due),
        (0, probe_due),
    ]

    # When the probe interval has passed, with three rows due for the still-failing domain
    _advance_to(clock, probe_due)
    assert await _deliver(pool, http, clock) == 3

    # Then one probe is sent and only one attempt is spent
    assert [post.status for post in target.received] == [500]
    rows = await _rows(pool)
    assert sum(row.attempts for row in rows) == 7 + 1
    health = await _health(pool, target.domain)
    assert health is not None
    assert health.unavailable
    # And the rows that did not probe look again, but are not sent before the next probe
    clock.advance(PROBE_WAIT)
    assert await _deliver(pool, http, clock) in (2, 3)
    assert len(target.received) == 1
    assert sum(row.attempts for row in await _rows(pool)) == 7 + 1

    # When the server recovers and the next probe is due
    target.mode = "accept"
    _advance_to(clock, probe_due + PROBE_INTERVAL)
    assert await _deliver(pool, http, clock) == 3

    # Then the probe succeeds and the domain is available again
    assert [post.status for post in target.received][:2] == [500, 202]
    health = await _health(pool, target.domain)
    assert health is not None
    assert not health.unavailable
    assert health.failure_days == []

    # And the other rows deliver as soon as they look again
    waiting = 3 - len(target.answered)
    clock.advance(PROBE_WAIT)
    assert await _deliver(pool, http, clock) == waiting
    rows = await _rows(pool)
    assert [row.state for row in rows] == ["delivered"] * 3
    delivered = sorted(post.activity_id for post in target.answered)
    assert delivered == sorted(activity["id"] for activity in (first, second, third))
    for post in target.answered:
        _assert_signed_by(post, target, sender, clock.now())
    # And nothing was lost or delivered twice
    clock.advance(timedelta(days=1))
    assert await _deliver(pool, http, clock) == 0
    assert len(target.answered) == 3


# ---------------------------------------------------------------------------------------------
# Many workers


async def test_concurrent_workers_deliver_each_row_exactly_once(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, servers: ServerFactory
) -> None:
    # Given 25 activities each addressed to two recipients with their own inboxes: 50 rows
    target = await servers()
    sender = await _sender(pool, keygen)
    recipients = [
        await _recipient_without_shared_inbox(pool, target.base, name, clock)
        for name in ("ana", "bruno")
    ]
    activities = [await _publish(pool, sender, clock, to=recipients) for _ in range(25)]
    assert len(await _rows(pool)) == 50

    # When two workers, each with its own client, drain the queue at the same time
    async def worker() -> int:
        claimed = 0
        async with new_delivery_client(allow_private_addresses=True) as client:
            while batch := await _deliver(pool, client, clock, limit=5):
                claimed += batch
        return claimed

    first, second = await asyncio.gather(worker(), worker())

    # Then they shared the work and every row was claimed once
    assert first + second == 50
    assert first > 0
    assert second > 0
    # And the server got each activity exactly once at each inbox
    counts = Counter((post.path, post.activity_id) for post in target.received)
    expected = {
        (f"/users/{name}/inbox", activity["id"])
        for name in ("ana", "bruno")
        for activity in activities
    }
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    assert all(post.status == 202 for post in target.received)
    rows = await _rows(pool)
    assert {(row.state, row.attempts) for row in rows} == {("delivered", 1)}
    for post in target.received[:3]:
        _assert_signed_by(post, target, sender, clock.now())
