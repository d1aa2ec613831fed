"""Recovery benchmark: a worker killed with SIGKILL mid-batch, then PostgreSQL restarted twice.

Run from the repository root (about a minute, plus the delivery lease when deliveries strand):

    .venv/bin/python -m bench.recovery
    .venv/bin/python -m bench.recovery --notes 300 --deliveries 200 --outages 0.3,3 --keep

Everything runs on 127.0.0.1 with real HTTP and a real PostgreSQL of its own (embedded, in a
temporary directory: the benchmark stops and starts it, so FEDICITY_DATABASE_URL is refused):

- remote actors on --hosts tiny HTTP servers in this process (bench/inbox.py's), whom one
  citizen follows; --deliveries remote actors whose inboxes are bench/sink.py's hosts, to whom
  one Create(Note) is published (bench/delivery.py's set-up): one delivery row each;
- `fedicity web` and `fedicity worker` in their own processes, as in production.

Phase 1, kill -9: --notes signed Create(Note) are accepted by the web while no worker runs;
then a worker starts and is killed with SIGKILL once --kill-after notes or half the deliveries
are done. A new worker starts at once. Printed: rows the dead worker held (stranded), the time
from the kill until they and then every row are done, rows lost (must be 0), and rows recorded
or delivered twice. The delivery rows' leases are whatever fedicity/workers/delivery.py does on
this branch.

Phase 1b, clean stop: the same with SIGTERM while --burst notes are processed: the rows the
worker had not started are given back at once, so the next worker need not wait for a lease.

Phase 2, for each --outages duration: a backlog of --burst notes is being processed and notes
keep arriving (--feed-concurrency in flight) when PostgreSQL is stopped (pg_ctl -m fast), left
down that long, and started again. Printed: the answers the senders got (503 with Retry-After,
anything else), the log lines each process wrote meanwhile (tracebacks apart), the time from
PostgreSQL's return until the worker records a row again and until the backlog is done, and the
rows lost once every refused note is delivered again (as Mastodon does on a 503).

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import (
    BIN,
    CAVEAT,
    Child,
    Database,
    bench_env,
    figure,
    fixed_keypairs,
    free_port,
    fresh_database,
    heading,
    spawn,
    wait_for_log,
    wait_listening,
)
from bench.delivery import SENDER, SinkHosts, start_sinks
from bench.delivery import set_up as set_up_deliveries
from bench.inbox import (
    RemoteActor,
    RemoteHost,
    Request,
    create_note,
    fire,
    set_up,
    signed_post,
    start_remote_actors,
)
from fedicity.db.pool import Pool, connect, create_pool
from fedicity.urls import Urls

# The inbox's problem for an outage (fedicity/web/errors.py).
RETRY_AFTER = "Retry-After"


# ---------------------------------------------------------------------------------------------
# PostgreSQL, stopped and started as an administrator would


@dataclass
class Postgres:
    """The embedded server's data directory, and how to stop and start it with pg_ctl."""

    pgdata: Path
    sockets: str = ""

    def _pg_ctl(self, *args: str) -> None:
        import importlib.util

        spec = importlib.util.find_spec("pgserver")
        assert spec is not None
        assert spec.origin is not None
        pg_ctl = Path(spec.origin).parent / "pginstall" / "bin" / "pg_ctl"
        # pgserver runs the server as its own user when we are root (PostgreSQL refuses root).
        user = "pgserver" if os.geteuid() == 0 else None
        subprocess.run(
            [str(pg_ctl), "-D", str(self.pgdata), "-w", *args],
            check=True,
            capture_output=True,
            user=user,
            timeout=120,
        )

    def stop_if_running(self) -> None:
        """Stop a server the benchmark started again itself: the embedded server's own clean-up
        knows only the process it started, and would leave this one running."""
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "stop")

    def stop(self) -> None:
        """Fast shutdown: sessions are ended, as on a restart."""
        self.sockets = (self.pgdata / "postmaster.pid").read_text().splitlines()[4]
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Start again on the same socket; returns once it accepts connections."""
        log = str(self.pgdata / "log")
        self._pg_ctl("-l", log, "-o", '-h ""', "-o", f"-k {self.sockets}", "start")


# ---------------------------------------------------------------------------------------------
# Notes to send


@dataclass
class Notes:
    """Signed Create(Note) deliveries to the shared inbox, new ids each time."""

    inbox: str
    actors: Sequence[RemoteActor]
    citizen: str
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    def make(self, count: int) -> list[Request]:
        """`count` new signed POSTs, spread over the actors."""
        made = []
        for _ in range(count):
            number = next(self.numbers)
            actor = self.actors[number % len(self.actors)]
            note = create_note(actor, number, self.citizen, "follow")
            made.append(signed_post(self.inbox, actor, note))
        return made


async def deliver_all(
    client: httpx.AsyncClient, requests: Sequence[Request], concurrency: int
) -> Counter[int]:
    """Send until every request is accepted (202), as a remote server retries a 503; return
    the statuses of every try."""
    statuses: Counter[int] = Counter()
    waiting = list(requests)
    while waiting:
        fired = await fire(client, waiting, concurrency)
        statuses.update(fired.statuses)
        if fired.count(202) == len(waiting):
            break
        # fire() does not say which failed: send them all again; the inbox acknowledges a
        # duplicate id with a 202 and stores it once.
        await asyncio.sleep(0.5)
    return statuses


# ---------------------------------------------------------------------------------------------
# Database reads (the benchmark's own connection)


async def fetch_int(dsn: str, query: str, *args: object) -> int:
    """One integer from a fresh connection (the pool may be mid-outage)."""
    conn = await connect(dsn)
    try:
        value = await conn.fetchval(query, *args)
    finally:
        await conn.close()
    return int(value or 0)


INBOX_LEFT = "SELECT count(*) FROM inbox_items WHERE state = 'pending'"
DELIVERIES_LEFT = "SELECT count(*) FROM deliveries WHERE state = 'pending'"
HELD = "WHERE state = 'pending' AND locked_until > now()"


async def held_ids(dsn: str, table: str) -> list[int]:
    """The pending rows some worker holds a lease on."""
    conn = await connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT id FROM {table} {HELD}")  # noqa: S608 -- our names
    finally:
        await conn.close()
    return [row["id"] for row in rows]


async def left_of(dsn: str, table: str, ids: Sequence[int]) -> int:
    """How many of these rows are still pending."""
    return await fetch_int(
        dsn,
        f"SELECT count(*) FROM {table} WHERE id = ANY($1::bigint[]) AND state = 'pending'",  # noqa: S608
        list(ids),
    )


async def wait_until(
    check: Callable[[], Awaitable[bool]], within: float, started: float
) -> float | None:
    """Seconds from `started` until `check()` is true, or None after `within` seconds."""
    while time.monotonic() - started < within:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


def shown(seconds: float | None, within: float) -> str:
    """A duration, or that it did not happen in time."""
    return f"{seconds:.2f} s" if seconds is not None else f"not within {within:.0f} s"


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Setting:
    """What both phases share."""

    args: argparse.Namespace
    tmp: Path
    dsn: str
    env: dict[str, str]
    web: Child
    notes: Notes
    sinks: SinkHosts
    client: httpx.AsyncClient
    workers: list[Child] = field(default_factory=list)

    def start_worker(self, name: str) -> Child:
        """`fedicity worker` in its own process."""
        argv = [str(BIN / "fedicity"), "worker"]
        worker = spawn(name, argv, env=self.env, log=self.tmp / f"{name}.log")
        self.workers.append(worker)
        return worker


async def kill_phase(setting: Setting, delivery_rows: int) -> Child:
    """Phase 1; returns the worker left running."""
    args, dsn = setting.args, setting.dsn
    heading(
        f"Phase 1: SIGKILL of `fedicity worker` mid-batch ({args.notes} inbound notes, "
        f"{delivery_rows} deliveries)"
    )
    statuses = await deliver_all(setting.client, setting.notes.make(args.notes), args.concurrency)
    figure("notes accepted by the web (202)", statuses[202], "", f"answers: {dict(statuses)}")
    first = setting.start_worker("worker-1")
    await wait_for_log(first, "worker running")

    async def far_enough() -> bool:
        # Mid-batch on both queues: deliveries to the loopback sinks go faster than notes.
        done = await fetch_int(dsn, "SELECT count(*) FROM inbox_items WHERE state <> 'pending'")
        sent = await fetch_int(dsn, "SELECT count(*) FROM deliveries WHERE state <> 'pending'")
        return done >= args.kill_after or sent >= delivery_rows // 2

    await wait_until(far_enough, 120.0, time.monotonic())
    first.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    first.proc.wait()
    inbound_done = await fetch_int(dsn, "SELECT count(*) FROM inbox_items WHERE state <> 'pending'")
    delivered = await fetch_int(dsn, "SELECT count(*) FROM deliveries WHERE state <> 'pending'")
    stranded_in = await held_ids(dsn, "inbox_items")
    stranded_out = await held_ids(dsn, "deliveries")
    second = setting.start_worker("worker-2")
    figure("inbound rows done when killed", inbound_done, "", f"of {args.notes}")
    figure("deliveries done when killed", delivered, "", f"of {delivery_rows}")
    figure("inbound rows the dead worker held (stranded)", len(stranded_in))
    figure("delivery rows the dead worker held (stranded)", len(stranded_out))

    within = args.recovery_timeout

    async def running() -> bool:
        return "worker running" in second.log.read_text(errors="replace")

    async def stranded_in_done() -> bool:
        return not await left_of(dsn, "inbox_items", stranded_in)

    async def inbox_done() -> bool:
        return not await fetch_int(dsn, INBOX_LEFT)

    async def stranded_out_done() -> bool:
        return not await left_of(dsn, "deliveries", stranded_out)

    async def deliveries_done() -> bool:
        return not await fetch_int(dsn, DELIVERIES_LEFT)

    print("  from the kill until:")
    for label, check in (
        ("the new worker runs (process start-up)", running),
        ("the stranded inbound rows are done", stranded_in_done),
        ("every inbound row is done", inbox_done),
        ("the stranded delivery rows are delivered", stranded_out_done),
        ("every delivery row is delivered", deliveries_done),
    ):
        print(f"    {label:<44} {shown(await wait_until(check, within, killed), within)}")
    await report_losses(setting, args.notes, delivery_rows)
    return second


async def stop_phase(setting: Setting, running: Child) -> Child:
    """Phase 1b: the same mid-batch, with SIGTERM (a clean stop); returns the next worker."""
    args, dsn = setting.args, setting.dsn
    heading(f"Phase 1b: SIGTERM of `fedicity worker` mid-batch ({args.burst} inbound notes)")
    before = await fetch_int(dsn, "SELECT count(*) FROM inbox_items")
    await deliver_all(setting.client, setting.notes.make(args.burst), args.concurrency)

    async def started() -> bool:
        done = await fetch_int(
            dsn, "SELECT count(*) FROM inbox_items WHERE state <> 'pending' AND id > $1", before
        )
        return done >= min(50, args.burst // 4)

    await wait_until(started, 60.0, time.monotonic())
    held = await held_ids(dsn, "inbox_items")
    running.proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    successor = setting.start_worker("worker-3")
    within = args.recovery_timeout

    async def exited() -> bool:
        return running.proc.poll() is not None

    async def held_done() -> bool:
        return not await left_of(dsn, "inbox_items", held)

    async def all_done() -> bool:
        return not await fetch_int(dsn, INBOX_LEFT)

    async def successor_runs() -> bool:
        return "worker running" in successor.log.read_text(errors="replace")

    exit_wait, held_wait, all_wait, start_wait = (
        asyncio.create_task(wait_until(check, within, stopped))
        for check in (exited, held_done, all_done, successor_runs)
    )
    figure("inbound rows the stopped worker held", len(held))
    print("  from the SIGTERM until:")
    for label, task in (
        ("the stopped worker exits", exit_wait),
        ("the next worker runs (process start-up)", start_wait),
        ("the rows it held are done", held_wait),
        ("every inbound row is done", all_wait),
    ):
        print(f"    {label:<44} {shown(await task, within)}")
    return successor


async def report_losses(setting: Setting, notes: int, delivery_rows: int) -> None:
    """Rows lost (not done, or never stored) and done twice, inbound and outbound."""
    conn = await connect(setting.dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM inbox_items")
        unfinished = await conn.fetchval(
            "SELECT count(*) FROM inbox_items WHERE state NOT IN ('done', 'ignored')"
        )
        twice = await conn.fetchval("SELECT count(*) FROM inbox_items WHERE attempts > 1")
        undelivered = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE state <> 'delivered'"
        )
    finally:
        await conn.close()
    posts = sum(stats["posts"] for stats in await setting.sinks.stats())
    lost_in = unfinished + max(0, notes - stored)
    figure("inbound lost (not done, or accepted and not stored)", lost_in, "", "must be 0")
    figure("inbound rows with more than one attempt recorded", twice)
    figure("deliveries lost (not delivered)", undelivered, "", "must be 0")
    figure("deliveries POSTed twice (sink POSTs - rows)", posts - delivery_rows)


@dataclass
class LogMark:
    """Where a process's log stood, to count what it writes afterwards."""

    child: Child
    offset: int

    @classmethod
    def now(cls, child: Child) -> LogMark:
        """The log's current end."""
        return cls(child, len(child.log.read_bytes()))

    def since(self) -> list[str]:
        """The lines written since."""
        return self.child.log.read_bytes()[self.offset :].decode(errors="replace").splitlines()


