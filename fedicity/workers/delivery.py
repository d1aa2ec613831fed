"""The delivery worker: claim due rows, sign and POST them, record the answers and the next tries.

`DeliveryScheduler` runs continuously: it keeps up to `concurrency` POSTs in flight, at most
`per_host` to one domain, and claims more rows as slots free up, so a slow or dead domain holds
only its own slots. Rows are claimed (with their domain's policy and health) and completed in
batches of statements, and their short leases are renewed together while the POSTs run, so a
killed worker's rows come back within a lease, and a stopped one releases them at once.
`deliver_batch` is one claim's worth of the same work, for tests and tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.fetch import user_agent_for
from fedicity.activitypub.fetch.poster import DeliveryClient
from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import load_private_key
from fedicity.activitypub.retry import next_delay, parse_retry_after
from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.clock import Clock
from fedicity.db.pool import Pool
from fedicity.delivery import queries
from fedicity.delivery.queries import ClaimedRow, Completion, DeliveryJob, SigningActivity
from fedicity.moderation.policy import decide, policy_domain
from fedicity.observability import metrics
from fedicity.urls import Urls

# Short, and renewed every RENEW_EVERY while the POST runs: a killed worker's rows are taken
# again within a lease, not after the longest possible POST.
LEASE = timedelta(seconds=15)
RENEW_EVERY = 5.0
BATCH = 64
CONCURRENCY = 64
PER_HOST = 4
# Mastodon marks a domain unavailable after failures on 7 distinct days; so do we.
UNAVAILABLE_AFTER_DAYS = 7
PROBE_INTERVAL = timedelta(hours=6)
# Rows that lost the probe to another look again once its answer is known (> POST_TIMEOUT).
PROBE_WAIT = timedelta(minutes=1)
SNIPPET = 500
POST_TIMEOUT = 15.0
# Completions are written together: at most this many, or after FLUSH_AFTER seconds.
FLUSH_SIZE = 64
FLUSH_AFTER = 0.05
# A claim waits until this share of the slots is free, or TICK has passed.
TICK = 0.05
# With nothing due, look again this often while POSTs are still in flight.
POLL = 0.5
# On a clean stop, POSTs in flight get this long to finish before their rows are released.
STOP_GRACE = 2.0
# What a statement can raise when the database refuses it or the connection is gone; asyncpg
# raises InternalClientError on a connection the server ended (see fedicity.db.outage).
_DATABASE_FAILURES = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """The result of one POST: the status (None on a network error) and what it said."""

    status: int | None
    detail: str
    retry_after: str | None = None
    # Not sent: the inbox is, or resolved to, a blocked address, or is no http(s) URL. Final.
    refused: bool = False

    @property
    def ok(self) -> bool:
        """2xx."""
        return self.status is not None and 200 <= self.status < 300


class _Signers:
    """Bodies and parsed keys, once per activity and signer instead of once per POST (parsing an
    RSA key costs more than signing with it)."""

    LIMIT = 256

    def __init__(self, urls: Urls) -> None:
        self._urls = urls
        self.activities: dict[int, SigningActivity] = {}
        self.bodies: dict[int, bytes] = {}
        self._keys: dict[tuple[str, str], SigningKey] = {}

    async def jobs(self, pool: Pool, rows: list[ClaimedRow]) -> list[DeliveryJob]:
        """The claimed rows with what they send, reading only activities not seen yet."""
        missing = sorted({row.activity_id for row in rows} - self.activities.keys())
        if missing:
            if len(self.activities) + len(missing) > self.LIMIT:
                self.activities.clear()
                self.bodies.clear()
            async with pool.acquire() as conn:
                for read in await queries.select_signing_activities(conn, missing):
                    self.activities[read.activity_id] = read
        jobs = []
        for row in rows:
            activity = self.activities.get(row.activity_id)
            if activity is None:
                # Deleted since the claim, and its rows with it (ON DELETE CASCADE): none to send.
                continue
            jobs.append(
                DeliveryJob(
                    id=row.id,
                    inbox=row.inbox,
                    domain=row.domain,
                    attempts=row.attempts,
                    activity_uri=activity.activity_uri,
                    raw=activity.raw,
                    username=activity.username,
                    kind=activity.kind,
                    private_key_pem=activity.private_key_pem,
                    locked_until=row.locked_until,
                    lease_owner=row.lease_owner,
                )
            )
        return jobs

    def body(self, job: DeliveryJob, activity_id: int) -> bytes:
        """The JSON body of a job's activity."""
        body = self.bodies.get(activity_id)
        if body is None:
            body = self.bodies[activity_id] = json.dumps(job.raw).encode("utf-8")
        return body

    def key(self, job: DeliveryJob) -> SigningKey:
        """The key a job is signed with."""
        cache_key = (job.kind, job.username)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) >= self.LIMIT:
                self._keys.clear()
            key = self._keys[cache_key] = _signing_key(job, self._urls)
        return key


