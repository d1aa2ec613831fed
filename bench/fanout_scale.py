"""Fan-out at scale: one post by an actor with --followers followers on --domains remote domains.

Run from the repository root (about a minute with the defaults):

    .venv/bin/python -m bench.fanout_scale
    .venv/bin/python -m bench.fanout_scale --followers 20000 --domains 1000 --personal 0.1
    .venv/bin/python -m bench.fanout_scale --slow 0 --dead 0         # every domain quick

What it does, all on 127.0.0.1 with real HTTP and a real PostgreSQL (embedded in a temporary
directory, or a fresh database on FEDICITY_DATABASE_URL's server when that is set):

- plans the domains (d00000.fanout.test, ...; seeded): --slow of them answer after
  --slow-latency seconds, the others after a latency drawn around --median-latency; --dead of
  them are dead, half refusing connections (their URLs name a port nobody listens on), half
  accepting and never answering;
- starts ONE simulator process (this script with --simulate): an aiohttp server that plays
  every domain, choosing it by the Host header, counts the POSTs per domain and verifies the
  HTTP signature of one POST in --verify-every;
- inserts the sender and the followers in bulk, followers spread evenly over the domains, each
  domain offering a shared inbox as Mastodon's do (--personal: the share of domains that do not,
  whose followers then get one POST each), and publishes one public Create(Note) to the
  followers with fedicity.actors.outbox.publish (one delivery row per distinct inbox);
- starts the delivering process (this script with --deliver): fedicity's DeliveryScheduler, as
  `fedicity worker` runs it, with a resolver that maps the virtual names to 127.0.0.1, until
  every healthy domain has its POSTs; then it is stopped cleanly (SIGTERM);
- prints the time until every healthy domain was served, POSTs/s, the delivering process's CPU
  per POST and peak RSS, PostgreSQL's CPU per POST, the share of the RSA signing bound (raw
  RSA-2048 signatures in the parent, same run), the retries scheduled, and whether every healthy
  domain got exactly the POSTs it should (one per domain with a shared inbox).

Targets (printed, never asserted): every healthy domain served in under 60 s with the defaults;
peak RSS of the delivering process under 300 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ipaddress
import json
import os
import pstats
import random
import resource
import shutil
import signal
import socket
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    BIN,
    CAVEAT,
    Child,
    FixedKeys,
    PostgresCpu,
    bench_env,
    figure,
    fixed_keypairs,
    free_port,
    fresh_database,
    heading,
    spawn,
    wait_for_log,
)

BASE_URL = "https://fedicity.bench.example"
SENDER = "sender"
SUFFIX = ".fanout.test"


# ---------------------------------------------------------------------------------------------
# The plan: which domain answers how (computed alike in every process from the seed)


@dataclass(frozen=True)
class Domain:
    """One simulated remote domain."""

    name: str
    # 'ok', 'refused' (connection refused) or 'hang' (accepts, never answers)
    kind: str
    latency: float
    shared_inbox: bool


def plan(args: argparse.Namespace) -> list[Domain]:
    """The domains, their latencies and their deaths, from --seed."""
    rng = random.Random(args.seed)
    names = [f"d{index:05d}{SUFFIX}" for index in range(args.domains)]
    dead = set(rng.sample(range(args.domains), round(args.domains * args.dead)))
    refused = set(sorted(dead)[::2])
    slow = set(rng.sample(range(args.domains), round(args.domains * args.slow)))
    personal = set(rng.sample(range(args.domains), round(args.domains * args.personal)))
    domains = []
    for index, name in enumerate(names):
        kind = ("refused" if index in refused else "hang") if index in dead else "ok"
        if index in slow:
            latency = args.slow_latency
        else:
            # Around the median, a few times slower or quicker at the extremes.
            latency = min(args.median_latency * rng.lognormvariate(0, 0.5), args.slow_latency)
        domains.append(Domain(name, kind, latency, shared_inbox=index not in personal))
    return domains


def inbox_urls(domain: Domain, followers: list[int], port: int) -> list[str]:
    """The inboxes deliveries to this domain go to: its shared inbox, or one per follower."""
    base = f"http://{domain.name}:{port}"
    if domain.shared_inbox:
        return [f"{base}/inbox"]
    return [f"{base}/users/u{index}/inbox" for index in followers]


# ---------------------------------------------------------------------------------------------
# The simulator process: every domain, chosen by Host


async def simulate(args: argparse.Namespace) -> None:
    """Serve every planned domain on one port until SIGTERM."""
    from aiohttp import web

    from fedicity.activitypub.httpsig import SignatureFailure, parse_signature, verify
    from fedicity.activitypub.keys import load_public_key

    domains = {domain.name: domain for domain in plan(args)}
    public_key = load_public_key(await asyncio.to_thread(Path(args.public_key).read_text))
    posts: Counter[str] = Counter()
    signatures = Counter[str]()

    async def inbox(request: web.Request) -> web.StreamResponse:
        name = request.host.rsplit(":", 1)[0]
        domain = domains.get(name)
        if domain is None:
            return web.Response(status=404)
        body = await request.read()
        if domain.kind != "ok":
            # Accept, read, never answer (the client's timeout ends it).
            await asyncio.sleep(3600)
        await asyncio.sleep(domain.latency)
        posts[name] += 1
        if args.verify_every and sum(posts.values()) % args.verify_every == 1 % args.verify_every:
            url = f"http://{request.host}{request.path_qs}"
            headers = {key.lower(): value for key, value in request.headers.items()}
            parsed = parse_signature("POST", url, headers)
            if isinstance(parsed, SignatureFailure):
                signatures["failed"] += 1
            else:
                failure = verify(
                    parsed,
                    public_key,
                    method="POST",
                    body=body,
                    headers=headers,
                    now=datetime.now(UTC),
                    authority=urlsplit(url).netloc,
                )
                signatures["verified" if failure is None else "failed"] += 1
        return web.Response(status=202)

    async def stats(request: web.Request) -> web.Response:
        served = {name: n for name, n in posts.items()}
        return web.json_response({"posts": served, "signatures": dict(signatures)})

    app = web.Application(client_max_size=1_048_576)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/{tail:.*}", inbox)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("SIMULATING", flush=True)
    await stop.wait()
    await runner.cleanup()


# ---------------------------------------------------------------------------------------------
# The delivering process: fedicity's scheduler, names mapped to loopback


def _rss_peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def deliver(args: argparse.Namespace) -> None:
    """Run the delivery scheduler until SIGTERM, then print what it cost."""
    from fedicity.activitypub.fetch import IPAddress
    from fedicity.activitypub.fetch.poster import new_delivery_client
    from fedicity.clock import SystemClock
    from fedicity.db.pool import create_pool
    from fedicity.urls import Urls
    from fedicity.workers.delivery import DeliveryScheduler

    loopback = [ipaddress.ip_address("127.0.0.1")]

    async def virtual_names(host: str, port: int) -> list[IPAddress]:
        if host.endswith(SUFFIX):
            return list(loopback)
        raise socket.gaierror(socket.EAI_NONAME, f"{host} is not simulated")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pool = await create_pool(args.dsn)
    client = new_delivery_client(
        allow_private_addresses=True, resolve=virtual_names, per_host=args.per_host
    )
    scheduler = DeliveryScheduler(
        client,
        urls=Urls(BASE_URL),
        clock=SystemClock(),
        concurrency=args.concurrency,
        per_host=args.per_host,
    )
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu_start = time.process_time()
    print(f"DELIVERING {time.time()}", flush=True)
    if profiler is not None:
        profiler.enable()
    handled = 0

    async def stopper() -> None:
        await stop.wait()
        scheduler.stop()

    watcher = asyncio.create_task(stopper())
    descriptors = 0

    async def count_descriptors() -> None:
        nonlocal descriptors
        while True:
            descriptors = max(descriptors, len(os.listdir("/proc/self/fd")))
            await asyncio.sleep(0.2)

    counter = asyncio.create_task(count_descriptors())
    while not stop.is_set():
        handled += await scheduler.drain(pool)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    await watcher
    counter.cancel()
    cpu = time.process_time() - cpu_start
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile_top)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile_top)
    await client.aclose()
    await pool.close()
    report = {
        "cpu": cpu,
        "claimed": handled,
        "rss_peak_mib": _rss_peak_mib(),
        "descriptors_peak": descriptors,
    }
    print("REPORT " + json.dumps(report), flush=True)


# ---------------------------------------------------------------------------------------------
# The parent: set-up, measure, report


async def set_up(pool: Any, args: argparse.Namespace, domains: list[Domain], port: int,
                 refused_port: int) -> tuple[int, dict[str, int], float]:  # fmt: skip
    """Insert the sender and its followers, publish one note; return (rows, expected POSTs per
    healthy domain, seconds publish took)."""
    from fedicity.activitypub.accessors import host_of
    from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
    from fedicity.actors import service as actor_service
    from fedicity.actors.outbox import Audience, publish
    from fedicity.clock import SystemClock
    from fedicity.urls import Urls, new_token

    urls = Urls(BASE_URL)
    clock = SystemClock()
    followers_of: dict[int, list[int]] = {index: [] for index in range(len(domains))}
    for follower in range(args.followers):
        followers_of[follower % len(domains)].append(follower)
    uris, hosts, inboxes, shared = [], [], [], []
    expected: dict[str, int] = {}
    for index, domain in enumerate(domains):
        domain_port = refused_port if domain.kind == "refused" else port
        base = f"http://{domain.name}:{domain_port}"
        for follower in followers_of[index]:
            uri = f"{base}/users/u{follower}"
            uris.append(uri)
            hosts.append(host_of(uri))
            inboxes.append(uri + "/inbox")
            shared.append(base + "/inbox" if domain.shared_inbox else None)
        if domain.kind == "ok" and followers_of[index]:
            expected[domain.name] = len(inbox_urls(domain, followers_of[index], port))
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        sender = await actor_service.create_person(conn, SENDER, keygen=FixedKeys())
        await conn.execute(
            """INSERT INTO remote_actors (uri, domain, type, username, inbox, shared_inbox,
                                          key_id, raw, fetched_at)
               SELECT t.uri, t.host, 'Person', 'u', t.inbox, t.shared, t.uri || '#main-key',
                      jsonb_build_object('id', t.uri), $5
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                      AS t(uri, host, inbox, shared)""",
            uris,
            hosts,
            inboxes,
            shared,
            now,
        )
        await conn.execute(
            """INSERT INTO follows (follower, followee, state, created_at, accepted_at)
               SELECT f, $2, 'accepted', $3, $3 FROM unnest($1::text[]) AS f""",
            uris,
            urls.actor(SENDER),
            now,
        )
    token = new_token()
    note = {
        "id": urls.note(token),
        "type": "Note",
        "attributedTo": urls.actor(SENDER),
        "content": "<p>The market square is closed on Saturday for the bike festival.</p>",
        "published": now.replace(microsecond=0).isoformat(),
        "to": [PUBLIC],
        "cc": [urls.actor_followers(SENDER)],
    }
    activity = {
        "@context": AS_CONTEXT,
        "id": urls.activity(token),
        "type": "Create",
        "actor": urls.actor(SENDER),
        "to": [PUBLIC],
        "cc": [urls.actor_followers(SENDER)],
        "object": note,
    }
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await publish(
            conn,
            actor=sender,
            activity=activity,
            audience=Audience(followers=True),
            urls=urls,
            clock=clock,
        )
    published = time.perf_counter() - started
    async with pool.acquire() as conn:
        rows: int = await conn.fetchval("SELECT count(*) FROM deliveries")
    return rows, expected, published


def raw_sign_ms(count: int) -> float:
    """CPU milliseconds of one RSA-2048 PKCS#1 v1.5 SHA-256 signature of 300 bytes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from fedicity.activitypub.keys import load_private_key

    key = load_private_key(fixed_keypairs()[0].private_pem)
    data = b"x" * 300
    cpu = time.process_time()
    for index in range(count):
        key.sign(data[:-8] + index.to_bytes(8, "big"), padding.PKCS1v15(), hashes.SHA256())
    return (time.process_time() - cpu) * 1000 / count


