"""Delivery benchmark: one activity fanned out to --n inboxes on --hosts loopback hosts.

Run from the repository root (well under a minute with the defaults):

    .venv/bin/python -m bench.delivery
    .venv/bin/python -m bench.delivery --n 5000 --hosts 8 --verify-every 50
    .venv/bin/python -m bench.delivery --shared-inbox      # one delivery per host instead
    .venv/bin/python -m bench.delivery --profile           # cProfile the delivery loop

What it does, all on 127.0.0.1 with real HTTP and a real PostgreSQL (embedded in a temporary
directory, or a fresh database on FEDICITY_DATABASE_URL's server when that is set):

- starts bench/sink.py in its own process: --hosts HTTP servers that answer 202 to every POST,
  count them, and verify the HTTP signature of one POST in --verify-every with fedicity's own
  httpsig against the sender's public key;
- inserts a local actor (a committed test key) and --n remote actors whose inboxes are spread
  over those hosts (parse_remote_actor + upsert_remote_actor), then publishes one Create(Note)
  to all of them (fedicity.actors.outbox.publish with an Audience of those actors);
- runs fedicity.workers.delivery.DeliveryScheduler.drain in this process, as `fedicity worker`
  does (--concurrency in flight, --per-host per host), until every row is delivered, and prints
  signed POSTs/s with this process's CPU (the delivery code: claim, sign, POST with aiohttp,
  record) and PostgreSQL's per POST;
- in the same run, signs a 300-byte string --n times with cryptography's RSA-2048
  (PKCS#1 v1.5, SHA-256), half before and half after the deliveries, and prints that rate, the
  rate of fedicity's sign_cavage, and the ratios.

Figures are printed, never asserted: the machine is shared and noisy, so compare the ratios
printed within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bench.common import (
    BIN,
    CAVEAT,
    Child,
    FixedKeys,
    Meter,
    PostgresCpu,
    Sample,
    bench_env,
    figure,
    fixed_keypairs,
    fresh_database,
    heading,
    self_cpu,
    spawn,
    wait_for_log,
)
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import load_private_key
from fedicity.activitypub.vocab import ACTIVITY_JSON, AS_CONTEXT, PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.parse import parse_remote_actor
from fedicity.clock import SystemClock
from fedicity.db.pool import Pool, create_pool
from fedicity.delivery import queries as delivery_queries
from fedicity.urls import Urls, new_token
from fedicity.workers.delivery import DeliveryScheduler

BASE_URL = "https://fedicity.bench.example"
SENDER = "sender"


@dataclass
class SinkHosts:
    """The sink process and the base URLs of its hosts."""

    child: Child
    bases: list[str]

    async def stats(self) -> list[dict[str, Any]]:
        """Each host's counts."""
        async with httpx.AsyncClient(trust_env=False) as client:
            return [(await client.get(base + "/_stats")).json() for base in self.bases]


async def start_sinks(
    tmp: Path, hosts: int, verify_every: int, public_pem: str, key_id: str
) -> SinkHosts:
    key_file = tmp / "sender.pub.pem"
    key_file.write_text(public_pem)
    argv = [
        str(BIN / "python"), "-m", "bench.sink", "--hosts", str(hosts),
        "--verify-every", str(verify_every), "--public-key", str(key_file), "--key-id", key_id,
    ]  # fmt: skip
    child = spawn("sinks", argv, env=bench_env(), log=tmp / "sink.log")
    await wait_for_log(child, "PORTS ")
    line = next(ln for ln in child.log.read_text().splitlines() if ln.startswith("PORTS "))
    ports = line.removeprefix("PORTS ").split(",")
    return SinkHosts(child, [f"http://127.0.0.1:{port}" for port in ports])


def remote_actor_document(base: str, index: int, public_pem: str, shared: bool) -> dict[str, Any]:
    uri = f"{base}/users/r{index}"
    document: dict[str, Any] = {
        "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": f"r{index}",
        "inbox": uri + "/inbox",
        "followers": uri + "/followers",
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": public_pem},
    }
    if shared:
        document["endpoints"] = {"sharedInbox": base + "/inbox"}
    return document


