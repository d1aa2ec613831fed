"""What every command runs in: the event loop (uvloop), the database (configured or embedded),
migrations, a pool or one connection, the stop signals, the HTTP server, `run`'s worker child, and
the one error a command reports as a line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from fedicity.db import embedded
from fedicity.db.migrate import migrate
from fedicity.db.pool import Connection, Pool, connect, create_pool
from fedicity.settings import Settings

if TYPE_CHECKING:
    # Quart is imported by the commands that serve: the others (user, policy, queue...) start
    # faster without it.
    import uvicorn
    from quart import Quart

_log = logging.getLogger("fedicity")
T = TypeVar("T")
# `fedicity run`'s worker child: restarted this long after it dies, the wait doubling up to the
# maximum while it keeps dying soon after its start (a broken configuration is not a busy loop).
WORKER_RESTART_DELAY = 1.0
WORKER_RESTART_MAX = 60.0
# How long a stopping worker may finish its step before it is killed (its leased rows come back).
WORKER_STOP_TIMEOUT = 30.0
# Requests still running when the server stops get this long to finish.
GRACEFUL_SECONDS = 5
# The most a request line and headers may take (a signed delivery's are about 2 KiB; a browser's
# cookies a few). Hypercorn refuses past 16 KiB; uvicorn's httptools protocol has no bound.
MAX_REQUEST_HEAD = 64 * 1024


class CommandError(Exception):
    """A command failed for a reason the user can act on; printed as one line."""


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Settings]:
    """Settings with a database URL: the configured one, or the embedded server's for this run."""
    if settings.database_url is not None:
        yield settings
        return
    server = await asyncio.to_thread(embedded.start, settings.data_dir)
    try:
        yield replace(settings, database_url=server.dsn)
    finally:
        await asyncio.to_thread(server.stop)


async def migrated(settings: Settings) -> None:
    """Apply the pending migrations, logging each."""
    assert settings.database_url is not None
    conn = await connect(settings.database_url)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    for migration in applied:
        _log.info("applied migration %04d_%s", migration.version, migration.name)


@contextlib.asynccontextmanager
async def open_pool(
    settings: Settings, *, max_size: int = 10, generic_plans: bool = False
) -> AsyncIterator[Pool]:
    """A connection pool for the length of the block."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, max_size=max_size, generic_plans=generic_plans)
    try:
        yield pool
    finally:
        await pool.close()


async def with_conn(settings: Settings, action: Callable[[Connection], Awaitable[None]]) -> None:
    """Run `action` on one connection to the migrated database."""
    async with database(settings) as ready:
        await migrated(ready)
        assert ready.database_url is not None
        conn = await connect(ready.database_url)
        try:
            await action(conn)
        finally:
            await conn.close()


def stop_event() -> asyncio.Event:
    """An event SIGINT and SIGTERM set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop (asyncio's own loop where uvloop is not installed)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform it supports
        return asyncio.run(main)
    return uvloop.run(main)


def stop_with_parent(stop: asyncio.Event) -> None:
    """Set `stop` when standard input closes: `fedicity run` holds the other end of that pipe, so
    a worker child stops cleanly however its parent ended (even kill -9)."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in a buffered read would hold its
        # lock when the interpreter exits (a fatal error).
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        _log.info("the parent process is gone: stopping")
        with contextlib.suppress(RuntimeError):  # the loop may have ended first
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def run_worker_child(settings: Settings, stop: asyncio.Event) -> None:
    """`fedicity worker` in a child process on the same database until `stop`, started again
    when it dies; on `stop` it gets SIGTERM and is waited for."""
    assert settings.database_url is not None
    env = {**os.environ, "FEDICITY_DATABASE_URL": settings.database_url}
    delay = WORKER_RESTART_DELAY
    while not stop.is_set():
        started = time.monotonic()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fedicity",
            "worker",
            "--with-parent",
            env=env,
            stdin=asyncio.subprocess.PIPE,
        )
        _log.info("worker process %d started", child.pid)
        exited = asyncio.ensure_future(child.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not exited.done():
            await _stop_child(child, exited)
            return
        if stop.is_set():
            return
        if time.monotonic() - started > WORKER_RESTART_MAX:
            delay = WORKER_RESTART_DELAY
        _log.error(
            "worker process %d exited with status %s; starting another in %.0f s",
            child.pid,
            exited.result(),
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, WORKER_RESTART_MAX)


async def _stop_child(child: asyncio.subprocess.Process, exited: asyncio.Future[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(exited), WORKER_STOP_TIMEOUT)
    except TimeoutError:
        _log.error(
            "worker process %d did not stop in %.0f s: killed", child.pid, WORKER_STOP_TIMEOUT
        )
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await exited


async def serve_asgi(app: Quart, settings: Settings, *, listen: str, stop: asyncio.Event) -> None:
    """Serve `app` on `listen` (HOST:PORT) with FEDICITY_SERVER's server until `stop`."""
    if settings.server == "hypercorn":
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [listen]
        config.accesslog = None
        # Hypercorn logs through our root handler instead of printing a second copy.
        config.errorlog = logging.getLogger("hypercorn.error")
        await serve(app, config, shutdown_trigger=stop.wait)
        return
    import uvicorn

    logging.getLogger("uvicorn.error").addFilter(_without_colors)
    host, _, port = listen.rpartition(":")
    server = _uvicorn_server(
        uvicorn.Config(
            app,
            host=host.strip("[]"),
            port=int(port),
            # The running loop is ours (uvloop, see run_event_loop).
            loop="none",
            http=_bounded_httptools(),
            ws="none",
            lifespan="on",
            # Our logging stays ours: no dictConfig of uvicorn's, no second access log (every
            # request is logged once, by web/metrics.py).
            log_config=None,
            access_log=False,
            # The client address is read by web/clientip.py, from FEDICITY_TRUSTED_PROXIES only:
            # uvicorn would otherwise take X-Forwarded-For from any loopback peer.
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
    )

    async def exit_on_stop() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.ensure_future(exit_on_stop())
    try:
        await server.serve()
    except SystemExit as exit_:
        # uvicorn exits when it cannot bind or the app fails to start; it has logged why.
        raise CommandError(f"the web server could not start on {listen}") from exit_
    finally:
        watcher.cancel()


def _without_colors(record: logging.LogRecord) -> bool:
    # uvicorn adds a terminal-coloured copy of some messages; our log lines carry every extra.
    record.__dict__.pop("color_message", None)
    return True


def _bounded_httptools() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, refusing a request head past MAX_REQUEST_HEAD with 431:
    httptools keeps an unfinished header in memory however long it grows."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpTools(HttpToolsProtocol):
        _in_head = True
        _head_bytes = 0

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_REQUEST_HEAD:
                self._in_head = False
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True

    return BoundedHttpTools


def _uvicorn_server(config: uvicorn.Config) -> uvicorn.Server:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its signal handlers: SIGINT and SIGTERM set our stop event, which
        stops the workers too (uvicorn's would also raise the signal again once stopped)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)
