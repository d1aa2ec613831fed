"""Shared pieces of the benchmarks: a fresh database, CPU meters, child processes, fixed keys and a
tiny keep-alive HTTP/1.1 server for the simulated remote hosts.

Not a benchmark itself: run `python -m bench.inbox` or `python -m bench.delivery` from the
repository root (see their docstrings and docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil  # type: ignore[import-untyped]

from fedicity.activitypub.keys import KeyPair, load_private_key, public_pem_of
from fedicity.db import embedded
from fedicity.db.migrate import migrate
from fedicity.db.pool import connect

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
KEYS_DIR = ROOT / "tests" / "fixtures" / "keys"
DATABASE = "fedicity_bench"
CAVEAT = "figures vary on this shared 2-core machine; compare ratios within one run"


# ---------------------------------------------------------------------------------------------
# Keys


def fixed_keypairs() -> list[KeyPair]:
    """The committed test-only RSA-2048 keys (tests/fixtures/keys), as key pairs."""
    pairs = []
    for path in sorted(KEYS_DIR.glob("rsa_*.pem")):
        private_pem = path.read_text()
        pairs.append(
            KeyPair(private_pem, public_pem_of(load_private_key(private_pem).public_key()))
        )
    if not pairs:
        raise SystemExit(f"no test keys in {KEYS_DIR}")
    return pairs


class FixedKeys:
    """A KeyGenerator that hands out the committed keys in turn, so set-up generates no key."""

    def __init__(self, pairs: Sequence[KeyPair] | None = None) -> None:
        self._cycle = itertools.cycle(pairs or fixed_keypairs())

    def __call__(self) -> KeyPair:
        return next(self._cycle)


# ---------------------------------------------------------------------------------------------
# Database


@dataclass(frozen=True)
class Database:
    """A fresh, migrated database; `pgdata` is set when the server is ours (its CPU is measured)."""

    dsn: str
    pgdata: Path | None


def with_database(dsn: str, database: str) -> str:
    """Swap the database name in a postgresql:// DSN (which may carry ?host=/socket/dir)."""
    head, sep, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}{sep}{query}"


async def _migrate(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_database(tmp: Path, name: str = DATABASE) -> AsyncIterator[Database]:
    """A new migrated database: on FEDICITY_DATABASE_URL's server if set, else an embedded one."""
    external = os.environ.get("FEDICITY_DATABASE_URL")
    if external:
        unique = f"{name}_{os.getpid()}"
        admin = await asyncpg.connect(external)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{unique}"')
            dsn = with_database(external, unique)
            await _migrate(dsn)
            try:
                yield Database(dsn, None)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')
        finally:
            await admin.close()
        return
    server = await asyncio.to_thread(embedded.start, tmp, name)
    try:
        await _migrate(server.dsn)
        yield Database(server.dsn, server.pgdata)
    finally:
        await asyncio.to_thread(server.stop)


# ---------------------------------------------------------------------------------------------
# CPU and wall time


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a live process has used."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class PostgresCpu:
    """CPU seconds of a PostgreSQL server: postmaster, live backends, and reaped ones."""

    def __init__(self, pgdata: Path) -> None:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        self.postmaster = psutil.Process(pid)

    def __call__(self) -> float:
        times = self.postmaster.cpu_times()
        # Backends that exited are folded into the postmaster's children_* when reaped.
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.postmaster.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        return float(total)


@dataclass
class Sample:
    """Wall seconds and CPU seconds per source over one measured block."""

    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, other: Sample) -> None:
        """Accumulate another block's figures (for measurements taken in alternating rounds)."""
        self.wall += other.wall
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    def ms_per(self, source: str, count: int) -> float:
        """CPU milliseconds of `source` per unit of work (nan when nothing was done)."""
        return self.cpu[source] * 1000 / count if count else float("nan")


class Meter:
    """Measures wall time and the CPU time of several sources (processes) around a block."""

    def __init__(self, sources: Mapping[str, Callable[[], float]]) -> None:
        self.sources = dict(sources)

    def _read(self) -> dict[str, float]:
        return {name: read() for name, read in self.sources.items()}

    @contextlib.contextmanager
    def measure(self) -> Iterator[Sample]:
        """Fill the yielded Sample with the block's wall time and each source's CPU time."""
        sample = Sample()
        before, start = self._read(), time.perf_counter()
        try:
            yield sample
        finally:
            sample.wall = time.perf_counter() - start
            after = self._read()
            sample.cpu = {name: after[name] - before[name] for name in after}


def self_cpu() -> float:
    """CPU seconds of this process."""
    return process_cpu(os.getpid())


# ---------------------------------------------------------------------------------------------
# Child processes


@dataclass
class Child:
    """A process the benchmark started, with its output in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def cpu(self) -> float:
        """CPU seconds used so far."""
        return process_cpu(self.proc.pid)

    def tail(self, lines: int = 20) -> str:
        """The end of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (fedicity stops gracefully on it), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path) -> Child:
    """Start a process in the repository root with its output going to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv), cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    return Child(name, proc, log)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_listening(port: int, child: Child, within: float = 60.0) -> None:
    """Wait until something accepts connections on the port; fail if the child died."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise SystemExit(f"{child.name} exited ({child.proc.returncode}):\n{child.tail()}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise SystemExit(f"{child.name} does not listen on {port}:\n{child.tail()}")


async def wait_for_log(child: Child, text: str, within: float = 60.0) -> None:
    """Wait until the child's log contains `text`; fail if it died."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise SystemExit(f"{child.name} exited ({child.proc.returncode}):\n{child.tail()}")
        if text in child.log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"{child.name} never logged {text!r}:\n{child.tail()}")


def bench_env(**values: str) -> dict[str, str]:
    """os.environ without FEDICITY_* (and proxies), plus `values`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FEDICITY_") and "proxy" not in key.lower()
    }
    env.update(values)
    return env


# ---------------------------------------------------------------------------------------------
# A tiny HTTP/1.1 server (keep-alive, Content-Length bodies): the simulated remote hosts


Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
_REASONS = {200: "OK", 202: "Accepted", 404: "Not Found", 400: "Bad Request", 401: "Unauthorized"}


class MiniHttpServer:
    """Serves `handler(method, target, headers, body) -> (status, headers, body)` on 127.0.0.1."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        """Listen (on an ephemeral port by default)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, out_headers, out_body = self.handler(method, target, headers, body)
                close = headers.get("connection", "").lower() == "close"
                head_lines = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                    f"Content-Length: {len(out_body)}",
                    "Connection: close" if close else "Connection: keep-alive",
                    *(f"{name}: {value}" for name, value in out_headers.items()),
                ]
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + out_body)
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


# ---------------------------------------------------------------------------------------------
# Output


def heading(text: str) -> None:
    """A section title."""
    print(f"\n== {text}", flush=True)


def figure(label: str, value: float, unit: str = "", note: str = "") -> None:
    """One aligned figure line."""
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    tail = f"  ({note})" if note else ""
    print(f"  {label:<46} {shown:>10} {unit}{tail}", flush=True)