async def stats(port: int) -> dict[str, Any]:
    """The simulator's counts."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /_stats HTTP/1.1\r\nHost: stats\r\nConnection: close\r\n\r\n")
    await writer.drain()
    raw = await reader.read()
    writer.close()
    result: dict[str, Any] = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    return result


async def run(args: argparse.Namespace) -> None:
    from fedicity.db.pool import create_pool

    tmp = Path(tempfile.mkdtemp(prefix="fedicity-bench-fanout-"))
    print(f"fedicity fan-out benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {CAVEAT}")
    print(
        f"followers={args.followers} domains={args.domains} dead={args.dead} slow={args.slow} "
        f"slow_latency={args.slow_latency}s median_latency={args.median_latency}s "
        f"personal={args.personal} concurrency={args.concurrency} per_host={args.per_host} "
        f"seed={args.seed}"
    )
    domains = plan(args)
    port, refused_port = free_port(), free_port()
    children = []
    try:
        key_file = tmp / "sender.pub.pem"
        key_file.write_text(fixed_keypairs()[0].public_pem)
        common = [
            "--domains", str(args.domains), "--dead", str(args.dead), "--slow", str(args.slow),
            "--slow-latency", str(args.slow_latency), "--median-latency",
            str(args.median_latency), "--personal", str(args.personal), "--seed", str(args.seed),
            "--port", str(port),
        ]  # fmt: skip
        simulator = spawn(
            "simulator",
            [str(BIN / "python"), "-m", "bench.fanout_scale", "--simulate", *common,
             "--public-key", str(key_file), "--verify-every", str(args.verify_every)],
            env=bench_env(),
            log=tmp / "simulator.log",
        )  # fmt: skip
        children.append(simulator)
        await wait_for_log(simulator, "SIMULATING")
        async with fresh_database(tmp / "pg") as db:
            pool = await create_pool(db.dsn)
            try:
                rows, expected, published = await set_up(pool, args, domains, port, refused_port)
                heading(
                    f"1 Create(Note) to {args.followers:,} followers on {args.domains:,} domains"
                )
                figure("delivery rows (distinct inboxes)", rows)
                figure("publish (fan-out to rows, one transaction)", published * 1000, "ms")
                raw_first = raw_sign_ms(200)
                postgres = PostgresCpu(db.pgdata) if db.pgdata is not None else None
                pg_before = postgres() if postgres else 0.0
                profile = ["--profile", "--profile-top", str(args.profile_top)] * args.profile

                async def start_deliverer(name: str) -> tuple[Child, float]:
                    child = spawn(
                        name,
                        [str(BIN / "python"), "-m", "bench.fanout_scale", "--deliver", *common,
                         "--dsn", db.dsn, "--concurrency", str(args.concurrency),
                         "--per-host", str(args.per_host), *profile],
                        env=bench_env(),
                        log=tmp / f"{name}.log",
                    )  # fmt: skip
                    children.append(child)
                    await wait_for_log(child, "DELIVERING ")
                    line = next(
                        ln for ln in child.log.read_text().splitlines()
                        if ln.startswith("DELIVERING ")
                    )  # fmt: skip
                    return child, float(line.split()[1])

                deliverer, started = await start_deliverer("deliverer")
                killed: tuple[float, int] | None = None
                healthy = set(expected)
                served_at: float | None = None
                while time.time() - started < args.timeout:
                    seen = (await stats(port))["posts"]
                    if all(seen.get(name, 0) >= n for name, n in expected.items()):
                        served_at = time.time()
                        break
                    if deliverer.proc.poll() is not None:
                        raise SystemExit(f"the deliverer died:\n{deliverer.tail()}")
                    if (
                        killed is None
                        and args.kill_after
                        and time.time() - started >= args.kill_after
                    ):
                        # kill -9 mid-run: its leased rows are stranded until their lease ends.
                        deliverer.proc.kill()
                        deliverer.proc.wait()
                        served_then = sum(1 for name in expected if seen.get(name, 0))
                        killed = (time.time(), served_then)
                        deliverer, _restarted = await start_deliverer("deliverer-2")
                    await asyncio.sleep(0.1)
                final = await stats(port)
                deliverer.stop()
                pg_cpu = (postgres() - pg_before) if postgres else float("nan")
                report_line = next(
                    (ln for ln in deliverer.log.read_text().splitlines()
                     if ln.startswith("REPORT ")), None,
                )  # fmt: skip
                if report_line is None:
                    raise SystemExit(f"the deliverer reported nothing:\n{deliverer.tail()}")
                report = json.loads(report_line.removeprefix("REPORT "))
                raw_ms = (raw_first + raw_sign_ms(200)) / 2
                async with pool.acquire() as conn:
                    states = await conn.fetch(
                        "SELECT state, attempts > 0 AS tried, count(*) AS n FROM deliveries "
                        "GROUP BY 1, 2 ORDER BY 1, 2"
                    )
                    retries = await conn.fetchval(
                        "SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts > 0"
                    )
                    errors = await conn.fetch(
                        "SELECT last_error, count(*) AS n FROM deliveries "
                        "WHERE state <> 'delivered' AND last_error IS NOT NULL "
                        "GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
                    )
            finally:
                await pool.close()
        posts = final["posts"]
        total_posts = sum(posts.values())
        wall = (served_at or time.time()) - started
        heading("Delivery")
        if served_at is None:
            figure("healthy domains served", len(healthy & posts.keys()), "", "TIMED OUT")
        if killed is not None:
            kill_time, served_then = killed
            figure("killed (kill -9) after", kill_time - started, "s", f"{served_then:,} served")
            figure(
                "from the kill to every healthy domain served",
                (served_at or time.time()) - kill_time,
                "s",
                "a new deliverer started at once; stranded rows wait out their lease",
            )
        figure(
            "time until every healthy domain has it (target < 60)",
            wall,
            "s",
            f"{len(healthy):,} healthy domains",
        )
        figure("POSTs answered", total_posts)
        figure("POSTs/s", total_posts / wall, "/s")
        per_post = report["cpu"] * 1000 / total_posts if total_posts else float("nan")
        figure(
            "delivering process CPU per POST",
            per_post,
            "ms",
            "whole run, incl. retries" if killed is None else "2nd process / all POSTs: partial",
        )
        if postgres:
            figure("PostgreSQL CPU per POST", pg_cpu * 1000 / max(total_posts, 1), "ms")
        figure("raw RSA-2048 sign CPU (same run)", raw_ms, "ms")
        figure("share of the RSA signing bound", raw_ms / per_post * 100, "%", "signing / all")
        figure("peak RSS of the delivering process (target < 300)", report["rss_peak_mib"], "MiB")
        figure("peak open descriptors of the delivering process", report["descriptors_peak"])
        figure("rows claimed (incl. retries)", report["claimed"])
        figure("retries scheduled (pending, tried)", retries)
        for row in states:
            figure(f"rows {row['state']}{', tried' if row['tried'] else ''}", row["n"])
        for row in errors:
            print(f"  ! {row['n']} not delivered: {row['last_error'][:100]}")
        wrong = {
            name: posts.get(name, 0) for name, n in expected.items() if posts.get(name, 0) != n
        }
        strays = sorted(set(posts) - healthy)
        twice = sum(1 for name, n in expected.items() if posts.get(name, 0) > n)
        exactly = "yes" if not wrong and not strays else f"NO: {len(wrong)} wrong, {strays[:3]}"
        if killed is not None:
            # At least once: a POST in flight when the process died may have arrived.
            exactly += f"; {twice} got it twice after the kill"
        figure(
            "healthy domains with exactly their POSTs",
            len(healthy) - len(wrong),
            "",
            f"every one: {exactly}",
        )
        if args.profile:
            heading("cProfile of the delivering process (CPU clock)")
            log = deliverer.log.read_text().splitlines()
            print("\n".join(ln for ln in log if not ln.startswith(("REPORT", "DELIVERING"))))
        sigs = final["signatures"]
        figure(
            "signatures verified by the simulator",
            sigs.get("verified", 0),
            "",
            f"{sigs.get('failed', 0)} bad" if sigs.get("failed") else "all good",
        )
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fan-out of one post to many remote domains.")
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=5_000)
    parser.add_argument("--dead", type=float, default=0.01, help="share of dead domains (0.01)")
    parser.add_argument("--slow", type=float, default=0.1, help="share of slow domains (0.1)")
    parser.add_argument("--slow-latency", type=float, default=1.0, help="seconds (1.0)")
    parser.add_argument("--median-latency", type=float, default=0.15, help="seconds (0.15)")
    parser.add_argument(
        "--personal", type=float, default=0.0, help="share of domains without a shared inbox"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="POSTs in flight (64)")
    parser.add_argument("--per-host", type=int, default=4, help="POSTs in flight per host (4)")
    parser.add_argument("--verify-every", type=int, default=50, help="0: verify none")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the delivering process (CPU clock; its profile is printed at the end)",
    )
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument(
        "--kill-after",
        type=float,
        default=0.0,
        help="kill -9 the delivering process after this many seconds and start another",
    )
    # The child processes' roles.
    parser.add_argument("--simulate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deliver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--public-key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.followers, args.domains, args.concurrency, args.per_host) < 1:
        parser.error("--followers, --domains, --concurrency and --per-host must be positive")
    if not all(0 <= share <= 1 for share in (args.dead, args.slow, args.personal)):
        parser.error("--dead, --slow and --personal are shares between 0 and 1")
    if args.simulate:
        asyncio.run(simulate(args))
    elif args.deliver:
        asyncio.run(deliver(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
