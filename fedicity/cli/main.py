"""The `fedicity` command: run, web, worker, migrate, demo here; user, org, territories,
aggregate, policy, audit, queue and stats from their own modules."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

import asyncpg

from fedicity import __version__
from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors.service import ActorError
from fedicity.cli import audit as audit_cli
from fedicity.cli import content_policies as content_policies_cli
from fedicity.cli import imports as imports_cli
from fedicity.cli import moderation as moderation_cli
from fedicity.cli import ops as ops_cli
from fedicity.cli import organizations as organizations_cli
from fedicity.cli import peers as peers_cli
from fedicity.cli import territories as territories_cli
from fedicity.cli import users as users_cli
from fedicity.cli.lifecycle import (
    CommandError,
    database,
    migrated,
    open_pool,
    run_event_loop,
    run_worker_child,
    serve_asgi,
    stop_event,
    stop_with_parent,
    with_conn,
)
from fedicity.clock import Clock
from fedicity.db import embedded
from fedicity.db.migrate import MigrationError
from fedicity.db.pool import Connection, Pool
from fedicity.observability.logs import configure_logging
from fedicity.settings import Settings, SettingsError, load_settings
from fedicity.workers.federation import Federation


async def _serve(
    settings: Settings,
    *,
    web: bool,
    worker: bool,
    worker_child: bool = False,
    with_parent: bool = False,
) -> None:
    from fedicity.clock import SystemClock
    from fedicity.territories import service as territory_service
    from fedicity.urls import Urls
    from fedicity.workers.federation import start_federation
    from fedicity.workers.loops import default_loops, run_worker

    async with database(settings) as ready:
        await migrated(ready)
        async with open_pool(ready) as pool:
            clock = SystemClock()
            federation = await start_federation(
                pool, ready, clock=clock, keygen=generate_rsa_keypair
            )
            await territory_service.prepare_serving(pool, ready)
            try:
                stop = stop_event()
                if with_parent:
                    stop_with_parent(stop)
                tasks: list[Awaitable[None]] = []
                if web:
                    tasks.append(
                        _stopping_all_on_failure(_serve_web(ready, pool, federation, stop), stop)
                    )
                if worker_child:
                    tasks.append(_stopping_all_on_failure(run_worker_child(ready, stop), stop))
                if worker:
                    loops = default_loops(
                        federation,
                        Urls(ready.base_url),
                        clock,
                        inbox_retention=timedelta(days=ready.inbox_retention_days),
                        blocklist_period=timedelta(minutes=ready.blocklist_sync_minutes),
                        settings=ready,
                    )
                    tasks.append(run_worker(pool, stop, loops))
                    if not web and ready.worker_metrics_port is not None:
                        tasks.append(
                            _stopping_all_on_failure(
                                _serve_worker_metrics(ready, pool, clock, stop), stop
                            )
                        )
                # Wait for every task (the workers finish their step after `stop`) before the
                # pool closes, then report the first failure.
                results = await asyncio.gather(*tasks, return_exceptions=True)
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
            finally:
                await federation.close()
    print("fedicity stopped.", flush=True)


async def _stopping_all_on_failure(work: Awaitable[None], stop: asyncio.Event) -> None:
    # If the web server cannot start (port taken), the workers must stop too before the pool
    # closes under them; the error still reaches the one-line report.
    try:
        await work
    except BaseException:
        stop.set()
        raise


async def _serve_web(
    settings: Settings, pool: Pool, federation: Federation, stop: asyncio.Event
) -> None:
    from fedicity.web.app import INBOX_POOL_SIZE, create_app

    # The inbox's own connections, whose point lookups may use generic plans (db/pool.py).
    async with open_pool(settings, max_size=INBOX_POOL_SIZE, generic_plans=True) as inbox_pool:
        app = create_app(settings, pool=pool, inbox_pool=inbox_pool, federation=federation)
        print(
            f"fedicity {__version__} serving {settings.base_url} (listening on {settings.listen}, "
            f"{settings.server})"
        )
        print("Press Ctrl-C to stop (the embedded PostgreSQL stops with it).", flush=True)
        await serve_asgi(app, settings, listen=settings.listen, stop=stop)


async def _serve_worker_metrics(
    settings: Settings, pool: Pool, clock: Clock, stop: asyncio.Event
) -> None:
    """The worker's own /metrics, on the loopback address only (its counters are its own)."""
    from fedicity.web.metrics import create_metrics_app

    assert settings.worker_metrics_port is not None
    print(f"worker metrics on http://127.0.0.1:{settings.worker_metrics_port}/metrics", flush=True)
    await serve_asgi(
        create_metrics_app(settings, pool, clock),
        settings,
        listen=f"127.0.0.1:{settings.worker_metrics_port}",
        stop=stop,
    )


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    """Apply pending migrations."""

    async def action(conn: Connection) -> None:
        print("database schema is up to date")

    await with_conn(settings, action)


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """Seed a demo instance: an admin, citizens and organisations of a commune."""
    from fedicity.cli.demo import seed_demo

    async def action(conn: Connection) -> None:
        admin_password = _demo_admin_password(settings.data_dir)
        created = await seed_demo(
            conn, admin_password=admin_password, keygen=generate_rsa_keypair, settings=settings
        )
        for line in created:
            print(line)
        print(f"Demo instance: {settings.base_url}")
        print(f"Admin login: admin_demo / {admin_password}")

    await with_conn(settings, action)


def _demo_admin_password(data_dir: Path) -> str:
    """The demo admin's password, kept in the data dir so every `make run` can print it."""
    path = data_dir / "demo-admin-password"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


async def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    """Serve the web app; run the background workers in a child process (or inline)."""
    inline = settings.run_worker == "inline"
    await _serve(settings, web=True, worker=inline, worker_child=not inline)


async def cmd_web(settings: Settings, args: argparse.Namespace) -> None:
    """Serve the web app only."""
    await _serve(settings, web=True, worker=False)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Run the background workers only."""
    await _serve(settings, web=False, worker=True, with_parent=args.with_parent)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with --help on every command."""
    parser = argparse.ArgumentParser(
        prog="fedicity", description="Federated civic network for a territory."
    )
    parser.add_argument("--version", action="version", version=f"fedicity {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, text in (
        ("run", cmd_run, "serve the web app and run the workers (a child process by default)"),
        ("web", cmd_web, "serve the web app only"),
        ("worker", cmd_worker, "run the background workers only"),
        ("migrate", cmd_migrate, "apply pending database migrations"),
        ("demo", cmd_demo, "seed the demo instance (idempotent)"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)
        if name == "worker":
            # Set by `fedicity run` on its child: stop when the parent's pipe closes.
            sub.add_argument("--with-parent", action="store_true", help=argparse.SUPPRESS)
    users_cli.register(commands)
    organizations_cli.register(commands, with_conn)
    territories_cli.register(commands, with_conn)
    peers_cli.register(commands)
    audit_cli.register(commands)
    ops_cli.register(commands)
    content_policies_cli.register(commands)
    moderation_cli.register(commands)
    imports_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    # Our log lines never tell where, in which thread or process they were made: the logging
    # module's documented shortcuts skip finding out (a stack walk and more) for every request's
    # access line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    configure_logging()
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        configure_logging(settings.log_format)
        run_event_loop(args.handler(settings, args))
    except (SettingsError, CommandError, ActorError, MigrationError) as error:
        print(f"fedicity: {error}", file=sys.stderr)
        return 1
    except embedded.EmbeddedPostgresError as error:
        print(f"fedicity: {error}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        print(f"fedicity: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