def _signing_key(job: DeliveryJob, urls: Urls) -> SigningKey:
    key_id = urls.instance_actor_key if job.kind == "application" else urls.actor_key(job.username)
    return SigningKey(key_id=key_id, private_key=load_private_key(job.private_key_pem))


async def post_activity(
    client: DeliveryClient,
    job: DeliveryJob,
    urls: Urls,
    clock: Clock,
    *,
    body: bytes | None = None,
    key: SigningKey | None = None,
    keep_alive: bool = True,
) -> Attempt:
    """Sign and POST one activity to one inbox (keeping the connection open for the next)."""
    body = json.dumps(job.raw).encode("utf-8") if body is None else body
    headers = {
        "Content-Type": ACTIVITY_JSON,
        "Accept": ACTIVITY_JSON,
        "User-Agent": user_agent_for(urls.base),
    }
    headers.update(
        sign_cavage("POST", job.inbox, headers, body, key or _signing_key(job, urls), clock.now())
    )
    with metrics.DELIVERY_DURATION.time():
        posted = await client.post(
            job.inbox, body, headers, timeout=POST_TIMEOUT, keep_alive=keep_alive
        )
    if posted.refused:
        return Attempt(None, f"inbox refused: {posted.detail}", refused=True)
    return Attempt(posted.status, posted.detail, posted.retry_after)


def _outcome(job: DeliveryJob, attempt: Attempt, now: datetime) -> tuple[Completion, str]:
    """What to record for an attempt, and the result to count."""
    if attempt.refused:
        # As for a blocked address found before connecting: never POST there, no retry.
        return _completion(job, "failed", attempt.status, attempt.detail, None), "refused"
    if attempt.ok:
        return _completion(job, "delivered", attempt.status, None, None), "delivered"
    # Retry-After is heeded; the domain's health counts it when the server, not the activity,
    # failed.
    delay = next_delay(
        job.attempts + 1, attempt.status, parse_retry_after(attempt.retry_after, now)
    )
    server_failed = attempt.status is None or attempt.status >= 500
    if delay is None:
        completion = _completion(job, "failed", attempt.status, attempt.detail, None)
    else:
        completion = _completion(job, "pending", attempt.status, attempt.detail, now + delay)
    completion = dataclasses.replace(completion, domain_failed=server_failed)
    return completion, "gave_up" if delay is None else "retry"


def _completion(
    job: DeliveryJob, state: str, status: int | None, error: str | None, retry_at: datetime | None
) -> Completion:
    return Completion(
        id=job.id,
        lease_owner=job.lease_owner,
        domain=job.domain,
        state=state,
        status=status,
        error=error,
        next_attempt_at=retry_at,
    )


def _crashed(job: DeliveryJob, error: Exception, now: datetime) -> Completion:
    """A delivery that raised counts as a failed attempt, retried on the usual curve; otherwise
    the row would come back at every lease end, forever, never failing."""
    delay = next_delay(job.attempts + 1, None)
    return _completion(
        job,
        "failed" if delay is None else "pending",
        None,
        f"{type(error).__name__}: {error}",
        None if delay is None else now + delay,
    )


