"""Inbox POSTs: check, gate, store once, answer 202. Interpretation happens in the worker.

Served in front of Quart (`FedicityQuart.put_in_front`): an inbox POST is read from ASGI and
answered to ASGI, without Quart's request and context, its hooks, werkzeug's headers or its
response object, which cost about as much CPU as the checks and the insert (docs/benchmarks.md).
What those hooks gave an inbox is kept here: the body cap, a NUL in the path or query refused,
problem documents, the security headers, the 503 of an outage, the metrics and the access log
line (`web/metrics.py:record`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from quart import Quart

from fedicity.activitypub.httpsig.wire import fold_headers
from fedicity.activitypub.inbox import (
    Accepted,
    IgnoredDelete,
    InboxKey,
    KeyResolver,
    KeyUnavailable,
    Rejected,
    check,
)
from fedicity.actors import queries as actor_queries
from fedicity.actors.remote import LookupFailure
from fedicity.db.outage import unreachable
from fedicity.db.pool import Borrowed
from fedicity.inbound import mailbox
from fedicity.inbound import queries as inbound_queries
from fedicity.inbound.queries import Sender
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import decide, host_refusal, policy_domain
from fedicity.observability import metrics
from fedicity.urls import ACTOR_ROUTE, INSTANCE_INBOX_ROUTE, front_route
from fedicity.web import asgi
from fedicity.web.app import AppState, FedicityQuart
from fedicity.web.asgi import Receive, Scope, Send
from fedicity.web.errors import (
    RETRY_AFTER_SECONDS,
    Problem,
    outage_of,
    problem_document,
    unavailable_document,
)
from fedicity.web.metrics import record
from fedicity.web.moderation import refuse_suspended
from fedicity.web.ratelimits import TooMany, inbox_refusal
from fedicity.workers.router import build_router

# Seconds a domain over its cap of waiting activities is asked to wait.
BUSY_RETRY_AFTER = 300
_PROBLEM_JSON = b"application/problem+json"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What an inbox POST is answered: 202 with its outcome, or a problem with its reason."""

    status: int
    outcome: str = "stored"
    reason: str | None = None
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()


class _Disconnected(Exception):
    """The client left before its body was read: nothing to answer."""


def route_of(scope: Scope) -> tuple[str, str | None] | None:
    """The inbox route a request goes to and the username it names; None when not an inbox."""
    if scope["type"] != "http":
        return None
    found = front_route(scope["path"])
    return None if found is None or found[0] == ACTOR_ROUTE else found


