"""The delivery worker: claim due rows, sign and POST them, record the answer and the next try."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.fetch import (
    FetchFailure,
    FetchPolicy,
    RefusedAddress,
    check_destination,
    user_agent_for,
)
from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import load_private_key
from fedicity.activitypub.retry import next_delay, parse_retry_after
from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.delivery import queries
from fedicity.delivery.queries import DeliveryJob, DomainHealth
from fedicity.moderation.policy import admit
from fedicity.observability import metrics
from fedicity.urls import Urls

LEASE = timedelta(minutes=2)
BATCH = 64
CONCURRENCY = 16
# Mastodon marks a domain unavailable after failures on 7 distinct days; so do we.
UNAVAILABLE_AFTER_DAYS = 7
PROBE_INTERVAL = timedelta(hours=6)
# Rows that lost the probe to another look again once its answer is known (> POST_TIMEOUT).
PROBE_WAIT = timedelta(minutes=1)
SNIPPET = 500
POST_TIMEOUT = 15.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """The result of one POST: the status (None on a network error) and what it said."""

    status: int | None
    detail: str
    retry_after: str | None = None
    # Not sent: the inbox's name resolved to a blocked address when connecting. Final.
    refused: bool = False

    @property
    def ok(self) -> bool:
        """2xx."""
        return self.status is not None and 200 <= self.status < 300


def _signing_key(job: DeliveryJob, urls: Urls) -> SigningKey:
    key_id = urls.instance_actor_key if job.kind == "application" else urls.actor_key(job.username)
    return SigningKey(key_id=key_id, private_key=load_private_key(job.private_key_pem))


async def post_activity(
    client: httpx.AsyncClient, job: DeliveryJob, urls: Urls, clock: Clock
) -> Attempt:
    """Sign and POST one activity to one inbox."""
    body = json.dumps(job.raw).encode("utf-8")
    headers = {
        "Content-Type": ACTIVITY_JSON,
        "Accept": ACTIVITY_JSON,
        "User-Agent": user_agent_for(urls.base),
    }
    headers.update(
        sign_cavage("POST", job.inbox, headers, body, _signing_key(job, urls), clock.now())
    )
    try:
        with metrics.DELIVERY_DURATION.time():
            response = await client.post(
                job.inbox, content=body, headers=headers, timeout=POST_TIMEOUT
            )
    except httpx.TimeoutException:
        return Attempt(None, "timed out")
    except httpx.ConnectError as error:
        if isinstance(error.__cause__, RefusedAddress):
            return Attempt(None, f"inbox refused: {error.__cause__.failure.detail}", refused=True)
        return Attempt(None, f"{type(error).__name__}: {error}"[:SNIPPET])
    except httpx.HTTPError as error:
        return Attempt(None, f"{type(error).__name__}: {error}"[:SNIPPET])
    return Attempt(
        response.status_code,
        response.text[:SNIPPET],
        response.headers.get("retry-after"),
    )


async def deliver_batch(
    pool: Pool,
    client: httpx.AsyncClient,
    *,
    urls: Urls,
    clock: Clock,
    limit: int = BATCH,
    allow_private_addresses: bool = False,
    allowlist_mode: bool = False,
) -> int:
    """Deliver up to `limit` due rows, several at once; return how many were claimed."""
    async with pool.acquire() as conn:
        jobs = await queries.claim_deliveries(conn, now=clock.now(), lease=LEASE, limit=limit)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: DeliveryJob) -> None:
        async with gate:
            try:
                await _deliver(
                    pool,
                    client,
                    job,
                    urls=urls,
                    clock=clock,
                    policy=FetchPolicy(allow_private_addresses),
                    allowlist_mode=allowlist_mode,
                )
            except Exception as error:  # noqa: BLE001 -- a bug must count an attempt, not loop
                # Otherwise the row would come back at every lease end, forever, never failing.
                _log.exception(
                    "delivery %s to %s failed",
                    job.id,
                    job.inbox,
                    extra={"activity_id": job.activity_uri, "domain": job.domain},
                )
                metrics.delivery("error")
                await _count_crashed_attempt(pool, job, error, clock.now())

    await asyncio.gather(*(one(job) for job in jobs))
    return len(jobs)


async def _count_crashed_attempt(
    pool: Pool, job: DeliveryJob, error: Exception, now: datetime
) -> None:
    """Count a delivery that raised as a failed attempt, retried on the usual curve."""
    delay = next_delay(job.attempts + 1, None)
    async with pool.acquire() as conn:
        await _mark_failed(
            conn,
            job,
            f"{type(error).__name__}: {error}",
            now=now,
            retry_at=None if delay is None else now + delay,
        )


async def _deliver(
    pool: Pool,
    client: httpx.AsyncClient,
    job: DeliveryJob,
    *,
    urls: Urls,
    clock: Clock,
    policy: FetchPolicy,
    allowlist_mode: bool = False,
) -> None:
    """Deliver one leased row: wait for a domain's probe, refuse what must never be sent, POST,
    record the answer."""
    async with pool.acquire() as conn:
        health = await queries.select_domain_health(conn, job.domain)
    now = clock.now()
    if await _waits_for_probe(pool, job, health, now):
        metrics.delivery("postponed")
        return
    refusal = await _refusal(pool, job, policy, allowlist_mode)
    if refusal is not None:
        async with pool.acquire() as conn:
            await _mark_failed(conn, job, refusal, now=now)
        _log_result(job, "refused", refusal)
        return
    attempt = await post_activity(client, job, urls, clock)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if attempt.refused:
            # As for a blocked address found before connecting: never POST there, no retry.
            await _mark_failed(conn, job, attempt.detail, now=now)
            result = "refused"
        elif attempt.ok:
            assert attempt.status is not None
            if await queries.mark_delivered(conn, job.id, attempt.status, now, job.locked_until):
                await queries.record_domain_success(conn, job.domain, now)
            result = "delivered"
        else:
            result = await _record_failed_answer(conn, job, attempt, now)
    _log_result(job, result, attempt.detail, attempt.status)


def _log_result(job: DeliveryJob, result: str, detail: str, status: int | None = None) -> None:
    """Count a delivery's result, and log it with the activity and the domain as fields."""
    metrics.delivery(result)
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


