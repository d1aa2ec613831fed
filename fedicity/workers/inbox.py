"""The inbox worker: claim stored activities, route each in a transaction, record the result."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.activitypub.retry import next_delay
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import ldsig_check
from fedicity.actors.context import InboundContext
from fedicity.actors.remote import ActorDirectory
from fedicity.clock import Clock
from fedicity.db.outage import unreachable
from fedicity.db.pool import Connection, Pool
from fedicity.inbound import queries
from fedicity.inbound.mailbox import skeleton
from fedicity.moderation import content_queries, content_service
from fedicity.moderation.content import PolicyConfig
from fedicity.observability import metrics
from fedicity.urls import Urls
from fedicity.workers.router import build_router

# A claimed row's lease: short, so the rows of a worker killed mid-batch come back within
# seconds, and renewed (all the batch's rows in one statement) while the batch works on them.
LEASE = timedelta(seconds=15)
RENEW_EVERY = 5.0
# How long giving rows back may wait for a connection: during an outage it fails at once.
GIVE_BACK_WAIT = 1.0
BATCH = 32
PURGE_BATCH = 1000
# Content policy decisions stay for the admins this long (rejections are what they review).
DECISIONS_KEPT = timedelta(days=90)
# What a statement can raise: the database refusing it, or the connection gone (an outage, or
# a handler that broke it). Recording an outcome failing so leaves the row to its lease (or, in
# an outage, gives it back); the rest of the batch goes on.
_DATABASE_FAILURES = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
# Rows given back once after an outage caught them, remembered up to this many.
_FORGIVEN_KEPT = 10_000
_log = logging.getLogger(__name__)


class _LeaseLost(Exception):
    """The row's lease ran out and another worker claimed it: this attempt must not count."""


@dataclass
class HeldBack:
    """Rows a batch could not give back (the database was unreachable), each list under its
    claim's token: the next batch of the same loop gives them back first, so they need not
    wait for their lease to end."""

    rows: list[tuple[UUID, list[int] | None]] = field(default_factory=list)
    # Rows an outage caught mid-processing and that were given back for it.
    forgiven: set[int] = field(default_factory=set)

    async def give_back(self, conn: Connection) -> None:
        """Release what is held back (rows processed or claimed again since are left alone)."""
        while self.rows:
            token, ids = self.rows[-1]
            if ids is None:  # a claim whose answer was lost: whatever it took
                await queries.release_inbox_claim(conn, token=token)
            else:
                await queries.release_inbox_items(conn, ids, token=token)
            self.rows.pop()


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
    stop: asyncio.Event | None = None,
    held_back: HeldBack | None = None,
) -> int:
    """Process up to `limit` due inbox rows; return how many were claimed. Once `stop` is set,
    the rows not started yet are given back at once for another worker."""
    routes = router or build_router()
    token = uuid4()
    claimed = False
    try:
        async with pool.acquire() as conn:
            if held_back is not None:
                await held_back.give_back(conn)
            claimed = True
            items = await queries.claim_inbox_items(
                conn, now=clock.now(), lease=LEASE, limit=limit, token=token
            )
    except _DATABASE_FAILURES as error:
        # The claim may have taken rows before its connection died, with the answer or while
        # the pool took the connection back: whatever it took goes back by its token.
        if claimed and held_back is not None and unreachable(error):
            held_back.rows.append((token, None))
        raise
    if not items:
        return 0
    # The rows still held, the one being processed last: what is renewed, or given back.
    waiting = list(reversed(items))
    renewal = asyncio.create_task(_renew(pool, token, waiting, clock))
    policies: Mapping[str, PolicyConfig] | None = None
    # The row being processed when the database went away: not the row's doing, so it is
    # given back with the rest, once (a row that broke its connection every time would spin).
    orphan: queries.InboxItem | None = None
    try:
        while waiting and not _stopping(stop):
            # One connection for the batch, each row in its own transaction; a fresh connection
            # when a row left this one closed, so the rows behind it are still processed now.
            async with pool.acquire() as conn:
                if orphan is not None:
                    if _forgivable(orphan, held_back):
                        await queries.release_inbox_items(conn, [orphan.id], token=token)
                        _forgive(orphan, held_back)
                    orphan = None
                if policies is None:
                    # Read for every batch, so an admin's change applies at once in every worker.
                    policies = await content_queries.select_configs(conn)
                while waiting and not _stopping(stop):
                    if renewal.done():
                        # Raises what ended it: going on, the leases would lapse under the
                        # batch and its outcomes be refused as stale; the rows go back below.
                        renewal.result()
                    item = waiting[-1]
                    broken = False
                    try:
                        await _process(
                            conn, item, token, routes, directory, urls, clock, keygen, policies
                        )
                    except _DATABASE_FAILURES as error:
                        if unreachable(error):
                            orphan, broken = item, True
                        else:
                            _log.warning(
                                "inbox item %s: its outcome could not be recorded (%s: %s); "
                                "it comes back when its lease ends",
                                item.id,
                                type(error).__name__,
                                error,
                            )
                    waiting.pop()
                    if broken or not _usable(conn):
                        break
    finally:
        renewal.cancel()
        # Waited for without raising: what ended it must not skip giving the rows back.
        await asyncio.wait([renewal])
        unfinished = [item.id for item in waiting]
        if orphan is not None and _forgivable(orphan, held_back):
            unfinished.append(orphan.id)
            _forgive(orphan, held_back)
        if unfinished:
            await _give_back(pool, token, unfinished, held_back)
    if not renewal.cancelled() and renewal.exception() is not None:
        # The last rows may have finished before the batch saw it: a bug still surfaces.
        renewal.result()
    return len(items)