def install(app: FedicityQuart) -> None:
    """Answer inbox POSTs in front of `app`'s Quart handling."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> bool:
        found = route_of(scope)
        if found is None:
            return False
        await _serve(app, found, scope, receive, send)
        return True

    app.put_in_front(serve)


async def _serve(
    app: Quart, found: tuple[str, str | None], scope: Scope, receive: Receive, send: Send
) -> None:
    route = found[0]
    started = time.perf_counter()
    app_state: AppState = app.extensions["fedicity"]
    try:
        if scope["method"] != "POST":
            raise Problem(405, "an inbox takes POST only")
        answer = await _answer(app_state, found, scope, receive, app.config["BODY_TIMEOUT"])
    except _Disconnected:
        return
    except Problem as problem:
        answer = _problem(problem)
    except Exception as error:  # noqa: BLE001 - every failure is answered, as Quart's handler did
        answer = _failure(app, app_state, error)
    await asgi.answer(send, answer.status, answer.body, _headers(answer))
    if answer.status == 202:
        metrics.inbox_accepted(answer.outcome)
    else:
        metrics.inbox_refused(answer.reason or f"http_{answer.status}")
    record(scope["method"], route, answer.status, time.perf_counter() - started, answer.reason)


def _headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    headers = [*answer.headers]
    if answer.status == 405:
        headers.append((b"allow", b"POST"))
    if answer.body:
        headers.append((b"content-type", _PROBLEM_JSON))
    return headers


def _problem(problem: Problem) -> Answer:
    """A refusal raised as a Problem, as its problem document (and its Retry-After)."""
    reason = problem.extra.get("reason")
    headers = tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in problem.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    )
    status = problem.code or 500
    body = problem_document(status, problem.description or "", problem.extra)
    return Answer(
        status, reason=reason if isinstance(reason, str) else None, body=body, headers=headers
    )


def _failure(app: Quart, app_state: AppState, error: Exception) -> Answer:
    """503 while PostgreSQL is unreachable; any other exception is a bug: logged, 500."""
    if unreachable(error):
        outage_of(app).answered(error, app_state.pool)
        retry_after = str(RETRY_AFTER_SECONDS).encode("ascii")
        headers = ((b"retry-after", retry_after), (b"cache-control", b"no-store"))
        return Answer(
            503, reason="database_unavailable", body=unavailable_document(), headers=headers
        )
    _log.exception("unhandled error on an inbox POST", exc_info=error)
    return Answer(500, body=problem_document(500, "internal error; it has been logged", None))


async def _answer(
    app_state: AppState,
    found: tuple[str, str | None],
    scope: Scope,
    receive: Receive,
    body_timeout: float,
) -> Answer:
    """Read, check, gate and store one POST."""
    path: str = scope["path"]
    query: bytes = scope["query_string"]
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in a query.
    if "\x00" in path or (query and "\x00" in unquote(query.decode("latin-1"))):
        raise Problem(400, "the request contains a NUL character")
    headers = fold_headers(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
    )
    cap = app_state.settings.max_body_bytes
    try:
        async with asyncio.timeout(body_timeout):
            body = await _read_body(receive, headers.get("content-length"), cap)
    except TimeoutError:
        raise Problem(408, "the body did not arrive in time") from None
    async with Borrowed(app_state.inbox_db) as db:
        recipient: str | None = None
        route, username = found
        if route == INSTANCE_INBOX_ROUTE:
            recipient = app_state.urls.instance_actor
        elif username is not None:
            actor = await actor_queries.select_actor_by_username(await db.get(), username)
            if actor is None or actor.kind == "application":
                raise Problem(404, f"no actor named {username!r} here")
            await refuse_suspended(actor.id, await db.get())
            recipient = app_state.urls.actor(actor.username)
        # Verify against the public URL the peer signed, not the address a proxy forwarded to.
        target = f"{path}?{query.decode('latin-1')}" if query else path
        return await _receive(
            app_state, db, app_state.urls.absolute(target), headers, body, recipient
        )


async def _read_body(receive: Receive, declared: str | None, cap: int) -> bytes:
    """The whole body, refused (413) past `cap`, whether declared or sent."""
    too_large = Problem(413, f"an activity is at most {cap} bytes")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _key_resolver(app_state: AppState, db: Borrowed) -> KeyResolver:
    """Key lookup for one request: the cache on the request's connection, else the actor
    directory (database, then network), the connection given back before any fetch."""

    async def resolve(key_id: str, *, refresh: bool) -> InboxKey | KeyUnavailable:
        directory = app_state.fed.directory
        if not refresh:
            cached = await directory.cached_key(await db.get(), key_id)
            if cached is not None:
                return InboxKey(cached.key_id, cached.owner, cached.public_key_pem)
        await db.release()
        found = await directory.key(key_id, refresh=refresh)
        if isinstance(found, LookupFailure):
            # The sender gets a generic answer; what went wrong is for the admin's log.
            _log.info("key %s unavailable: %s: %s", key_id, found.reason, found.detail)
            return KeyUnavailable(
                f"{found.reason}: {found.detail}", gone=found.gone, busy=found.busy
            )
        return InboxKey(found.key_id, found.owner, found.public_key_pem)

    return resolve


class SenderChecks:
    """The domain gate, the key and the suspension of one POST (the gate and the key of a signed
    fetch: web/signed_fetch.py), answered from one statement
    (`inbound/queries.py:select_sender`) read when the signature is parsed; anything that
    statement did not read (a refreshed key, another host) is asked as it was before."""

    def __init__(self, app_state: AppState, db: Borrowed) -> None:
        self.app_state = app_state
        self.db = db
        self.sender: Sender | None = None
        self._allowlist = app_state.settings.federation_allowlist
        self._refuse_host = host_refusal(db, allowlist_mode=self._allowlist)
        self._resolve = _key_resolver(app_state, db)

    async def prepare(self, key_id: str, hosts: Sequence[str], actor_uri: str | None) -> None:
        """Read what the gate, the key lookup and the suspension check will ask."""
        domains = [policy_domain(host) for host in hosts]
        self.sender = await inbound_queries.select_sender(
            await self.db.get(), domains=domains, key_id=key_id, actor_uri=actor_uri
        )

    async def refuse_host(self, host: str) -> str | None:
        """Why the domain policy refuses `host`, or None."""
        domain = policy_domain(host)
        if self.sender is None or domain not in self.sender.actions:
            return await self._refuse_host(host)
        decision = decide(domain, self.sender.actions[domain], allowlist_mode=self._allowlist)
        return None if decision.allowed else decision.reason

    async def resolve_key(self, key_id: str, *, refresh: bool) -> InboxKey | KeyUnavailable:
        """The key as read, when it was cached; else the directory's."""
        sender = self.sender
        if (
            not refresh
            and sender is not None
            and sender.key_id == key_id
            and sender.key_owner is not None
            and sender.key_pem is not None
            and not self.app_state.fed.directory.is_local(key_id)
        ):
            return InboxKey(key_id, sender.key_owner, sender.key_pem)
        return await self._resolve(key_id, refresh=refresh)

    async def restriction(self, actor_uri: str) -> str | None:
        """The moderators' restriction of a remote actor."""
        if self.sender is not None and self.sender.actor_uri == actor_uri:
            return self.sender.restriction
        return await moderation_queries.select_restriction(await self.db.get(), actor_uri)