async def set_up(pool: Pool, urls: Urls, bases: Sequence[str], n: int, shared: bool) -> int:
    """Insert the sender and n remote actors, publish one note to them all; return the row count."""
    clock = SystemClock()
    remote_pem = fixed_keypairs()[1].public_pem
    async with pool.acquire() as conn, conn.transaction():
        sender = await actor_service.create_person(conn, SENDER, keygen=FixedKeys())
        uris = []
        for index in range(n):
            document = remote_actor_document(bases[index % len(bases)], index, remote_pem, shared)
            stored = await actor_queries.upsert_remote_actor(
                conn, parse_remote_actor(document, clock.now())
            )
            uris.append(stored.uri)
        token = new_token()
        note_id = urls.note(token)
        content = "<p>The market square is closed on Saturday for the bike festival.</p>"
        activity = {
            "@context": AS_CONTEXT,
            "id": urls.activity(token),
            "type": "Create",
            "actor": urls.actor(SENDER),
            "to": [PUBLIC],
            "cc": [urls.actor_followers(SENDER)],
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": urls.actor(SENDER),
                "content": content,
                "published": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "to": [PUBLIC],
                "cc": [urls.actor_followers(SENDER)],
            },
        }
        await publish(
            conn,
            actor=sender,
            activity=activity,
            audience=Audience(actors=frozenset(uris)),
            urls=urls,
            clock=clock,
        )
        rows: int = await conn.fetchval("SELECT count(*) FROM deliveries")
        return rows


def sign_raw(count: int) -> Sample:
    """Sign a 300-byte string `count` times with RSA-2048 PKCS#1 v1.5 SHA-256."""
    key = load_private_key(fixed_keypairs()[0].private_pem)
    data = ("x" * 300).encode()
    sample = Sample()
    cpu, start = time.process_time(), time.perf_counter()
    for index in range(count):
        key.sign(data[:-8] + index.to_bytes(8, "big"), padding.PKCS1v15(), hashes.SHA256())
    sample.wall = time.perf_counter() - start
    sample.cpu = {"self": time.process_time() - cpu}
    return sample


def sign_headers(count: int, inbox: str) -> Sample:
    """fedicity's sign_cavage on a delivery-sized body `count` times (digest, string, RSA)."""
    key = SigningKey(
        BASE_URL + f"/actors/{SENDER}#main-key", load_private_key(fixed_keypairs()[0].private_pem)
    )
    body = json.dumps({"type": "Create", "content": "x" * 600}).encode()
    headers = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON, "User-Agent": "bench"}
    sample = Sample()
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(count):
        sign_cavage("POST", inbox, headers, body, key, datetime.now(UTC))
    sample.wall = time.perf_counter() - start
    sample.cpu = {"self": time.process_time() - cpu}
    return sample


