"""The `fedicity` command: run, web, worker, migrate, user, org, demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg

from fedicity import __version__
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors import service as actor_service
from fedicity.actors.models import ORGANIZATION_KINDS
from fedicity.actors.service import ActorError
from fedicity.cli import organizations as organizations_cli
from fedicity.cli import territories as territories_cli
from fedicity.db import embedded
from fedicity.db.migrate import MigrationError, migrate
from fedicity.db.pool import Connection, Pool, connect, create_pool
from fedicity.settings import Settings, SettingsError, load_settings
from fedicity.workers.federation import Federation

_log = logging.getLogger("fedicity")


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


async def _migrated(settings: Settings) -> None:
    assert settings.database_url is not None
    conn = await connect(settings.database_url)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    for migration in applied:
        _log.info("applied migration %04d_%s", migration.version, migration.name)


@contextlib.asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[Pool]:
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url)
    try:
        yield pool
    finally:
        await pool.close()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(settings: Settings, *, web: bool, worker: bool) -> None:
    from fedicity.clock import SystemClock
    from fedicity.territories import service as territory_service
    from fedicity.urls import Urls
    from fedicity.workers.federation import start_federation
    from fedicity.workers.loops import default_loops, run_worker

    async with database(settings) as ready:
        await _migrated(ready)
        async with _pool(ready) as pool:
            clock = SystemClock()
            federation = await start_federation(
                pool, ready, clock=clock, keygen=generate_rsa_keypair
            )
            await territory_service.prepare_serving(pool, ready)
            try:
                stop = _stop_event()
                tasks: list[Awaitable[None]] = []
                if web:
                    tasks.append(
                        _stopping_all_on_failure(_serve_web(ready, pool, federation, stop), stop)
                    )
                if worker:
                    loops = default_loops(
                        federation,
                        Urls(ready.base_url),
                        clock,
                        inbox_retention=timedelta(days=ready.inbox_retention_days),
                    )
                    tasks.append(run_worker(pool, stop, loops))
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
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from fedicity.web.app import create_app

    app = create_app(settings, pool=pool, federation=federation)
    config = Config()
    config.bind = [settings.listen]
    config.accesslog = None
    # Hypercorn logs through our root handler instead of printing a second copy.
    config.errorlog = logging.getLogger("hypercorn.error")
    print(f"fedicity {__version__} serving {settings.base_url} (listening on {settings.listen})")
    print("Press Ctrl-C to stop (the embedded PostgreSQL stops with it).", flush=True)
    await serve(app, config, shutdown_trigger=stop.wait)


async def _with_conn(settings: Settings, action: Callable[[Connection], Awaitable[None]]) -> None:
    async with database(settings) as ready:
        await _migrated(ready)
        assert ready.database_url is not None
        conn = await connect(ready.database_url)
        try:
            await action(conn)
        finally:
            await conn.close()


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return str(args.password)
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise CommandError("the two passwords differ")
    return first


async def cmd_user_create(settings: Settings, args: argparse.Namespace) -> None:
    """Create a citizen account."""
    password = _password(args)

    async def action(conn: Connection) -> None:
        account = await accounts.register(
            conn,
            username=args.name,
            password=password,
            email=args.email,
            is_admin=args.admin,
            display_name=args.display_name or "",
            keygen=generate_rsa_keypair,
        )
        role = "admin" if account.is_admin else "citizen"
        print(f"created {role} @{account.username}@{settings.host}")

    await _with_conn(settings, action)


async def cmd_user_list(settings: Settings, args: argparse.Namespace) -> None:
    """List the accounts."""

    async def action(conn: Connection) -> None:
        after = 0
        while page := await account_queries.select_accounts_page(conn, limit=500, after_id=after):
            for account in page:
                role = "admin" if account.is_admin else "citizen"
                print(f"{account.username}\t{role}\t{account.email or '-'}")
            after = page[-1].id

    await _with_conn(settings, action)


async def cmd_user_set_password(settings: Settings, args: argparse.Namespace) -> None:
    """Change an account's password."""
    password = _password(args)

    async def action(conn: Connection) -> None:
        account = await account_queries.select_account_by_login(conn, args.name)
        if account is None:
            raise CommandError(f"no account named {args.name!r}")
        await accounts.set_password(conn, account, password)
        print(f"password changed for @{account.username}")

    await _with_conn(settings, action)