def log_figures(label: str, lines: Sequence[str]) -> None:
    """Lines written, by kind."""
    access = sum(" fedicity.web.access" in line for line in lines)
    tracebacks = sum(line.startswith("Traceback") for line in lines)
    notable = [
        line
        for line in lines
        if (" WARNING " in line or " ERROR " in line) and " fedicity.web.access" not in line
    ]
    figure(
        f"{label}: log lines written",
        len(lines),
        "",
        f"{access} access lines, {len(notable)} warnings/errors, {tracebacks} tracebacks",
    )
    for line in notable[:4]:
        print(f"      {line[:150]}")


async def outage_phase(setting: Setting, worker: Child, postgres: Postgres, down: float) -> None:
    """Phase 2 for one outage of about `down` seconds."""
    args, dsn = setting.args, setting.dsn
    heading(
        f"Phase 2: PostgreSQL stopped for ~{down:g} s under a running web and worker "
        f"(a backlog of {args.burst} notes, {args.feed_concurrency} senders)"
    )
    before = await fetch_int(dsn, "SELECT count(*) FROM inbox_items")
    backlog = setting.notes.make(args.burst)
    await deliver_all(setting.client, backlog, args.concurrency)

    async def started() -> bool:
        done = await fetch_int(
            dsn, "SELECT count(*) FROM inbox_items WHERE state <> 'pending' AND id > $1", before
        )
        return done >= min(50, args.burst // 4)

    await wait_until(started, 60.0, time.monotonic())
    sent: list[Request] = []
    answers: Counter[int] = Counter()
    retry_after: Counter[str] = Counter()
    feeding = asyncio.Event()

    async def sender() -> None:
        while not feeding.is_set():
            [request] = setting.notes.make(1)
            sent.append(request)
            url, headers, body = request
            try:
                response = await setting.client.post(url, headers=headers, content=body)
            except httpx.HTTPError:
                answers[0] += 1
                continue
            answers[response.status_code] += 1
            if response.status_code == 503:
                retry_after[response.headers.get(RETRY_AFTER, "none")] += 1

    senders = [asyncio.create_task(sender()) for _ in range(args.feed_concurrency)]
    await asyncio.sleep(0.5)
    marks = [LogMark.now(setting.web), LogMark.now(worker)]
    held_at_stop = await held_ids(dsn, "inbox_items")
    stopped = time.monotonic()
    await asyncio.to_thread(postgres.stop)
    await asyncio.sleep(down)
    await asyncio.to_thread(postgres.start)
    back = time.monotonic()
    back_at = datetime.now(UTC)
    within = args.recovery_timeout

    async def held_done() -> bool:
        return not await left_of(dsn, "inbox_items", held_at_stop)

    held_back = asyncio.create_task(wait_until(held_done, within, back))
    await asyncio.sleep(args.feed_after)
    feeding.set()
    await asyncio.gather(*senders)
    figure("PostgreSQL down (stop, wait, start)", back - stopped, "s")
    figure(
        "answers to the senders meanwhile",
        sum(answers.values()),
        "",
        ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(answers.items())),
    )
    figure(
        "  of which 503 with Retry-After",
        sum(n for value, n in retry_after.items() if value != "none"),
        "",
        f"Retry-After: {dict(retry_after)}",
    )
    await asyncio.sleep(1.0)  # the end-of-outage lines
    log_figures("web", marks[0].since())
    log_figures("worker", marks[1].since())

    async def first_after_return() -> float | None:
        conn = await connect(dsn)
        try:
            first = await conn.fetchval(
                "SELECT min(processed_at) FROM inbox_items WHERE processed_at >= $1", back_at
            )
        finally:
            await conn.close()
        return None if first is None else (first - back_at).total_seconds()

    async def backlog_done() -> bool:
        return not await fetch_int(dsn, INBOX_LEFT)

    resumed = await first_after_return()
    figure("inbound rows the worker held when it stopped", len(held_at_stop))
    print("  from PostgreSQL's return until:")
    print(f"    {'the worker records a row again':<44} {shown(resumed, within)}")
    print(f"    {'the rows held when it stopped are done':<44} {shown(await held_back, within)}")
    print(
        f"    {'every row is done (senders stop at +2 s)':<44} "
        f"{shown(await wait_until(backlog_done, within, back), within)}"
    )
    # The senders deliver again what was refused, as Mastodon does after a 503.
    resent = await deliver_all(setting.client, sent, args.concurrency)
    await wait_until(backlog_done, within, time.monotonic())
    accepted = len(backlog) + len(sent)
    stored = await fetch_int(dsn, "SELECT count(*) FROM inbox_items WHERE id > $1", before)
    unfinished = await fetch_int(
        dsn,
        "SELECT count(*) FROM inbox_items WHERE id > $1 AND state NOT IN ('done', 'ignored')",
        before,
    )
    figure("notes sent again after the outage (all 202 at last)", len(sent), "", str(dict(resent)))
    figure(
        "inbound lost (sent, never stored or not done)",
        unfinished + max(0, accepted - stored),
        "",
        "must be 0",
    )