async def _record(pool: Pool, completions: list[Completion], now: datetime) -> None:
    """Write completions and the health of their domains: three statements in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        recorded = set(await queries.complete(conn, completions, now))
        # Only a delivery still ours counts for its domain's health: a stale holder's answer
        # was another worker's to record.
        await queries.record_domain_failures(
            conn,
            [c.domain for c in completions if c.domain_failed and c.id in recorded],
            now,
            UNAVAILABLE_AFTER_DAYS,
        )
        await queries.record_domain_successes(
            conn,
            [c.domain for c in completions if c.state == "delivered" and c.id in recorded],
            now,
        )


def _log_result(job: DeliveryJob, result: str, detail: str, status: int | None = None) -> None:
    """Count a delivery's result, and log it with the activity and the domain as fields."""
    metrics.delivery(result)
    if result == "delivered" and not _log.isEnabledFor(logging.DEBUG):
        return
    _log.log(
        logging.DEBUG if result == "delivered" else logging.INFO,
        "delivery %s of %s to %s: %s",
        job.id,
        job.activity_uri,
        job.inbox,
        result if result == "delivered" else f"{result} ({status}: {detail[:200]})",
        extra={
            "activity_id": job.activity_uri,
            "domain": job.domain,
            "result": result,
            "status": status,
        },
    )


class _Work:
    """What claimed rows need besides a POST: the policy read with them, and the probes of
    unavailable domains."""

    def __init__(self, pool: Pool, *, allowlist_mode: bool) -> None:
        self.pool = pool
        self.allowlist_mode = allowlist_mode

    async def sort(
        self, rows: list[ClaimedRow], now: datetime
    ) -> tuple[list[ClaimedRow], list[tuple[ClaimedRow, str]], int]:
        """(rows to POST, rows refused with why, how many postponed)."""
        send: list[ClaimedRow] = []
        refused: list[tuple[ClaimedRow, str]] = []
        postponed = 0
        for row in rows:
            decision = decide(
                policy_domain(host_of(row.inbox)),
                row.policy_action,
                allowlist_mode=self.allowlist_mode,
            )
            if not decision.allowed:
                # A domain suspended after the activity was queued gets nothing.
                refused.append((row, f"refused by policy: {decision.reason}"))
            elif row.unavailable_since is not None and await self._waits_for_probe(row, now):
                postponed += 1
            else:
                send.append(row)
        return send, refused, postponed

    async def _waits_for_probe(self, row: ClaimedRow, now: datetime) -> bool:
        """Whether the row waits (postponed) for the probe of its unavailable domain."""
        assert row.unavailable_since is not None
        # An unavailable domain gets one probe per interval; the rest wait for it without
        # spending attempts, so nothing is lost when it comes back.
        probe_due = row.unavailable_since + PROBE_INTERVAL
        async with self.pool.acquire() as conn:
            if now < probe_due:
                await queries.postpone(conn, row.id, probe_due, now, row.lease_owner)
                metrics.delivery("postponed")
                return True
            # The rows postponed above all fall due at probe_due: only the oldest due one
            # posts, the others look again once its answer is known.
            if await queries.select_probe_id(conn, row.domain, now) != row.id:
                await queries.postpone(conn, row.id, now + PROBE_WAIT, now, row.lease_owner)
                metrics.delivery("postponed")
                return True
        return False


async def _attempt(
    client: DeliveryClient,
    job: DeliveryJob,
    signers: _Signers,
    activity_id: int,
    urls: Urls,
    clock: Clock,
    *,
    keep_alive: bool = True,
) -> Completion:
    """POST one job and return what to record; a bug counts an attempt instead of looping."""
    try:
        attempt = await post_activity(
            client,
            job,
            urls,
            clock,
            body=signers.body(job, activity_id),
            key=signers.key(job),
            keep_alive=keep_alive,
        )
    except Exception as error:  # noqa: BLE001 -- a bug must count an attempt, not loop
        _log.exception(
            "delivery %s to %s failed",
            job.id,
            job.inbox,
            extra={"activity_id": job.activity_uri, "domain": job.domain},
        )
        metrics.delivery("error")
        return _crashed(job, error, clock.now())
    completion, result = _outcome(job, attempt, clock.now())
    _log_result(job, result, attempt.detail, attempt.status)
    return completion


def _refusals(
    jobs: Iterable[tuple[DeliveryJob, str]],
) -> list[Completion]:
    completions = []
    for job, reason in jobs:
        completions.append(_completion(job, "failed", None, reason, None))
        _log_result(job, "refused", reason)
    return completions