def merge(first: Sample, second: Sample) -> Sample:
    return Sample(first.wall + second.wall, {k: first.cpu[k] + second.cpu[k] for k in first.cpu})


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fedicity-bench-delivery-"))
    urls = Urls(BASE_URL)
    sinks: SinkHosts | None = None
    print(f"fedicity delivery benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {CAVEAT}")
    print(
        f"n={args.n} hosts={args.hosts} verify_every={args.verify_every} "
        f"shared_inbox={args.shared_inbox} concurrency={args.concurrency} "
        f"per_host={args.per_host}"
    )
    try:
        async with fresh_database(tmp / "pg") as db:
            sender_pem = fixed_keypairs()[0].public_pem
            sinks = await start_sinks(
                tmp, args.hosts, args.verify_every, sender_pem, urls.actor_key(SENDER)
            )
            pool = await create_pool(db.dsn)
            client = new_delivery_client(allow_private_addresses=True, per_host=args.per_host)
            try:
                rows = await set_up(pool, urls, sinks.bases, args.n, args.shared_inbox)
                sources = {"delivery": self_cpu, "sinks": sinks.child.cpu}
                if db.pgdata is not None:
                    sources["postgres"] = PostgresCpu(db.pgdata)
                meter = Meter(sources)
                half = max(args.n // 2, 1)
                raw_first = sign_raw(half)
                cavage_first = sign_headers(half, sinks.bases[0] + "/users/r0/inbox")
                clock = SystemClock()
                batches = 0
                profiler = cProfile.Profile(time.process_time) if args.profile else None
                with meter.measure() as sample:
                    if profiler is not None:
                        profiler.enable()
                    scheduler = DeliveryScheduler(
                        client,
                        urls=urls,
                        clock=clock,
                        concurrency=args.concurrency,
                        per_host=args.per_host,
                    )
                    while await scheduler.drain(pool):
                        batches += 1
                    if profiler is not None:
                        profiler.disable()
                raw = merge(raw_first, sign_raw(half))
                cavage = merge(cavage_first, sign_headers(half, sinks.bases[0] + "/users/r0/inbox"))
                async with pool.acquire() as conn:
                    delivered = await delivery_queries.count_deliveries(conn, "delivered")
                    pending = await delivery_queries.count_deliveries(conn, "pending")
                    failed = await delivery_queries.count_deliveries(conn, "failed")
                    errors = await conn.fetch(
                        "SELECT last_status, last_error, count(*) AS n FROM deliveries "
                        "WHERE state <> 'delivered' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 3"
                    )
            finally:
                await client.aclose()
                await pool.close()
            stats = await sinks.stats()
            report(
                args, rows, batches, delivered, pending, failed, sample, raw, cavage, stats, half
            )
            for row in errors:
                print(f"  ! {row['n']} not delivered: {row['last_status']} {row['last_error']}")
            if profiler is not None:
                heading("cProfile (CPU clock) of the delivery loop, by own time")
                profile = pstats.Stats(profiler)
                profile.sort_stats("tottime").print_stats(args.profile_top)
                heading("... by cumulative time")
                profile.sort_stats("cumulative").print_stats(args.profile_top)
    finally:
        if sinks is not None:
            sinks.child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    args: argparse.Namespace,
    rows: int,
    batches: int,
    delivered: int,
    pending: int,
    failed: int,
    sample: Sample,
    raw: Sample,
    cavage: Sample,
    stats: list[dict[str, Any]],
    half: int,
) -> None:
    received = sum(s["posts"] for s in stats)
    verified = sum(s["verified"] for s in stats)
    bad = sum(s["failed"] + s["wrong_key_id"] for s in stats)
    heading(f"Fan-out: 1 Create(Note) to {rows} inboxes on {args.hosts} hosts")
    figure("delivery rows", rows, "", f"delivered {delivered}, pending {pending}, failed {failed}")
    figure("drain calls", batches)
    figure("POSTs received by the sinks", received)
    figure("signatures verified by the sinks", verified, "", f"{bad} bad" if bad else "all good")
    rate = delivered / sample.wall
    per_post = sample.ms_per("delivery", delivered)
    figure("signed POSTs/s", rate, "/s")
    figure("delivery CPU per POST (target <= 1.0)", per_post, "ms")
    if "postgres" in sample.cpu:
        figure("PostgreSQL CPU per POST", sample.ms_per("postgres", delivered), "ms")
    figure(
        "sinks CPU per POST (incl. sampled verification)", sample.ms_per("sinks", delivered), "ms"
    )
    figure("delivery CPU utilisation", sample.cpu["delivery"] / sample.wall * 100, "% of one core")

    count = 2 * half
    raw_rate = count / raw.wall
    raw_ms = raw.cpu["self"] * 1000 / count
    heading(f"RSA-2048 signing in this process, {count} signatures (half before, half after)")
    figure("raw sign of 300 bytes: signatures/s", raw_rate, "/s")
    figure("raw sign: CPU per signature", raw_ms, "ms")
    figure("sign_cavage (digest + string + sign): /s", count / cavage.wall, "/s")
    figure("sign_cavage: CPU per call", cavage.cpu["self"] * 1000 / count, "ms")
    heading("Ratios (same run)")
    figure("POSTs/s / raw signatures/s (target >= 0.3)", rate / raw_rate, "x")
    figure("delivery CPU per POST / raw sign CPU", per_post / raw_ms, "x")
    figure("non-signing CPU per POST", per_post - raw_ms, "ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark fedicity's delivery worker: one activity to N inboxes."
    )
    parser.add_argument("--n", type=int, default=2000, help="inboxes / remote actors (2000)")
    parser.add_argument("--hosts", type=int, default=4, help="loopback hosts (default 4)")
    parser.add_argument(
        "--verify-every", type=int, default=10, help="sinks verify 1 POST in this many (0: none)"
    )
    parser.add_argument(
        "--shared-inbox",
        action="store_true",
        help="give each host a shared inbox, so fan-out collapses to one POST per host",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the delivery loop with cProfile on a CPU clock (inflates its CPU figures)",
    )
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=64, help="POSTs in flight (64)")
    parser.add_argument("--per-host", type=int, default=16, help="POSTs in flight per host (16)")
    args = parser.parse_args()
    if min(args.n, args.hosts) < 1 or args.verify_every < 0:
        parser.error("--n and --hosts must be positive, --verify-every not negative")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
