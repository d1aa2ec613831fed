"""`fedicity run` on the embedded PostgreSQL: serves, stops it on Ctrl-C, keeps the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.flows.harness import free_port

FEDICITY = Path(sys.executable).with_name("fedicity")


def _postgres_running(pgdata: Path) -> bool:
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.info.get("name") == "postgres" and str(pgdata) in " ".join(cmdline):
            return True
    return False


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEDICITY_")}
    env.update(
        FEDICITY_DATA_DIR=str(data_dir),
        FEDICITY_BASE_URL=f"http://127.0.0.1:{port}",
    )
    return subprocess.Popen(
        [str(FEDICITY), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_serving(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, process.stdout.read() if process.stdout else b""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/nodeinfo/2.1", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("fedicity run did not start serving")


def _create_user(data_dir: Path, port: int) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEDICITY_")}
    env.update(FEDICITY_DATA_DIR=str(data_dir), FEDICITY_BASE_URL=f"http://127.0.0.1:{port}")
    subprocess.run(
        [str(FEDICITY), "user", "create", "camille", "--password", "long enough pw"],
        env=env,
        check=True,
        capture_output=True,
    )


def test_run_stops_postgres_on_ctrl_c_and_keeps_the_data(tmp_path: Path) -> None:
    # Given an instance started with no database URL, on an empty data directory
    port = free_port()
    data_dir = tmp_path / "data"
    pgdata = (data_dir / "postgres").resolve()
    _create_user(data_dir, port)
    first = _start(data_dir, port)
    try:
        _wait_serving(port, first)
        assert _postgres_running(pgdata)
        actor = httpx.get(
            f"http://127.0.0.1:{port}/actors/camille",
            headers={"Accept": "application/activity+json"},
        )
        assert actor.status_code == 200
        # When it gets Ctrl-C
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    # Then the embedded PostgreSQL is stopped with it
    deadline = time.monotonic() + 10
    while _postgres_running(pgdata) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _postgres_running(pgdata)
    # And a new start finds the same data
    second = _start(data_dir, port)
    try:
        _wait_serving(port, second)
        again = httpx.get(
            f"http://127.0.0.1:{port}/actors/camille",
            headers={"Accept": "application/activity+json"},
        )
        assert again.status_code == 200
        assert again.json()["publicKey"] == actor.json()["publicKey"]
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