async def deliver_batch(
    pool: Pool,
    client: DeliveryClient,
    *,
    urls: Urls,
    clock: Clock,
    limit: int = BATCH,
    allowlist_mode: bool = False,
) -> int:
    """Deliver up to `limit` due rows, several at once; return how many were claimed."""
    owner = uuid.uuid4()
    async with pool.acquire() as conn:
        rows = await queries.claim_deliveries(
            conn, now=clock.now(), lease=LEASE, limit=limit, owner=owner
        )
    if not rows:
        return 0
    work = _Work(pool, allowlist_mode=allowlist_mode)
    send, refused, _postponed = await work.sort(rows, clock.now())
    signers = _Signers(urls)
    by_id = {job.id: job for job in await signers.jobs(pool, [*send, *(r for r, _ in refused)])}
    activity_of = {row.id: row.activity_id for row in rows}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: DeliveryJob) -> Completion:
        async with gate:
            return await _attempt(client, job, signers, activity_of[job.id], urls, clock)

    send = [row for row in send if row.id in by_id]
    completions = _refusals((by_id[row.id], reason) for row, reason in refused if row.id in by_id)
    held = {row.id: row.lease_owner for row in send}
    renewer = asyncio.create_task(_renew_leases(pool, held, clock, RENEW_EVERY))
    try:
        completions += await asyncio.gather(*(one(by_id[row.id]) for row in send))
    finally:
        renewer.cancel()
    await _record(pool, completions, clock.now())
    return len(rows)


async def _renew_leases(pool: Pool, held: dict[int, uuid.UUID], clock: Clock, every: float) -> None:
    """Every `every` seconds, extend the lease of every row in `held`, in one UPDATE."""
    while True:
        await asyncio.sleep(every)
        if not held:
            continue
        ids, owners = list(held), list(held.values())
        now = clock.now()
        try:
            async with pool.acquire() as conn:
                await queries.set_leases(conn, ids, owners, until=now + LEASE, now=now)
        except _DATABASE_FAILURES as error:
            # Tried again at the next tick; a lease lost meanwhile fences our completion out.
            _log.warning("renewing %d delivery leases failed: %s", len(ids), error)


