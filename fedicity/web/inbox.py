"""Inbox POST routes: check, gate, store once, answer 202. Interpretation happens in the worker."""

from __future__ import annotations

import logging

from quart import Blueprint, Response, g, request

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
from fedicity.db.pool import Borrowed
from fedicity.inbound import mailbox
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import host_refusal
from fedicity.observability import metrics
from fedicity.web.app import for_programs, state
from fedicity.web.errors import Problem, problem_response
from fedicity.web.moderation import refuse_suspended
from fedicity.web.ratelimits import inbox_refusal
from fedicity.workers.router import build_router

blueprint = Blueprint("inbox", __name__)
# Seconds a domain over its cap of waiting activities is asked to wait.
BUSY_RETRY_AFTER = 300
_log = logging.getLogger(__name__)


@blueprint.after_request
async def count_answer(response: Response) -> Response:
    """Count the answer: accepted (202) by outcome, else refused by its problem's reason."""
    if response.status_code == 202:
        metrics.inbox_accepted(g.get("inbox_outcome", "stored"))
    else:
        metrics.inbox_refused(g.get("problem_reason") or f"http_{response.status_code}")
    return response


def folded_headers() -> dict[str, str]:
    """Request headers by lower-case name, repeated ones joined with ", " as HTTP says."""
    folded: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        folded[key] = f"{folded[key]}, {value}" if key in folded else value
    return folded


def key_resolver(db: Borrowed) -> KeyResolver:
    """Key lookup for one request: the cache on the request's connection, else the actor
    directory (database, then network), the connection given back before any fetch."""

    async def resolve(key_id: str, *, refresh: bool) -> InboxKey | KeyUnavailable:
        directory = state().fed.directory
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


async def _receive(db: Borrowed, recipient: str | None) -> Response:
    """Check, gate and store one POST. Every database step of a delivery whose key is cached
    (policy, key, restriction, rate, insert) runs on `db`: one visit to the pool."""
    app_state = state()
    body = await request.get_data(cache=False, as_text=False)
    assert isinstance(body, bytes)
    if len(body) > app_state.settings.max_body_bytes:
        raise Problem(413, f"an activity is at most {app_state.settings.max_body_bytes} bytes")
    # Verify against the public URL the peer signed, not the address a proxy forwarded to.
    url = app_state.urls.absolute(request.full_path if request.query_string else request.path)

    result = await check(
        method=request.method,
        url=url,
        headers=folded_headers(),
        body=body,
        resolve_key=key_resolver(db),
        now=app_state.clock.now(),
        authority=app_state.settings.host,
        refuse_host=host_refusal(db, allowlist_mode=app_state.settings.federation_allowlist),
    )
    if isinstance(result, Rejected):
        raise Problem(result.status, result.detail, extra={"reason": result.reason})
    if isinstance(result, IgnoredDelete):
        g.inbox_outcome = "ignored_delete"
        return Response(b"", status=202)
    assert isinstance(result, Accepted)
    conn = await db.get()
    # A remote account the moderators suspended is heard no more (stewardship/actions.py).
    if await moderation_queries.select_restriction(conn, result.actor_uri) == "suspend":
        raise Problem(403, "this account is suspended here", extra={"reason": "suspended"})
    throttled = await inbox_refusal(conn, result.key_id)
    if throttled is not None:
        return throttled
    stored = await mailbox.receive(
        conn,
        activity=result.activity,
        activity_uri=result.activity_uri,
        actor_uri=result.actor_uri,
        type=result.type,
        key_id=result.key_id,
        recipient=recipient,
        now=app_state.clock.now(),
        pending_cap=app_state.settings.inbox_pending_per_domain,
        handled=build_router().lookup(result.activity) is not None,
    )
    await db.release()
    if isinstance(stored, mailbox.Busy):
        # Mastodon retries a 429 on its usual curve: nothing is lost, this domain just waits.
        response = await problem_response(
            429,
            f"{stored.origin_host} has {stored.pending} activities waiting here; retry later",
            {"reason": "too_many_pending"},
        )
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response
    if not stored.new:
        g.inbox_outcome = "duplicate"
        _log.debug("duplicate activity %s acknowledged", result.activity_uri)
    return Response(b"", status=202)


@blueprint.post("/inbox")
@for_programs
async def shared_inbox() -> Response:
    """The shared inbox."""
    async with Borrowed(state().inbox_db) as db:
        return await _receive(db, None)


@blueprint.post("/actors/<username>/inbox")
@for_programs
async def actor_inbox(username: str) -> Response:
    """A local actor's own inbox."""
    async with Borrowed(state().inbox_db) as db:
        conn = await db.get()
        actor = await actor_queries.select_actor_by_username(conn, username)
        if actor is None or actor.kind == "application":
            raise Problem(404, f"no actor named {username!r} here")
        await refuse_suspended(actor.id, conn)
        return await _receive(db, state().urls.actor(actor.username))


@blueprint.post("/actor/inbox")
@for_programs
async def instance_inbox() -> Response:
    """The instance actor's inbox."""
    async with Borrowed(state().inbox_db) as db:
        return await _receive(db, state().urls.instance_actor)
