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
from fedicity.actors.models import Actor
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
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


async def follow_and_wait(follower: Instance, actor: Actor, target: str) -> None:
    """`actor` of the `follower` instance follows `target` (fetched first), until it is accepted."""
    assert not isinstance(await follower.federation.directory.actor(target), str)
    async with follower.pool.acquire() as conn:
        await follows.follow(
            conn, actor=actor, target=target, urls=follower.urls, clock=follower.clock
        )

    async def accepted() -> bool:
        async with follower.pool.acquire() as conn:
            found = await follow_queries.select_follow(
                conn, follower.urls.actor(actor.username), target
            )
        return found is not None and found.state == "accepted"

    await eventually(accepted, within=20)


@dataclass(frozen=True)
class Aggregation:
    """A région instance aggregating a commune instance: who follows whom."""

    montreuil: Territory
    montreuil_actor: Actor
    montreuil_uri: str
    ile_de_france: Territory
    region_actor: Actor


async def region_follows_commune(
    commune: Instance, region: Instance, keygen: KeyGenerator
) -> Aggregation:
    """The région instance's territory actor (Île-de-France) follows the commune instance's
    @montreuil, accepted: how a région's instance aggregates what its communes' announce."""
    async with commune.pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert montreuil is not None
        montreuil_actor = await territory_service.territory_actor(conn, montreuil, keygen=keygen)
    async with region.pool.acquire() as conn:
        ile_de_france = await territory_queries.select_territory(conn, "region", "11")
        assert ile_de_france is not None
        region_actor = await territory_service.territory_actor(conn, ile_de_france, keygen=keygen)
    montreuil_uri = commune.urls.actor(montreuil_actor.username)
    await follow_and_wait(region, region_actor, montreuil_uri)
    return Aggregation(montreuil, montreuil_actor, montreuil_uri, ile_de_france, region_actor)
