"""Inbox benchmark: signed Create(Note) deliveries into `fedicity web`, then `fedicity worker`.

Run from the repository root (about a minute with the defaults):

    .venv/bin/python -m bench.inbox
    .venv/bin/python -m bench.inbox --n 4000 --actors 50 --hosts 5 --concurrency 32
    .venv/bin/python -m bench.inbox --n 500 --profile /tmp/fedicity-prof   # cProfile (slower)

Everything runs on 127.0.0.1, with real HTTP and a real PostgreSQL:

- PostgreSQL: an embedded server in a temporary directory (fedicity.db.embedded), or a fresh
  database on FEDICITY_DATABASE_URL's server when that is set; migrated, with one citizen who
  follows every simulated remote actor (or, with --addressing mention, is mentioned instead).
- Remote actors: --actors actors spread over --hosts tiny HTTP servers in this process (one port
  each, so each is its own domain), serving actor documents whose publicKey is one of the
  committed test keys (tests/fixtures/keys).
- `fedicity web` and, later, `fedicity worker` in their own processes, whose CPU time is read
  from /proc (psutil) before and after each phase; the PostgreSQL server's CPU too when it is
  the embedded one. A trivial Quart app (bench/trivial_app.py) on uvicorn, as fedicity serves by
  default, and another on Hypercorn, each in its own process, get the same requests at the same
  client concurrency as floors to compare with.
- With --baseline-command (another checkout's `fedicity`, e.g. main before a change), its
  `fedicity web` runs too, on its own database on the same PostgreSQL server, migrated by that
  command (so its schema is its own), and takes its turns in every web phase: before and after in
  the same run.

Phases: actor-document GETs (fedicity and the trivial app taking turns); cold deliveries
(--cold-burst per remote actor, sent together while its key is unknown, so each may fetch it);
warm deliveries (--n, every key cached, taking turns with the same POSTs at the trivial app);
then the worker processes every stored activity (rows are held back until it is idle, so its
start-up is not counted). Requests are signed before the clock starts, so the client mostly
spends its CPU on HTTP. Figures are printed, never asserted: the machine is shared and noisy, so
compare the ratios printed within one run. docs/benchmarks.md has measured figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
    BIN,
    CAVEAT,
    Child,
    Database,
    FixedKeys,
    Meter,
    MiniHttpServer,
    PostgresCpu,
    Sample,
    bench_env,
    figure,
    fixed_keypairs,
    free_port,
    fresh_database,
    heading,
    self_cpu,
    spawn,
    wait_for_log,
    wait_listening,
    with_database,
)
from fedicity.accounts import service as accounts
from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import load_private_key
from fedicity.activitypub.vocab import ACTIVITY_JSON, AS_CONTEXT, PUBLIC
from fedicity.db.pool import connect
from fedicity.follows import queries as follow_queries

CITIZEN = "citizen"
# accept: web + PostgreSQL CPU per signed POST; actor: web CPU per GET; process: worker CPU.
TARGETS_MS = {"accept": 1.5, "process": 5.0, "actor": 0.5}

Request = tuple[str, Mapping[str, str], bytes | None]


# ---------------------------------------------------------------------------------------------
# Simulated remote servers


@dataclass(frozen=True)
class RemoteActor:
    """A simulated remote actor: its id, its signing key and the document its host serves."""

    uri: str
    name: str
    key: SigningKey
    public_pem: str

    @property
    def key_id(self) -> str:
        """Mastodon-style keyId: the actor id with #main-key."""
        return self.uri + "#main-key"

    def document(self, shared_inbox: str) -> dict[str, Any]:
        """The actor document, as Mastodon would serve it."""
        return {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "summary": "<p>A simulated remote actor.</p>",
            "inbox": self.uri + "/inbox",
            "outbox": self.uri + "/outbox",
            "followers": self.uri + "/followers",
            "following": self.uri + "/following",
            "endpoints": {"sharedInbox": shared_inbox},
            "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": self.public_pem},
        }