async def run(args: argparse.Namespace) -> None:
    if os.environ.get("FEDICITY_DATABASE_URL"):
        raise SystemExit("bench.recovery stops and starts its own PostgreSQL: unset the URL")
    tmp = Path(tempfile.mkdtemp(prefix="fedicity-bench-recovery-"))
    hosts: list[RemoteHost] = []
    children: list[Child] = []
    print(f"fedicity recovery benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {CAVEAT}")
    print(
        f"notes={args.notes} deliveries={args.deliveries} kill_after={args.kill_after} "
        f"outages={args.outages} burst={args.burst}"
    )
    postgres: Postgres | None = None
    try:
        async with fresh_database(tmp / "pg") as db:
            assert db.pgdata is not None
            postgres = Postgres(db.pgdata)
            try:
                await run_phases(args, tmp, db.dsn, postgres, hosts, children)
            finally:
                for child in children:
                    child.stop()
                for host in hosts:
                    await host.server.close()
    finally:
        if postgres is not None:
            postgres.stop_if_running()
        if args.keep:
            print(f"\nlogs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def run_phases(
    args: argparse.Namespace,
    tmp: Path,
    dsn: str,
    postgres: Postgres,
    hosts: list[RemoteHost],
    children: list[Child],
) -> None:
    """Start the web, the remote servers and the sinks; run both phases."""
    started, actors = await start_remote_actors(args.hosts, args.actors)
    hosts.extend(started)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    citizen = await set_up_citizen(dsn, base, actors)
    urls = Urls(base)
    sinks = await start_sinks(
        tmp, args.sink_hosts, 0, fixed_keypairs()[0].public_pem, urls.actor_key(SENDER)
    )
    children.append(sinks.child)
    pool: Pool = await create_pool(dsn)
    try:
        delivery_rows = await set_up_deliveries(pool, urls, sinks.bases, args.deliveries, False)
    finally:
        await pool.close()
    env = bench_env(
        FEDICITY_DATABASE_URL=dsn,
        FEDICITY_BASE_URL=base,
        FEDICITY_ALLOW_PRIVATE_ADDRESSES="true",
        FEDICITY_DATA_DIR=str(tmp / "data"),
        FEDICITY_SECRET_KEY=secrets.token_urlsafe(32),
        FEDICITY_INBOX_RATE_PER_DOMAIN="1000000",
        FEDICITY_INBOX_PENDING_PER_DOMAIN="1000000",
    )
    web = spawn("fedicity web", [str(BIN / "fedicity"), "web"], env=env, log=tmp / "web.log")
    children.append(web)
    await wait_listening(port, web)
    limits = httpx.Limits(
        max_connections=args.concurrency + args.feed_concurrency,
        max_keepalive_connections=args.concurrency + args.feed_concurrency,
    )
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        setting = Setting(
            args, tmp, dsn, env, web, Notes(base + "/inbox", actors, citizen), sinks, client
        )
        try:
            worker = await stop_phase(setting, await kill_phase(setting, delivery_rows))
            for down in args.outages:
                await outage_phase(setting, worker, postgres, down)
        finally:
            children.extend(setting.workers)