class DeliveryScheduler:
    """Delivery without a batch barrier: up to `concurrency` POSTs in flight, `per_host` per
    domain, more rows claimed as slots free up; leases renewed together, released on stop."""

    # Given by each drain (the loop runner passes the pool to its step).
    pool: Pool
    _work: _Work

    def __init__(
        self,
        client: DeliveryClient,
        *,
        urls: Urls,
        clock: Clock,
        concurrency: int = CONCURRENCY,
        per_host: int = PER_HOST,
        allowlist_mode: bool = False,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self.client = client
        self.renew_every = renew_every
        self.urls = urls
        self.clock = clock
        self.concurrency = concurrency
        self.per_host = per_host
        self.allowlist_mode = allowlist_mode
        self._signers = _Signers(urls)
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_domain: Counter[str] = Counter()
        # Rows leased by this process, from claim until their completion is written.
        self._held: dict[int, uuid.UUID] = {}
        self._done: list[Completion] = []
        self._done_since = 0.0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._handled = 0
        self._unblocked = False

    def stop(self) -> None:
        """Ask a running drain to stop claiming, finish or abandon its POSTs and release."""
        self._stopping.set()
        self._wake.set()

    async def drain(self, pool: Pool) -> int:
        """Deliver until nothing is due and nothing is in flight (or stop); return how many
        rows were handled."""
        self.pool = pool
        self._work = _Work(pool, allowlist_mode=self.allowlist_mode)
        self._handled = 0
        renewer = asyncio.create_task(_renew_leases(pool, self._held, self.clock, self.renew_every))
        try:
            last_claim = 0.0
            exhausted_at: float | None = None
            while not self._stopping.is_set():
                if renewer.done():
                    # Raises what ended it: running on, every lease would lapse under its POST.
                    renewer.result()
                now = time.monotonic()
                if self._done and (
                    len(self._done) >= FLUSH_SIZE or now - self._done_since >= FLUSH_AFTER
                ):
                    await self._flush()
                free = self.concurrency - len(self._tasks)
                # A claim that came back short found nothing more due, unless a domain at its
                # limit has had a slot freed since.
                may_claim = exhausted_at is None or self._unblocked or now - exhausted_at >= POLL
                worth_it = (
                    not self._tasks or free * 4 >= self.concurrency or now - last_claim >= TICK
                )
                if free > 0 and may_claim and worth_it:
                    self._unblocked = False
                    got = await self._claim(free)
                    last_claim = time.monotonic()
                    exhausted_at = last_claim if got < free else None
                if not self._tasks and exhausted_at is not None:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TICK)
        finally:
            renewer.cancel()
            await self._settle()
        return self._handled

    async def _claim(self, free: int) -> int:
        busy = [domain for domain, n in self._per_domain.items() if n >= self.per_host]
        owner = uuid.uuid4()
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            rows = await queries.claim_deliveries(
                conn,
                now=now,
                lease=LEASE,
                limit=free,
                owner=owner,
                per_host=self.per_host,
                busy_domains=busy,
            )
        if not rows:
            return 0
        for row in rows:
            self._held[row.id] = row.lease_owner
        self._handled += len(rows)
        send, refused, _postponed = await self._work.sort(rows, now)
        jobs = {
            job.id: job
            for job in await self._signers.jobs(self.pool, [*send, *(r for r, _ in refused)])
        }
        send = [row for row in send if row.id in jobs]
        refused = [(row, reason) for row, reason in refused if row.id in jobs]
        # Postponed rows were released by the statement that pushed them back; rows without a
        # job went with their deleted activity.
        kept = {row.id for row in send} | {row.id for row, _ in refused}
        for row in rows:
            if row.id not in kept:
                self._held.pop(row.id, None)
        self._complete(_refusals((jobs[row.id], reason) for row, reason in refused))
        for row in send:
            self._per_domain[row.domain] += 1
            task = asyncio.create_task(self._one(jobs[row.id], row.activity_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def _one(self, job: DeliveryJob, activity_id: int) -> None:
        # The connection is kept only while other rows of the domain are in flight: the last one
        # closes it, so idle connections stay bounded by the domains being served.
        keep_alive = self._per_domain[job.domain] > 1
        try:
            completion = await _attempt(
                self.client,
                job,
                self._signers,
                activity_id,
                self.urls,
                self.clock,
                keep_alive=keep_alive,
            )
            self._complete([completion])
        finally:
            if self._per_domain[job.domain] >= self.per_host:
                self._unblocked = True
            self._per_domain[job.domain] -= 1
            if self._per_domain[job.domain] <= 0:
                del self._per_domain[job.domain]
            self._wake.set()

    def _complete(self, completions: list[Completion]) -> None:
        if completions and not self._done:
            self._done_since = time.monotonic()
        self._done.extend(completions)

    async def _flush(self) -> None:
        done, self._done = self._done, []
        try:
            await _record(self.pool, done, self.clock.now())
        except BaseException:
            # Kept to be written at the next flush: the rows stay leased (and renewed) till then.
            self._done = done + self._done
            raise
        for completion in done:
            self._held.pop(completion.id, None)

    async def _settle(self) -> None:
        """On leaving drain: let POSTs in flight finish (briefly, on a stop), write what is
        done, and release every row still held so another worker takes it at once."""
        if self._tasks:
            if self._stopping.is_set():
                _finished, late = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            else:
                # Left by an error: the POSTs may finish, but nobody would record them.
                for task in set(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if self._done:
                await self._flush()
        finally:
            # Completions not yet written keep their rows held (renewed till the next flush).
            # The rest are no longer ours whether or not releasing them works: kept, the next
            # drain would renew leases nobody is POSTing under, and the rows would never be due.
            waiting = {completion.id for completion in self._done}
            released = {i: owner for i, owner in self._held.items() if i not in waiting}
            for row_id in released:
                del self._held[row_id]
            if released:
                async with self.pool.acquire() as conn:
                    await queries.set_leases(
                        conn,
                        list(released),
                        list(released.values()),
                        until=None,
                        now=self.clock.now(),
                    )
