"""The inbox worker: claim stored activities, route each in a transaction, record the result."""

from __future__ import annotations

import logging
from datetime import timedelta

from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.activitypub.retry import next_delay
from fedicity.actors.remote import ActorDirectory
from fedicity.clock import Clock
from fedicity.db.pool import Pool
from fedicity.inbound import queries
from fedicity.inbound.context import InboundContext
from fedicity.inbound.router import build_router
from fedicity.urls import Urls

LEASE = timedelta(minutes=5)
BATCH = 32
_log = logging.getLogger(__name__)


async def process_batch(
    pool: Pool,
    *,
    directory: ActorDirectory,
    urls: Urls,
    clock: Clock,
    limit: int = BATCH,
    keygen: KeyGenerator = generate_rsa_keypair,
) -> int:
    """Process up to `limit` due inbox rows; return how many were handled."""
    router = build_router()
    # One connection for the batch: each row still commits (or retries) on its own.
    async with pool.acquire() as conn:
        items = await queries.claim_inbox_items(conn, now=clock.now(), lease=LEASE, limit=limit)
        for item in items:
            handler = router.lookup(item.raw)
            if handler is None:
                await queries.finish_inbox_item(
                    conn,
                    item.id,
                    state="ignored",
                    detail=f"no handler for {item.type}",
                    now=clock.now(),
                )
                continue
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
                    outcome = await handler(context, item.raw)
                    await queries.finish_inbox_item(
                        conn,
                        item.id,
                        state=outcome.state,
                        detail=outcome.detail,
                        now=clock.now(),
                    )
            except Exception as error:  # noqa: BLE001 -- a handler bug must not lose the row
                # The row keeps its activity and the error, and is retried on the delivery curve;
                # after the last attempt it stays as 'failed' for an admin to look at.
                _log.exception("inbox item %s (%s) failed", item.id, item.activity_uri)
                delay = next_delay(item.attempts + 1, None)
                await queries.retry_inbox_item(
                    conn,
                    item.id,
                    error=f"{type(error).__name__}: {error}",
                    next_attempt_at=None if delay is None else clock.now() + delay,
                    now=clock.now(),
                )
    return len(items)