async def _waits_for_probe(
    pool: Pool, job: DeliveryJob, health: DomainHealth | None, now: datetime
) -> bool:
    """Whether the row waits (postponed) for the probe of its unavailable domain."""
    if health is None or not health.unavailable or health.last_failure_at is None:
        return False
    # An unavailable domain gets one probe per interval; the rest wait for it without
    # spending attempts, so nothing is lost when it comes back.
    probe_due = health.last_failure_at + PROBE_INTERVAL
    if now < probe_due:
        async with pool.acquire() as conn:
            await queries.postpone(conn, job.id, probe_due, now)
        return True
    # The rows postponed above all fall due at probe_due: only the oldest due one posts,
    # the others look again once its answer is known.
    async with pool.acquire() as conn:
        if await queries.select_probe_id(conn, job.domain, now) != job.id:
            await queries.postpone(conn, job.id, now + PROBE_WAIT, now)
            return True
    return False


async def _refusal(
    pool: Pool, job: DeliveryJob, policy: FetchPolicy, allowlist_mode: bool
) -> str | None:
    """Why this row must never be sent (and not retried), or None."""
    async with pool.acquire() as conn:
        decision = await admit(conn, host_of(job.inbox), allowlist_mode=allowlist_mode)
    if not decision.allowed:
        # A domain suspended after the activity was queued gets nothing.
        return f"refused by policy: {decision.reason}"
    refused = await check_destination(job.inbox, policy)
    if refused is not None and refused.reason in (
        FetchFailure.BLOCKED_ADDRESS,
        FetchFailure.BAD_URL,
    ):
        # An actor document named an inbox on a private address or a non-http URL: never POST
        # there (SSRF).
        return f"inbox refused: {refused.detail}"
    return None


async def _record_failed_answer(
    conn: Connection, job: DeliveryJob, attempt: Attempt, now: datetime
) -> str:
    """A POST that failed: schedule the next try (Retry-After heeded), count it against the
    domain's health when the server, not the activity, failed; `retry` or `gave_up`."""
    delay = next_delay(
        job.attempts + 1, attempt.status, parse_retry_after(attempt.retry_after, now)
    )
    await _mark_failed(
        conn,
        job,
        attempt.detail,
        status=attempt.status,
        now=now,
        retry_at=None if delay is None else now + delay,
    )
    if attempt.status is None or attempt.status >= 500:
        await queries.record_domain_failure(conn, job.domain, now, UNAVAILABLE_AFTER_DAYS)
    return "gave_up" if delay is None else "retry"


async def _mark_failed(
    conn: Connection,
    job: DeliveryJob,
    error: str,
    *,
    now: datetime,
    status: int | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Record a failed attempt on the row we hold the lease of: retried at `retry_at`, or, when
    it is None, given up."""
    await queries.mark_failed_attempt(
        conn,
        job.id,
        status=status,
        error=error,
        next_attempt_at=retry_at,
        now=now,
        lease=job.locked_until,
    )