async def _receive(
    app_state: AppState,
    db: Borrowed,
    url: str,
    headers: dict[str, str],
    body: bytes,
    recipient: str | None,
) -> Answer:
    """Check, gate and store one POST. A delivery whose key is cached visits the pool once
    (`db`) and sends it three statements: the sender (policies, key, restriction), the rate,
    and the insert (with the count of the domain's waiting rows, see CapWatch)."""
    sender = SenderChecks(app_state, db)
    result = await check(
        method="POST",
        url=url,
        headers=headers,
        body=body,
        resolve_key=sender.resolve_key,
        now=app_state.clock.now(),
        authority=app_state.settings.host,
        refuse_host=sender.refuse_host,
        prepare=sender.prepare,
    )
    if isinstance(result, Rejected):
        raise Problem(result.status, result.detail, extra={"reason": result.reason})
    if isinstance(result, IgnoredDelete):
        return Answer(202, outcome="ignored_delete")
    assert isinstance(result, Accepted)
    conn = await db.get()
    # A remote account the moderators suspended is heard no more (stewardship/actions.py).
    if await sender.restriction(result.actor_uri) == "suspend":
        raise Problem(403, "this account is suspended here", extra={"reason": "suspended"})
    await inbox_refusal(app_state, conn, result.key_id)
    stored = await mailbox.receive(
        conn,
        activity=result.activity,
        activity_uri=result.activity_uri,
        actor_uri=result.actor_uri,
        type=result.type,
        key_id=result.key_id,
        recipient=recipient,
        now=app_state.clock.now(),
        cap=app_state.pending_cap,
        handled=build_router().lookup(result.activity) is not None,
    )
    await db.release()
    if isinstance(stored, mailbox.Busy):
        # Mastodon retries a 429 on its usual curve: nothing is lost, this domain just waits.
        raise TooMany(
            BUSY_RETRY_AFTER,
            f"{stored.origin_host} has {stored.pending} activities waiting here; retry later",
            "too_many_pending",
        )
    if not stored.new:
        _log.debug("duplicate activity %s acknowledged", result.activity_uri)
        return Answer(202, outcome="duplicate")
    return Answer(202)
