"""`fedicity web` and `fedicity worker` as real processes: each serves its own /metrics (the
worker on FEDICITY_WORKER_METRICS_PORT), and FEDICITY_LOG_FORMAT=json makes every log line one
JSON object."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fedicity.db.pool import Pool
from tests.flows.harness import free_port

FEDICITY = Path(sys.executable).with_name("fedicity")


def _start(command: str, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(FEDICITY), command], env=env, stdout=log, stderr=log)


async def _metrics(url: str, process: subprocess.Popen[bytes]) -> str:
    """The exposition at `url`, once the process serves it."""
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert process.poll() is None, f"{process.args!r} stopped"
            try:
                response = await client.get(url, timeout=2)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            assert response.status_code == 200, response.text
            return response.text
    raise AssertionError(f"nothing served {url}")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


async def test_web_and_worker_each_serve_metrics_and_log_json(
    pool: Pool, database_dsn: str, tmp_path: Path
) -> None:
    web_port, worker_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEDICITY_")}
    env.update(
        FEDICITY_DATABASE_URL=database_dsn,
        FEDICITY_DATA_DIR=str(tmp_path / "data"),
        FEDICITY_BASE_URL=f"http://127.0.0.1:{web_port}",
        FEDICITY_LOG_FORMAT="json",
        FEDICITY_WORKER_METRICS_PORT=str(worker_port),
    )
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    with web_log.open("wb") as web_out, worker_log.open("wb") as worker_out:
        web = _start("web", env, web_out)
        worker = _start("worker", env, worker_out)
        try:
            web_text = await _metrics(f"http://127.0.0.1:{web_port}/metrics", web)
            worker_url = f"http://127.0.0.1:{worker_port}/metrics"
            worker_text = await _metrics(worker_url, worker)
            # The worker's loops have run a step by now, and its endpoint says so
            for _ in range(100):
                worker_samples = _samples(worker_text)
                if worker_samples.get(
                    ("fedicity_worker_loop_step_seconds_count", (("loop", "delivery"),)), 0
                ):
                    break
                await asyncio.sleep(0.1)
                worker_text = await _metrics(worker_url, worker)
            else:
                raise AssertionError("the worker's loop timings never moved")
            web_samples = _samples(web_text)
            # and a refused delivery is logged with its reason code
            async with httpx.AsyncClient() as client:
                refused = await client.post(
                    f"http://127.0.0.1:{web_port}/inbox",
                    content=b"{}",
                    headers={"Content-Type": "application/activity+json"},
                )
            assert refused.status_code == 400
        finally:
            codes = (_stop(web), _stop(worker))
    assert codes == (0, 0)
    # Each endpoint has the database's figures; the loops' timings are the worker's alone
    for samples in (web_samples, worker_samples):
        assert samples[("fedicity_database_up", ())] == 1
        assert ("fedicity_queue_lag_seconds", (("queue", "delivery"),)) in samples
    assert not any(
        name == "fedicity_worker_loop_step_seconds_count" and value
        for (name, _labels), value in web_samples.items()
    )
    # Every line the web process wrote about its requests is one JSON object with its fields
    lines = [json.loads(line) for line in web_log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "fedicity.web.access"]
    assert access, web_log.read_text()
    assert {"time", "level", "logger", "message"} <= access[0].keys()
    assert (access[0]["route"], access[0]["status"], access[0]["method"]) == (
        "/metrics",
        200,
        "GET",
    )
    inbox = [line for line in access if line["route"] == "/inbox"]
    assert [(line["status"], line["reason"]) for line in inbox] == [(400, "no_type")]
    worker_lines = [line for line in worker_log.read_text().splitlines() if line.startswith("{")]
    assert any("worker running" in json.loads(line)["message"] for line in worker_lines)