def _forgivable(orphan: queries.InboxItem, held_back: HeldBack | None) -> bool:
    """Whether a row caught by an outage may go back at once (the first time only)."""
    return held_back is not None and orphan.id not in held_back.forgiven


def _forgive(orphan: queries.InboxItem, held_back: HeldBack | None) -> None:
    if held_back is None:
        return
    if len(held_back.forgiven) >= _FORGIVEN_KEPT:
        held_back.forgiven.clear()
    held_back.forgiven.add(orphan.id)


def _stopping(stop: asyncio.Event | None) -> bool:
    return stop is not None and stop.is_set()


async def _renew(pool: Pool, token: UUID, waiting: list[queries.InboxItem], clock: Clock) -> None:
    """Extend the lease of the rows the batch still holds, every RENEW_EVERY seconds."""
    while True:
        await asyncio.sleep(RENEW_EVERY)
        ids = [item.id for item in waiting]
        try:
            async with pool.acquire(timeout=RENEW_EVERY) as conn:
                await queries.renew_inbox_leases(conn, ids, token=token, until=clock.now() + LEASE)
        except _DATABASE_FAILURES as error:
            # A missed renewal is not a loss: the lease has two more periods to run, and a
            # row claimed by another worker meanwhile is recorded by that worker only.
            if not unreachable(error):
                _log.warning("renewing inbox leases: %s: %s", type(error).__name__, error)


async def _give_back(pool: Pool, token: UUID, ids: list[int], held_back: HeldBack | None) -> None:
    """Release rows the batch will not process (stopping, or its connection lost)."""
    try:
        async with pool.acquire(timeout=GIVE_BACK_WAIT) as conn:
            await queries.release_inbox_items(conn, ids, token=token)
    except _DATABASE_FAILURES as error:
        if not unreachable(error):
            _log.warning("giving back inbox rows: %s: %s", type(error).__name__, error)
        if held_back is not None:
            held_back.rows.append((token, ids))


def _usable(conn: Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the pool already took back a connection it saw die
        return False


async def _process(
    conn: Connection,
    item: queries.InboxItem,
    token: UUID,
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
    # its new ones; stewardship/actions.py). Its restriction came with the claim.
    suspended = item.restriction == "suspend"
    if handler is None or suspended:
        recorded = await queries.finish_inbox_item(
            conn,
            item.id,
            token=token,
            state="ignored",
            detail=storable_text(
                "its actor is suspended here" if suspended else f"no handler for {item.type}"
            ),
            now=clock.now(),
            raw=skeleton(item.raw),
        )
        if recorded:
            metrics.inbox_processed("ignored")
        else:
            _lease_lost(item)
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
                if not await queries.holds_lease(conn, item.id, token=token):
                    raise _LeaseLost
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
            # Recorded only under this batch's lease: otherwise everything above rolls back.
            if not await queries.finish_inbox_item(
                conn,
                item.id,
                token=token,
                state=outcome.state,
                detail=storable_text(outcome.detail),
                now=clock.now(),
                raw=skeleton(item.raw),
            ):
                raise _LeaseLost
        metrics.inbox_processed(outcome.state)
    except _LeaseLost:
        _lease_lost(item)
    except Exception as error:  # a handler bug must not lose the row
        if unreachable(error) or not _usable(conn):
            # The database, not the handler: the row is charged no attempt.
            raise
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
        if not await queries.retry_inbox_item(
            conn,
            item.id,
            token=token,
            error=storable_text(f"{type(error).__name__}: {error}"),
            next_attempt_at=None if delay is None else clock.now() + delay,
            now=clock.now(),
        ):
            _lease_lost(item)


def _lease_lost(item: queries.InboxItem) -> None:
    _log.warning(
        "inbox item %s: its lease ran out and another worker holds it; this attempt is dropped",
        item.id,
        extra={"activity_id": item.activity_uri, "activity_type": item.type},
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
        seen=None if item.first_seen_at is None else (item.first_seen_at, item.actor_type),
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
