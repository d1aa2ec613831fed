"""Real instances on loopback for end-to-end federation tests: Hypercorn, workers, real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from fedicity.activitypub.keys import KeyGenerator
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import create_app
from fedicity.workers.federation import Federation, start_federation
from fedicity.workers.loops import default_loops, run_worker


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Instance:
    """A running fedicity instance: its URLs, database pool and federation services."""

    settings: Settings
    urls: Urls
    pool: Pool
    app: Quart
    federation: Federation
    clock: Clock
    stop: asyncio.Event
    worker_stop: asyncio.Event

    @property
    def base(self) -> str:
        """The instance's base URL."""
        return self.settings.base_url


async def wait_listening(port: int) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    for _ in range(200):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.asynccontextmanager
async def running_instance(
    pool: Pool,
    data_dir: Path,
    keygen: KeyGenerator,
    *,
    worker: bool = True,
    port: int | None = None,
    clock: Clock | None = None,
    **overrides: object,
) -> AsyncIterator[Instance]:
    """Serve an instance on 127.0.0.1 with its workers until the block ends."""
    chosen = port or free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{chosen}",
        listen=f"127.0.0.1:{chosen}",
        data_dir=data_dir,
        secret_key="flow-test-secret-key-long-enough",
        allow_private_addresses=True,
        **overrides,  # type: ignore[arg-type]
    )
    used_clock = clock or SystemClock()
    federation = await start_federation(pool, settings, clock=used_clock, keygen=keygen)
    await prepare_serving(pool, settings)
    app = create_app(settings, pool=pool, clock=used_clock, keygen=keygen, federation=federation)
    config = Config()
    config.bind = [settings.listen]
    config.accesslog = None
    stop = asyncio.Event()
    worker_stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    tasks = [server]
    instance = Instance(
        settings, Urls(settings.base_url), pool, app, federation, used_clock, stop, worker_stop
    )
    if worker:
        loops = default_loops(federation, instance.urls, used_clock)
        tasks.append(asyncio.create_task(run_worker(pool, worker_stop, loops)))
    try:
        await wait_listening(chosen)
        yield instance
    finally:
        worker_stop.set()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await federation.close()


async def eventually(check: object, *, within: float = 10.0, interval: float = 0.05) -> None:
    """Wait until the async predicate `check()` returns true, or fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if await check():  # type: ignore[operator]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
