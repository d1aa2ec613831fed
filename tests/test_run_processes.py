"""`fedicity run`'s processes: the web in the command's own process, the worker as a child
`fedicity worker` on the same database (started again when it dies, stopped with the parent),
or everything in one process; uvicorn by default, Hypercorn on request."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
import psutil

from tests.flows.harness import free_port

FEDICITY = Path(sys.executable).with_name("fedicity")


def _read(log: Path) -> str:
    return log.read_text()


def _start(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(FEDICITY), "run"], env=env, stdout=log, stderr=log)


def _env(database_dsn: str, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEDICITY_")}
    env.update(
        FEDICITY_DATABASE_URL=database_dsn,
        FEDICITY_DATA_DIR=str(tmp_path / "data"),
        FEDICITY_BASE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    return env


async def _serving(port: int, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert process.poll() is None, _read(log)
            try:
                return await client.get(f"http://127.0.0.1:{port}/nodeinfo/2.1", timeout=2)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing served on {port}: {_read(log)}")


def _endless_header(port: int) -> bytes:
    """The status line answered to a header that keeps growing (1 MiB sent at most)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /nodeinfo/2.1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
        # Refused while sending, as it should be: the answer is already here to read.
        with contextlib.suppress(ConnectionError):
            for _ in range(16):
                sock.sendall(b"a" * 65536)
        return sock.recv(12)


def _workers(parent: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent).children()
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if "worker" in _cmdline(child)]


def _cmdline(process: psutil.Process) -> list[str]:
    # A killed child is a zombie (or gone) until its parent reaps it: no command line, no worker.
    try:
        return process.cmdline()
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return []


async def _one_worker(parent: int, *, other_than: int | None = None) -> psutil.Process:
    for _ in range(300):
        found = [child for child in _workers(parent) if child.pid != other_than]
        if found:
            assert len(found) == 1
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no worker child")


async def _gone(process: psutil.Process, seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_run_restarts_a_dead_worker_child_and_stops_both(
    database_dsn: str, tmp_path: Path
) -> None:
    # Given `fedicity run` on a configured database
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = _start(_env(database_dsn, tmp_path, port), out)
        try:
            assert (await _serving(port, run, log)).status_code == 200
            # (uvicorn serves it, and refuses a request head that never ends)
            assert await asyncio.to_thread(_endless_header, port) == b"HTTP/1.1 431"
            # Then its worker is a child process on the same database
            first = await _one_worker(run.pid)
            assert "--with-parent" in first.cmdline()
            assert first.environ()["FEDICITY_DATABASE_URL"] == database_dsn
            # When the worker dies
            first.kill()
            # Then another takes its place, and the web kept serving
            second = await _one_worker(run.pid, other_than=first.pid)
            assert (await _serving(port, run, log)).status_code == 200
            # When run gets Ctrl-C, both stop cleanly
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=40) == 0
        finally:
            if run.poll() is None:
                run.kill()
    assert await _gone(second, 10)
    text = _read(log)
    assert f"worker process {first.pid} exited with status -9" in text
    assert "Traceback" not in text


async def test_a_worker_child_stops_when_its_parent_is_killed(
    database_dsn: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = _start(_env(database_dsn, tmp_path, port), out)
        try:
            await _serving(port, run, log)
            worker = await _one_worker(run.pid)
            # When the parent is killed, which leaves it no chance to stop its child
            run.kill()
            run.wait(timeout=10)
            # Then the child sees its pipe close and stops on its own
            assert await _gone(worker, 30), _read(log)
        finally:
            if run.poll() is None:
                run.kill()
    assert "the parent process is gone: stopping" in _read(log)


async def test_run_in_one_process_on_hypercorn(database_dsn: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    env = _env(
        database_dsn, tmp_path, port, FEDICITY_SERVER="hypercorn", FEDICITY_RUN_WORKER="inline"
    )
    with log.open("wb") as out:
        run = _start(env, out)
        try:
            answer = await _serving(port, run, log)
            assert answer.status_code == 200
            # Everything in one process: no child, and the loops run here
            assert _workers(run.pid) == []
            for _ in range(100):
                if "worker running" in _read(log):
                    break
                await asyncio.sleep(0.1)
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=40) == 0
        finally:
            if run.poll() is None:
                run.kill()
    text = _read(log)
    assert "worker running" in text
    assert "hypercorn" in text
    assert "uvicorn" not in text.lower().replace("hypercorn", "")