async def cmd_org_create(settings: Settings, args: argparse.Namespace) -> None:
    """Create an organisation actor."""

    async def action(conn: Connection) -> None:
        actor = await actor_service.create_organization(
            conn,
            args.name,
            organization_kind=args.kind,
            display_name=args.display_name or "",
            summary=args.summary or "",
            keygen=generate_rsa_keypair,
        )
        print(f"created {actor.organization_kind} @{actor.username}@{settings.host}")

    await _with_conn(settings, action)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    """Apply pending migrations."""

    async def action(conn: Connection) -> None:
        print("database schema is up to date")

    await _with_conn(settings, action)


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

    await _with_conn(settings, action)


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
    """Serve the web app and run the background workers in one process."""
    await _serve(settings, web=True, worker=True)


async def cmd_web(settings: Settings, args: argparse.Namespace) -> None:
    """Serve the web app only."""
    await _serve(settings, web=True, worker=False)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Run the background workers only."""
    await _serve(settings, web=False, worker=True)


async def cmd_policy(settings: Settings, args: argparse.Namespace) -> None:
    """Suspend, allow or lift a peer domain, trust its voters, or list the policies."""
    from fedicity.clock import SystemClock
    from fedicity.moderation import queries as moderation_queries
    from fedicity.moderation.policy import trusted_authority

    async def action(conn: Connection) -> None:
        if args.policy_command == "list":
            for policy in await moderation_queries.select_domain_policies(conn, limit=10_000):
                print(f"{policy.domain}\t{policy.action}\t{policy.reason}")
            for trusted in await moderation_queries.select_vote_trusted_domains(conn, limit=10_000):
                print(f"{trusted}\ttrust-votes\t")
            return
        if args.policy_command in ("trust-votes", "distrust-votes"):
            authority = trusted_authority(args.domain)
            if authority is None:
                raise CommandError(f"not a server name: {args.domain!r}")
            if args.policy_command == "distrust-votes":
                removed = await moderation_queries.delete_vote_trusted_domain(conn, authority)
                print(
                    f"{authority}: votes no longer counted"
                    if removed
                    else f"{authority}: not trusted"
                )
                return
            await moderation_queries.insert_vote_trusted_domain(
                conn, authority, now=SystemClock().now()
            )
            print(f"{authority}: votes counted in every proposal's result")
            return
        domain = args.domain.strip().lower()
        if not domain or "/" in domain or " " in domain:
            raise CommandError(f"not a domain name: {args.domain!r}")
        if args.policy_command == "lift":
            lifted = await moderation_queries.delete_domain_policy(conn, domain)
            print(f"policy lifted for {domain}" if lifted else f"no policy for {domain}")
            return
        await moderation_queries.upsert_domain_policy(
            conn, domain, args.policy_command, args.reason
        )
        print(f"{domain}: {args.policy_command}")

    await _with_conn(settings, action)


async def cmd_aggregate(settings: Settings, args: argparse.Namespace) -> None:
    """Have the served territory's actor follow a remote territory actor (federated aggregation)."""
    from fedicity.actors.lookup import find_actor
    from fedicity.actors.models import RemoteActor
    from fedicity.clock import SystemClock
    from fedicity.follows import service as follows
    from fedicity.territories import service as territory_service
    from fedicity.urls import Urls
    from fedicity.workers.federation import start_federation

    async with database(settings) as ready:
        await _migrated(ready)
        async with _pool(ready) as pool:
            clock = SystemClock()
            federation = await start_federation(
                pool, ready, clock=clock, keygen=generate_rsa_keypair
            )
            try:
                async with pool.acquire() as conn:
                    root = await territory_service.served_root(
                        conn, ready.territory_level, ready.territory_code
                    )
                if root is None:
                    raise CommandError(
                        "no served territory: set FEDICITY_TERRITORY_LEVEL and "
                        "FEDICITY_TERRITORY_CODE and run `fedicity territories import`"
                    )
                found = await find_actor(
                    pool, federation.directory, args.handle, local_host=ready.host
                )
                if not isinstance(found, RemoteActor) or found.type != "Group":
                    raise CommandError(f"{args.handle} is not a remote territory actor")
                urls = Urls(ready.base_url)
                async with pool.acquire() as conn:
                    actor = await territory_service.territory_actor(
                        conn, root, keygen=generate_rsa_keypair
                    )
                    await follows.follow(
                        conn, actor=actor, target=found.uri, urls=urls, clock=clock
                    )
                print(f"@{actor.username} now follows {found.handle}; see {root.name}'s page")
            finally:
                await federation.close()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with --help on every command."""
    parser = argparse.ArgumentParser(
        prog="fedicity", description="Federated civic network for a territory."
    )
    parser.add_argument("--version", action="version", version=f"fedicity {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, text in (
        ("run", cmd_run, "serve the web app and run the workers in one process"),
        ("web", cmd_web, "serve the web app only"),
        ("worker", cmd_worker, "run the background workers only"),
        ("migrate", cmd_migrate, "apply pending database migrations"),
        ("demo", cmd_demo, "seed the demo instance (idempotent)"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)

    user = commands.add_parser("user", help="manage accounts", description="manage accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_commands.add_parser(
        "create", help="create an account", description="create an account"
    )
    create.add_argument("name", help="username: 1 to 30 of a-z, 0-9, _")
    create.add_argument("--password", help="the password (else read from the terminal or stdin)")
    create.add_argument("--email")
    create.add_argument("--display-name")
    create.add_argument("--admin", action="store_true", help="give the admin role")
    create.set_defaults(handler=cmd_user_create)
    listing = user_commands.add_parser("list", help="list accounts", description="list accounts")
    listing.set_defaults(handler=cmd_user_list)
    set_pw = user_commands.add_parser(
        "set-password", help="change a password", description="change a password"
    )
    set_pw.add_argument("name")
    set_pw.add_argument(
        "--password", help="the new password (else read from the terminal or stdin)"
    )
    set_pw.set_defaults(handler=cmd_user_set_password)

    org = commands.add_parser(
        "org", help="manage organisations", description="manage organisations"
    )
    org_commands = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    org_create = org_commands.add_parser(
        "create", help="create an organisation actor", description="create an organisation actor"
    )
    org_create.add_argument("name", help="handle: 1 to 30 of a-z, 0-9, _")
    org_create.add_argument("--kind", required=True, choices=ORGANIZATION_KINDS)
    org_create.add_argument("--display-name")
    org_create.add_argument("--summary")
    org_create.set_defaults(handler=cmd_org_create)
    organizations_cli.register(org_commands, _with_conn)  # org verify
    territories_cli.register(commands, _with_conn)
    aggregate = commands.add_parser(
        "aggregate",
        help="follow another instance's territory actor so its items appear in our scope",
        description="the served territory's actor follows a territory actor of another instance",
    )
    aggregate.add_argument("handle", help="@commune@instance.example or the actor's URL")
    aggregate.set_defaults(handler=cmd_aggregate)
    policy = commands.add_parser(
        "policy", help="federation policy for peer domains", description="federation policy"
    )
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    for name, text in (
        ("suspend", "refuse all federation with a domain (and its subdomains)"),
        ("allow", "put a domain on the allowlist (used when FEDICITY_FEDERATION_ALLOWLIST=true)"),
    ):
        sub = policy_commands.add_parser(name, help=text, description=text)
        sub.add_argument("domain")
        sub.add_argument("--reason", default="")
        sub.set_defaults(handler=cmd_policy)
    for name, text in (
        ("trust-votes", "count votes from a server's actors in every proposal's result"),
        ("distrust-votes", "stop counting votes from a server (they are still shown)"),
    ):
        sub = policy_commands.add_parser(name, help=text, description=text)
        sub.add_argument("domain", help="host, or host:port, of the server")
        sub.set_defaults(handler=cmd_policy)
    lift = policy_commands.add_parser(
        "lift", help="remove a domain's policy", description="remove a domain's policy"
    )
    lift.add_argument("domain")
    lift.set_defaults(handler=cmd_policy)
    plist = policy_commands.add_parser(
        "list", help="list domain policies", description="list domain policies"
    )
    plist.set_defaults(handler=cmd_policy)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        asyncio.run(args.handler(settings, args))
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