async def set_up_citizen(dsn: str, base: str, actors: Sequence[RemoteActor]) -> str:
    """The citizen who follows every remote actor (bench/inbox.py's set-up)."""
    return await set_up(Database(dsn, None), base, actors, "follow")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark fedicity's recovery: a worker killed, PostgreSQL restarted."
    )
    parser.add_argument("--notes", type=int, default=1000, help="inbound notes (1000)")
    parser.add_argument("--deliveries", type=int, default=2000, help="delivery rows (2000)")
    parser.add_argument(
        "--kill-after", type=int, default=300, help="kill once this many notes are done (300)"
    )
    parser.add_argument(
        "--outages",
        type=lambda text: [float(part) for part in text.split(",") if part],
        default=[0.3, 15.0],
        help="PostgreSQL down times in seconds, comma-separated (0.3,15)",
    )
    parser.add_argument("--burst", type=int, default=300, help="backlog before an outage (300)")
    parser.add_argument("--feed-concurrency", type=int, default=4, help="senders during one (4)")
    parser.add_argument("--feed-after", type=float, default=2.0, help="senders go on for (2 s)")
    parser.add_argument("--actors", type=int, default=20, help="remote actors (20)")
    parser.add_argument("--hosts", type=int, default=4, help="remote hosts (4)")
    parser.add_argument("--sink-hosts", type=int, default=4, help="delivery sink hosts (4)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument(
        "--recovery-timeout", type=float, default=180.0, help="give up waiting after (180 s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args()
    if min(args.notes, args.actors, args.hosts, args.concurrency, args.burst) < 1:
        parser.error("--notes, --actors, --hosts, --concurrency, --burst must be positive")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
