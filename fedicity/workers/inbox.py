"""The inbox worker: claim stored activities, route each in a transaction, record the result."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg

from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.activitypub.retry import next_delay
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import ldsig_check
from fedicity.actors.context import InboundContext
from fedicity.actors.remote import ActorDirectory
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.inbound import queries
from fedicity.inbound.mailbox import skeleton
from fedicity.moderation import content_queries, content_service
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.content import PolicyConfig
from fedicity.observability import metrics
from fedicity.urls import Urls
from fedicity.workers.router import build_router

LEASE = timedelta(minutes=5)
BATCH = 32
PURGE_BATCH = 1000
# Content policy decisions stay for the admins this long (rejections are what they review).
DECISIONS_KEPT = timedelta(days=90)
# What recording a row's outcome can raise: the database refusing the statement, or the
# connection gone (a handler may have broken it). Then the row keeps its lease and comes back
# when the lease ends; the rest of the batch goes on.
_RECORDING_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
_log = logging.getLogger(__name__)


def storable_text(text: str, limit: int = 1000) -> str:
    """Text PostgreSQL will take: no NUL, no lone surrogate (errors quote remote content)."""
    cut = text[:limit].replace("\x00", "\ufffd")
    return cut.encode("utf-8", "replace").decode("utf-8")


async def process_batch(
    pool: Pool,
    *,
    directory: ActorDirectory,
    urls: Urls,
    clock: Clock,
    limit: int = BATCH,
    keygen: KeyGenerator = generate_rsa_keypair,
    router: Router[InboundContext] | None = None,
) -> int:
    """Process up to `limit` due inbox rows; return how many were claimed."""
    routes = router or build_router()
    async with pool.acquire() as conn:
        items = await queries.claim_inbox_items(conn, now=clock.now(), lease=LEASE, limit=limit)
        # Read for every batch, so an admin's change applies at once in every worker.
        policies = await content_queries.select_configs(conn) if items else {}
    waiting = list(reversed(items))
    while waiting:
        # One connection for the batch, each row in its own transaction; a fresh connection
        # when a row left this one closed, so the rows behind it are still processed now.
        async with pool.acquire() as conn:
            while waiting:
                item = waiting.pop()
                try:
                    await _process(conn, item, routes, directory, urls, clock, keygen, policies)
                except _RECORDING_FAILURES:
                    _log.exception("inbox item %s: its outcome could not be recorded", item.id)
                if not _usable(conn):
                    break
    return len(items)


def _usable(conn: Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the pool already took back a connection it saw die
        return False


async def _process(
    conn: Connection,
    item: queries.InboxItem,
    router: Router[InboundContext],
    directory: ActorDirectory,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
    policies: Mapping[str, PolicyConfig],
) -> None:
    # A relayed activity: its author's copy when its Linked Data signature holds, else the pointer.
    settled = await ldsig_check.settle(item.raw, item.actor_uri, directory)
    item = dataclasses.replace(item, raw=settled.activity)
    handler = router.lookup(item.raw)
    # An account suspended since its activity was received is heard no more (the inbox refuses
    # its new ones; stewardship/actions.py).
    suspended = await moderation_queries.select_restriction(conn, item.actor_uri) == "suspend"
    if handler is None or suspended:
        await queries.finish_inbox_item(
            conn,
            item.id,
            state="ignored",
            detail=storable_text(
                "its actor is suspended here" if suspended else f"no handler for {item.type}"
            ),
            now=clock.now(),
            raw=skeleton(item.raw),
        )
        metrics.inbox_processed("ignored")
        return
    context = InboundContext(
        conn=conn,
        directory=directory,
        urls=urls,
        clock=clock,
        actor_uri=item.actor_uri,
        local=item.key_id == "local",
        keygen=keygen,
    )
    try:
        async with conn.transaction():
            screened = await _screen(conn, item, directory, clock, policies)
            if screened.state == "held":
                metrics.inbox_processed("held")
                return
            if screened.state == "rejected":
                outcome = Outcome.ignored(screened.detail)
            elif screened.fetched is not None:
                # The object the policies judged, so the handler does not fetch it again.
                outcome = await handler(context, {**item.raw, "object": screened.fetched})
            else:
                outcome = await handler(context, item.raw)
            # Processed: the body has done its work (what it made keeps its own copy); the
            # skeleton still tells a resent copy from a new activity until the row is purged.
            await queries.finish_inbox_item(
                conn,
                item.id,
                state=outcome.state,
                detail=storable_text(outcome.detail),
                now=clock.now(),
                raw=skeleton(item.raw),
            )
        metrics.inbox_processed(outcome.state)
    except Exception as error:  # noqa: BLE001 -- a handler bug must not lose the row
        # The transaction rolled back this row's work only. The row keeps its activity and the
        # error, and is retried on the delivery curve; after the last attempt it stays as
        # 'failed' for an admin to look at.
        _log.exception(
            "inbox item %s (%s) failed",
            item.id,
            item.activity_uri,
            extra={"activity_id": item.activity_uri, "activity_type": item.type},
        )
        metrics.inbox_processed("error")
        delay = next_delay(item.attempts + 1, None)
        await queries.retry_inbox_item(
            conn,
            item.id,
            error=storable_text(f"{type(error).__name__}: {error}"),
            next_attempt_at=None if delay is None else clock.now() + delay,
            now=clock.now(),
        )


async def _screen(
    conn: Connection,
    item: queries.InboxItem,
    directory: ActorDirectory,
    clock: Clock,
    policies: Mapping[str, PolicyConfig],
) -> content_service.Screened:
    """The content policy pipeline, for remote activities only (ours passed our own checks)."""
    if item.key_id == "local":
        return content_service.PASS

    async def fetch_object(uri: str) -> Mapping[str, Any] | None:
        fetched = await directory.fetcher.document(uri)
        return None if isinstance(fetched, FetchError) else fetched.document

    return await content_service.screen(
        conn,
        item_id=item.id,
        activity=item.raw,
        actor_uri=item.actor_uri,
        configs=policies,
        fetch_object=fetch_object,
        now=clock.now(),
    )


async def purge_batch(pool: Pool, *, clock: Clock, retention: timedelta) -> int:
    """Delete one batch of rows processed longer than `retention` ago, and of content policy
    decisions older than DECISIONS_KEPT (the admins' record of them); return how many."""
    now = clock.now()
    async with pool.acquire() as conn:
        rows = await queries.purge_processed(conn, before=now - retention, limit=PURGE_BATCH)
        decisions = await content_queries.purge_decisions(
            conn, before=now - DECISIONS_KEPT, limit=PURGE_BATCH
        )
    return rows + decisions