class RemoteHost:
    """A remote server on its own port (so its own domain): serves actor documents, counts GETs."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.gets = 0
        self.server = MiniHttpServer(self._handle)

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "GET":
            self.gets += 1
            document = self.documents.get(target.split("?", 1)[0])
            if document is not None:
                return 200, {"Content-Type": ACTIVITY_JSON}, document
        elif method == "POST":
            return 202, {}, b""
        return 404, {}, b""


async def start_remote_actors(
    hosts: int, actors: int
) -> tuple[list[RemoteHost], list[RemoteActor]]:
    """Start the hosts and spread `actors` actors over them; keys cycle over the fixtures."""
    servers = [RemoteHost() for _ in range(hosts)]
    for host in servers:
        await host.server.start()
    pairs = fixed_keypairs()
    made = []
    for index in range(actors):
        host = servers[index % hosts]
        pair = pairs[index % len(pairs)]
        name = f"remote{index}"
        uri = f"{host.server.base}/users/{name}"
        actor = RemoteActor(
            uri=uri,
            name=name,
            key=SigningKey(uri + "#main-key", load_private_key(pair.private_pem)),
            public_pem=pair.public_pem,
        )
        host.documents[f"/users/{name}"] = json.dumps(
            actor.document(host.server.base + "/inbox")
        ).encode()
        made.append(actor)
    return servers, made


# ---------------------------------------------------------------------------------------------
# Activities and requests


def iso(moment: datetime) -> str:
    """xsd:dateTime with a Z."""
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def create_note(actor: RemoteActor, index: int, citizen: str, addressing: str) -> dict[str, Any]:
    """A Create(Note) shaped like Mastodon's, with a hashtag (and a mention if asked)."""
    note_id = f"{actor.uri}/statuses/{index}"
    followers = actor.uri + "/followers"
    hashtag_href = actor.uri.rsplit("/users/", 1)[0] + "/tags/city"
    tags: list[dict[str, str]] = [{"type": "Hashtag", "href": hashtag_href, "name": "#city"}]
    mention_html = ""
    cc = [followers]
    if addressing == "mention":
        cc.append(citizen)
        tags.append({"type": "Mention", "href": citizen, "name": f"@{CITIZEN}"})
        mention_html = (
            f'<span class="h-card"><a href="{citizen}" class="u-url mention">'
            f"@<span>{CITIZEN}</span></a></span> "
        )
    content = (
        f"<p>{mention_html}Note {index} from {actor.name}: the market square is closed on "
        "Saturday for the bike festival; the 4 and 12 buses take the river road instead. "
        f'<a href="{hashtag_href}" class="mention hashtag" rel="tag">#<span>city</span></a></p>'
    )
    published = iso(datetime.now(UTC))
    note = {
        "id": note_id,
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": published,
        "url": note_id,
        "attributedTo": actor.uri,
        "to": [PUBLIC],
        "cc": cc,
        "sensitive": False,
        "content": content,
        "contentMap": {"en": content},
        "attachment": [],
        "tag": tags,
        "replies": note_id + "/replies",
    }
    return {
        "@context": [AS_CONTEXT, {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"}],
        "id": note_id + "/activity",
        "type": "Create",
        "actor": actor.uri,
        "published": published,
        "to": [PUBLIC],
        "cc": cc,
        "object": note,
    }


def signed_post(url: str, actor: RemoteActor, activity: Mapping[str, Any]) -> Request:
    """A POST signed the way Mastodon signs deliveries (draft-cavage, rsa-sha256, Digest)."""
    body = json.dumps(activity).encode()
    headers = {
        "Content-Type": ACTIVITY_JSON,
        "Accept": ACTIVITY_JSON,
        "User-Agent": "fedicity-bench/1 (+http://127.0.0.1)",
    }
    headers.update(sign_cavage("POST", url, headers, body, actor.key, datetime.now(UTC)))
    return url, headers, body


def retarget(requests: Sequence[Request], url: str) -> list[Request]:
    """The same requests sent to another URL (the trivial app does not check signatures)."""
    return [(url, headers, body) for _url, headers, body in requests]


@dataclass
class Fired:
    """What came back from a batch of requests."""

    statuses: Counter[int]
    errors: list[str]

    def add(self, other: Fired) -> None:
        """Fold in another batch's answers."""
        self.statuses.update(other.statuses)
        self.errors.extend(other.errors)

    def count(self, status: int) -> int:
        """How many answers had this status."""
        return self.statuses[status]

    def summary(self) -> str:
        """Statuses and a sample of error bodies."""
        text = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return text + "".join(f"\n    e.g. {error}" for error in self.errors[:3])


async def fire(client: httpx.AsyncClient, requests: Sequence[Request], concurrency: int) -> Fired:
    """Send the requests with `concurrency` in flight (POST with a body, else GET)."""
    fired = Fired(Counter(), [])
    pending = iter(requests)

    async def lane() -> None:
        for url, headers, body in pending:
            try:
                if body is None:
                    response = await client.get(url, headers=headers)
                else:
                    response = await client.post(url, headers=headers, content=body)
            except httpx.HTTPError as error:
                fired.statuses[0] += 1
                fired.errors.append(f"{type(error).__name__}: {error}")
                continue
            fired.statuses[response.status_code] += 1
            if response.status_code >= 300 and len(fired.errors) < 10:
                fired.errors.append(f"{response.status_code} {response.text[:200]}")

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return fired


# ---------------------------------------------------------------------------------------------
# The run


def fedicity_argv(command: str, args: argparse.Namespace) -> list[str]:
    """`fedicity web|worker` (or --fedicity-command's), under cProfile when profiling."""
    if args.profile is not None:
        out = str(args.profile / f"{command}.prof")
        return [str(BIN / "python"), "-m", "bench.profiled", out, command]
    return [*shlex.split(args.fedicity_command), command]


async def set_up(db: Database, base: str, actors: Sequence[RemoteActor], addressing: str) -> str:
    """Create the citizen (and its follows); return its URI."""
    conn = await connect(db.dsn)
    try:
        await accounts.register(
            conn,
            username=CITIZEN,
            password=secrets.token_urlsafe(16),
            keygen=FixedKeys(),
            display_name="Citizen",
        )
        citizen = f"{base}/actors/{CITIZEN}"
        if addressing == "follow":
            for actor in actors:
                await follow_queries.upsert_follow(
                    conn,
                    follower=citizen,
                    followee=actor.uri,
                    activity_uri=None,
                    accepted=True,
                    now=datetime.now(UTC),
                )
        return citizen
    finally:
        await conn.close()


def verdict(measured: float, target: float) -> str:
    """'met' or 'NOT met' against a ms target."""
    return f"target <= {target} ms: {'met' if measured <= target else 'NOT met'}"


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fedicity-bench-inbox-"))
    profile: Path | None = args.profile
    children: list[Child] = []
    hosts: list[RemoteHost] = []
    print(f"fedicity inbox benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {CAVEAT}")
    print(
        f"n={args.n} actors={args.actors} hosts={args.hosts} concurrency={args.concurrency} "
        f"gets={args.gets} addressing={args.addressing} inbox={args.inbox}"
        + ("  [cProfile on: CPU figures are inflated]" if profile else "")
    )
    print(f"fedicity: {describe_command(args.fedicity_command)}")
    if args.baseline_command:
        print(f"baseline: {describe_command(args.baseline_command)}")
    try:
        async with (
            fresh_database(tmp / "pg") as db,
            baseline_database(db, args.baseline_command, tmp) as baseline_dsn,
        ):
            try:
                await measure_all(db, baseline_dsn, tmp, args, children, hosts)
            finally:
                for child in children:
                    child.stop()
                for host in hosts:
                    await host.server.close()
        if profile is not None:
            for name in ("web", "worker"):
                show_profile(profile / f"{name}.prof", name, args.profile_top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def describe_command(command: str) -> str:
    """Where the fedicity a command runs comes from, and that checkout's commit: so a
    before/after run shows it really ran two versions."""
    argv = shlex.split(command)
    executable = shutil.which(argv[0]) or argv[0]
    python = executable
    with contextlib.suppress(OSError), open(executable, "rb") as script:
        first = script.readline()
        if first.startswith(b"#!"):
            python = first[2:].decode().split()[0]
    # -I, from elsewhere: the current directory (this checkout) must not shadow what it imports.
    found = subprocess.run(
        [
            python,
            "-I",
            "-c",
            "import fedicity, pathlib; print(pathlib.Path(fedicity.__file__).parents[1])",
        ],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    where = found.stdout.strip() or f"? ({found.stderr.strip()[-200:]})"
    commit = subprocess.run(
        ["git", "-C", where, "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{where} at {commit[:70]}" + (" (+ uncommitted changes)" if changed else "")


@contextlib.asynccontextmanager
async def baseline_database(
    db: Database, command: str | None, tmp: Path
) -> AsyncIterator[str | None]:
    """A database for the baseline beside the benchmark's, on the same server, migrated by the
    baseline's own command (its schema is its own); None without a baseline."""
    if command is None:
        yield None
        return
    name = f"fedicity_bench_baseline_{os.getpid()}"
    admin = await asyncpg.connect(with_database(db.dsn, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = with_database(db.dsn, name)
        migrated = await asyncio.to_thread(
            subprocess.run,
            [*shlex.split(command), "migrate"],
            env=bench_env(
                FEDICITY_DATABASE_URL=dsn,
                FEDICITY_DATA_DIR=str(tmp / "data-baseline"),
                FEDICITY_SECRET_KEY=secrets.token_urlsafe(32),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            raise SystemExit(f"the baseline could not migrate its database:\n{migrated.stderr}")
        try:
            yield dsn
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def schema_version(dsn: str) -> str:
    """How many migrations a database has, and the last one."""
    conn = await connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, max(version) AS last FROM schema_migrations"
        )
    finally:
        await conn.close()
    assert row is not None
    return f"{row['n']} migrations, the last {row['last']:04d}"


@dataclass(frozen=True)
class Side:
    """One server the same requests take turns at: its name, the CPU source that measures it,
    its base URL and the trivial app served the same way (for fedicity's servers)."""

    label: str
    source: str
    base: str
    reference: str = ""


@dataclass(frozen=True)
class Instance:
    """A fedicity web process under measure, with the requests signed for its URL."""

    side: Side
    cold: list[Request]
    warm: list[Request]


def signed_requests(
    base: str, citizen: str, actors: Sequence[RemoteActor], args: argparse.Namespace
) -> tuple[list[Request], list[Request]]:
    """The cold and warm deliveries, signed for the inbox at `base`."""
    inbox_url = base + ("/inbox" if args.inbox == "shared" else f"/actors/{CITIZEN}/inbox")
    # The first --cold-burst deliveries of each actor go out together: each may fetch the key.
    cold = [
        signed_post(inbox_url, actor, create_note(actor, index, citizen, args.addressing))
        for actor in actors
        for index in range(args.cold_burst)
    ]
    warm = []
    for index in range(args.n):
        actor = actors[index % len(actors)]
        note = create_note(actor, args.cold_burst + index // len(actors), citizen, args.addressing)
        warm.append(signed_post(inbox_url, actor, note))
    return cold, warm


async def measure_all(
    db: Database,
    baseline_dsn: str | None,
    tmp: Path,
    args: argparse.Namespace,
    children: list[Child],
    hosts: list[RemoteHost],
) -> None:
    """Start everything (children and hosts go in the lists, for the caller to stop); measure."""
    started, actors = await start_remote_actors(args.hosts, args.actors)
    hosts.extend(started)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    citizen = await set_up(db, base, actors, args.addressing)
    env = bench_env(
        FEDICITY_DATABASE_URL=db.dsn,
        FEDICITY_BASE_URL=base,
        FEDICITY_ALLOW_PRIVATE_ADDRESSES="true",
        FEDICITY_DATA_DIR=str(tmp / "data"),
        FEDICITY_SECRET_KEY=secrets.token_urlsafe(32),
        # A benchmark is a flood from a few domains on purpose: measure the inbox, not its rate.
        FEDICITY_INBOX_RATE_PER_DOMAIN="1000000",
    )
    web = spawn("fedicity web", fedicity_argv("web", args), env=env, log=tmp / "web.log")
    children.append(web)
    sources = {"web": web.cpu, "client": self_cpu}
    trivials: list[Side] = []
    for server, source in (("uvicorn", "trivial"), ("hypercorn", "trivial_hypercorn")):
        trivial_port = free_port()
        trivial = spawn(
            f"trivial app ({server})",
            [
                str(BIN / "python"),
                "-m",
                "bench.trivial_app",
                "--port",
                str(trivial_port),
                "--server",
                server,
            ],
            env=env,
            log=tmp / f"{source}.log",
        )
        children.append(trivial)
        await wait_listening(trivial_port, trivial)
        sources[source] = trivial.cpu
        trivials.append(
            Side(f"trivial Quart app, {server}", source, f"http://127.0.0.1:{trivial_port}")
        )
    await wait_listening(port, web)
    print(f"  fedicity's database: {await schema_version(db.dsn)}")
    cold, warm = signed_requests(base, citizen, actors, args)
    instances = [Instance(Side("fedicity", "web", base, trivials[0].label), cold, warm)]
    if baseline_dsn is not None:
        baseline_port = free_port()
        baseline_base = f"http://127.0.0.1:{baseline_port}"
        baseline_citizen = await set_up(
            Database(baseline_dsn, None), baseline_base, actors, args.addressing
        )
        baseline_env = {
            **env,
            "FEDICITY_DATABASE_URL": baseline_dsn,
            "FEDICITY_BASE_URL": baseline_base,
            "FEDICITY_DATA_DIR": str(tmp / "data-baseline"),
        }
        baseline = spawn(
            "baseline web",
            [*shlex.split(args.baseline_command), "web"],
            env=baseline_env,
            log=tmp / "baseline-web.log",
        )
        children.append(baseline)
        await wait_listening(baseline_port, baseline)
        sources["baseline"] = baseline.cpu
        print(f"  baseline's database: {await schema_version(baseline_dsn)}")
        cold, warm = signed_requests(baseline_base, baseline_citizen, actors, args)
        # The baseline predates uvicorn: Hypercorn is its floor.
        side = Side("baseline", "baseline", baseline_base, trivials[1].label)
        instances.append(Instance(side, cold, warm))
    if db.pgdata is not None:
        sources["postgres"] = PostgresCpu(db.pgdata)
    meter = Meter(sources)

    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(limits=limits, timeout=60.0, trust_env=False) as client:
        await actor_documents(client, meter, instances, trivials, args)
        await deliveries(client, meter, instances, trivials, hosts, args)
    await worker_phase(
        db, env, meter, tmp, args, children, len(instances[0].cold) + len(instances[0].warm)
    )
    for child in children:
        child.stop()  # so the profiles are written before they are read


async def compare(
    client: httpx.AsyncClient,
    meter: Meter,
    sides: Sequence[Sequence[Request]],
    args: argparse.Namespace,
) -> list[tuple[Fired, Sample]]:
    """Send each side's requests in --rounds chunks, taking the sides in turn within each round,
    so a change in the machine's load during the run weighs on every side alike."""
    results = [(Fired(Counter(), []), Sample()) for _ in sides]
    rounds = max(1, min(args.rounds, *(len(requests) for requests in sides)))
    for index in range(rounds):
        for (fired, total), requests in zip(results, sides, strict=True):
            chunk = requests[
                index * len(requests) // rounds : (index + 1) * len(requests) // rounds
            ]
            with meter.measure() as sample:
                fired.add(await fire(client, chunk, args.concurrency))
            total.add(sample)
    return results


@dataclass(frozen=True)
class Measured:
    """What one side did in a phase: its answers of the expected status, wall and CPU."""

    side: Side
    ok: int
    sample: Sample
    fired: Fired

    def ms(self, source: str | None = None) -> float:
        """CPU ms per answer of `source` (the side's own process by default)."""
        return self.sample.ms_per(source or self.side.source, self.ok)

    def rate(self) -> float:
        """Answers per second of wall."""
        return self.ok / self.sample.wall if self.sample.wall else float("nan")


def report(
    measured: Sequence[Measured], noun: str, target_key: str, *, with_postgres_target: bool
) -> None:
    """Each side's figures, its ratio to its floor, and after/before when there is a baseline."""
    by_label = {entry.side.label: entry for entry in measured}
    for entry in measured:
        label = entry.side.label
        figure(f"{label}: {noun}/s", entry.rate(), "/s", entry.fired.summary())
        figure(f"{label}: server CPU per {noun}", entry.ms(), "ms")
        if not entry.side.reference:
            continue
        total = entry.ms()
        if "postgres" in entry.sample.cpu:
            figure(f"{label}: PostgreSQL CPU per {noun}", entry.ms("postgres"), "ms")
            total += entry.ms("postgres")
            figure(f"{label}: server + PostgreSQL CPU", total, "ms")
        judged = total if with_postgres_target else entry.ms()
        print(f"    {verdict(judged, TARGETS_MS[target_key])}")
        floor = by_label[entry.side.reference]
        figure(f"  ratio to the {floor.side.label}, CPU", entry.ms() / floor.ms(), "x")
        figure(f"  ratio to the {floor.side.label}, rate", entry.rate() / floor.rate(), "x")
    if "baseline" in by_label:
        after, before = by_label["fedicity"], by_label["baseline"]
        figure("after/before: server CPU", after.ms() / before.ms(), "x")
        if "postgres" in after.sample.cpu and before.ms("postgres") > 0:
            figure(
                "after/before: PostgreSQL CPU", after.ms("postgres") / before.ms("postgres"), "x"
            )
            figure(
                "after/before: server + PostgreSQL CPU",
                (after.ms() + after.ms("postgres")) / (before.ms() + before.ms("postgres")),
                "x",
            )
        figure("after/before: rate", after.rate() / before.rate(), "x")


async def actor_documents(
    client: httpx.AsyncClient,
    meter: Meter,
    instances: Sequence[Instance],
    trivials: Sequence[Side],
    args: argparse.Namespace,
) -> None:
    heading(f"Actor document: GET /actors/{CITIZEN} (Accept: {ACTIVITY_JSON}), {args.gets} each")
    headers = {"Accept": ACTIVITY_JSON}
    sides = [instance.side for instance in instances] + list(trivials)
    requests: list[list[Request]] = [
        [(f"{side.base}/actors/{CITIZEN}", headers, None)] * args.gets for side in sides
    ]
    warm_up = await fire(client, [r for side in requests for r in side[:50]], 4)
    if warm_up.count(200) != 50 * len(sides):
        raise SystemExit(f"actor document warm-up failed: {warm_up.summary()}")
    results = await compare(client, meter, requests, args)
    report(
        [
            Measured(side, got.count(200), sample, got)
            for side, (got, sample) in zip(sides, results, strict=True)
        ],
        "GET",
        "actor",
        with_postgres_target=False,
    )


async def deliveries(
    client: httpx.AsyncClient,
    meter: Meter,
    instances: Sequence[Instance],
    trivials: Sequence[Side],
    hosts: Sequence[RemoteHost],
    args: argparse.Namespace,
) -> None:
    for instance in instances:
        cold = instance.cold
        label = instance.side.label
        heading(
            f"Cold deliveries to {label}: the first {args.cold_burst} signed Create(Note) of "
            f"each of {len(cold) // args.cold_burst} remote actors (unknown keys: fetched)"
        )
        gets_before = sum(host.gets for host in hosts)
        with meter.measure() as first:
            got = await fire(client, cold, args.concurrency)
        accepted = got.count(202)
        figure("accepted", accepted, "", got.summary())
        fetches = sum(host.gets for host in hosts) - gets_before
        actors = len(cold) // args.cold_burst
        figure("key fetches served by the remote hosts", fetches, "", f"{actors} actors")
        figure("accepted/s (cold)", accepted / first.wall, "/s")
        figure(
            "web CPU per accepted activity (cold)",
            first.ms_per(instance.side.source, accepted),
            "ms",
        )

    warm = instances[0].warm
    heading(
        f"Warm deliveries: {len(warm)} signed Create(Note), every key cached; the same POSTs at "
        f"the trivial apps (202, no checks, no database), taking turns in {args.rounds} rounds"
    )
    sides = [instance.side for instance in instances] + list(trivials)
    requests = [instance.warm for instance in instances] + [
        retarget(warm, side.base + "/inbox") for side in trivials
    ]
    results = await compare(client, meter, requests, args)
    measured = [
        Measured(side, got.count(202), sample, got)
        for side, (got, sample) in zip(sides, results, strict=True)
    ]
    for entry in measured:
        if entry.ok != len(warm):
            print(f"  ! {entry.side.label}: not all accepted: {entry.fired.summary()}")
    report(measured, "POST", "accept", with_postgres_target=True)
    for entry in measured:
        figure(f"{entry.side.label}: client CPU per POST", entry.ms("client"), "ms")


async def worker_phase(
    db: Database,
    env: Mapping[str, str],
    meter: Meter,
    tmp: Path,
    args: argparse.Namespace,
    children: list[Child],
    expected: int,
) -> None:
    heading("Worker: `fedicity worker` processes the stored activities")
    conn = await connect(db.dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM inbox_items")
        # Hold the rows back while the worker starts, so start-up is not counted as processing.
        await conn.execute(
            "UPDATE inbox_items SET next_attempt_at = now() + interval '1 hour' "
            "WHERE state = 'pending'"
        )
        worker = spawn(
            "fedicity worker", fedicity_argv("worker", args), env=env, log=tmp / "worker.log"
        )
        children.append(worker)
        await wait_for_log(worker, "worker running")
        await asyncio.sleep(1.0)
        meter.sources["worker"] = worker.cpu
        with meter.measure() as idle:
            await asyncio.sleep(2.0)
        with meter.measure() as sample:
            await conn.execute(
                "UPDATE inbox_items SET next_attempt_at = now() WHERE state = 'pending'"
            )
            while await conn.fetchval("SELECT count(*) FROM inbox_items WHERE state = 'pending'"):
                if worker.proc.poll() is not None:
                    raise SystemExit(f"the worker died:\n{worker.tail()}")
                await asyncio.sleep(0.05)
        rows = await conn.fetch(
            "SELECT state, count(*) AS n FROM inbox_items GROUP BY 1 ORDER BY 1"
        )
        states: dict[str, int] = {row["state"]: row["n"] for row in rows}
        posts = await conn.fetchval("SELECT count(*) FROM posts")
        errors = await conn.fetch(
            "SELECT state, last_error, count(*) AS n FROM inbox_items WHERE state <> 'done' "
            "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 3"
        )
    finally:
        await conn.close()
    processed = sum(states.values())
    rate = processed / sample.wall
    per_item = sample.ms_per("worker", processed)
    figure("stored inbox items", stored, "", f"expected {expected}")
    figure("processed/s", rate, "/s", ", ".join(f"{k}: {v}" for k, v in states.items()))
    figure(
        "worker CPU per processed activity",
        per_item,
        "ms",
        verdict(per_item, TARGETS_MS["process"]),
    )
    if "postgres" in sample.cpu:
        figure("PostgreSQL CPU per processed activity", sample.ms_per("postgres", processed), "ms")
    figure("worker CPU utilisation", sample.cpu["worker"] / sample.wall * 100, "% of one core")
    figure("worker idle CPU (polling; 10 ms ticks)", idle.cpu["worker"] * 1000 / idle.wall, "ms/s")
    figure("posts stored", posts)
    for row in errors:
        print(f"  ! {row['n']} {row['state']}: {row['last_error']}")


def show_profile(path: Path, name: str, top: int) -> None:
    if not path.exists():
        print(f"\n(no profile written for {name} at {path})")
        return
    heading(f"cProfile of fedicity {name}: top {top} by own time ({path})")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    heading(f"cProfile of fedicity {name}: top {top} by cumulative time")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark fedicity's inbox: accept (web) and process (worker) signed notes."
    )
    parser.add_argument("--n", type=int, default=2000, help="warm deliveries (default 2000)")
    parser.add_argument("--actors", type=int, default=20, help="remote actors (default 20)")
    parser.add_argument("--hosts", type=int, default=4, help="remote hosts/domains (default 4)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument("--gets", type=int, default=2000, help="actor document GETs (2000)")
    parser.add_argument(
        "--addressing",
        choices=("follow", "mention"),
        default="follow",
        help="follow: the citizen follows the authors of public notes (default); "
        "mention: public notes that mention the citizen",
    )
    parser.add_argument("--inbox", choices=("shared", "personal"), default="shared")
    parser.add_argument(
        "--cold-burst",
        type=int,
        default=1,
        help="first deliveries per actor sent together while its key is unknown (default 1)",
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternations between fedicity and the trivial app"
    )
    parser.add_argument(
        "--fedicity-command",
        default=str(BIN / "fedicity"),
        help="the command that runs fedicity (default: .venv/bin/fedicity), e.g. another "
        "checkout's, to compare two versions",
    )
    parser.add_argument(
        "--baseline-command",
        help="another checkout's fedicity (e.g. main before a change): its web takes turns with "
        "this one in every web phase, on its own database that it migrates itself",
    )
    parser.add_argument(
        "--profile", type=Path, help="run web and worker under cProfile (CPU clock), into DIR"
    )
    parser.add_argument("--profile-top", type=int, default=30)
    args = parser.parse_args()
    if min(args.n, args.actors, args.hosts, args.concurrency, args.gets, args.cold_burst) < 1:
        parser.error("--n, --actors, --hosts, --concurrency, --gets, --cold-burst must be positive")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
