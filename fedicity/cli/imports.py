"""`fedicity imports add-feed|list|fetch|stop`: the calendar feeds the instance follows, every
change written to the audit log as `cli:<user>`."""

from __future__ import annotations

import argparse

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, database, migrated, open_pool
from fedicity.clock import SystemClock
from fedicity.imports import feeds
from fedicity.imports import queries as import_queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `imports` command to the `fedicity` parser."""
    imports = commands.add_parser(
        "imports",
        help="calendar feeds (iCalendar, OpenAgenda JSON) imported as events",
        description="follow calendar feeds; their events are attributed to a local account",
    )
    sub = imports.add_subparsers(dest="imports_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add-feed", help="follow a feed and fetch it now", description="follow a feed"
    )
    add.add_argument("url")
    add.add_argument("--as", dest="owner", required=True, help="the organisation or person")
    add.add_argument("--format", choices=feeds.FORMAT_CHOICES, default="auto")
    sub.add_parser("list", help="the followed feeds", description="the followed feeds")
    fetch = sub.add_parser("fetch", help="fetch one feed now", description="fetch one feed now")
    fetch.add_argument("id", type=int)
    stop = sub.add_parser("stop", help="stop following a feed", description="stop a feed")
    stop.add_argument("id", type=int)
    for command in sub.choices.values():
        command.set_defaults(handler=cmd_imports)


async def cmd_imports(settings: Settings, args: argparse.Namespace) -> None:
    """Run one `imports` command."""
    command = args.imports_command
    clock = SystemClock()
    async with database(settings) as ready:
        await migrated(ready)
        async with open_pool(ready) as pool:
            env = feeds.feed_env(Urls(ready.base_url), clock, generate_rsa_keypair, ready)
            source_id = getattr(args, "id", 0)
            async with pool.acquire() as conn:
                if command == "list":
                    for source, imported, name in await import_queries.select_feeds(conn):
                        state = "active" if source.active else "stopped"
                        when = source.last_fetched_at.isoformat() if source.last_fetched_at else "-"
                        print(
                            f"{source.id}\t{source.kind}\t{state}\t{name}\t{imported}\t{when}\t"
                            f"{source.url}\t{source.last_error or ''}"
                        )
                    return
                try:
                    if command == "stop":
                        if not await feeds.stop_following(
                            conn, env, actor=cli_actor(), source_id=source_id
                        ):
                            raise CommandError(f"no followed feed {source_id}")
                        print(f"feed {source_id} stopped")
                        return
                    if command == "add-feed":
                        owner = await actor_queries.select_actor_by_username(conn, args.owner)
                        if owner is None:
                            raise CommandError(f"no local account {args.owner!r}")
                        added = await feeds.add_feed(
                            conn,
                            env,
                            actor=cli_actor(),
                            owner=owner,
                            url=args.url,
                            format=args.format,
                        )
                        source_id = added.id
                        print(f"feed {added.id} followed for {owner.username}: {added.url}")
                except feeds.FeedError as error:
                    raise CommandError(error.detail) from None
            federation = await start_federation(
                pool, ready, clock=clock, keygen=generate_rsa_keypair
            )
            try:
                report = await feeds.fetch_now(
                    pool, federation.fetcher, env, actor=cli_actor(), source_id=source_id
                )
            except feeds.FeedError as error:
                raise CommandError(error.detail) from None
            finally:
                await federation.close()
            if report.error:
                raise CommandError(f"feed {source_id}: not imported: {report.error}")
            if report.not_modified:
                print(f"feed {source_id}: not modified since the last fetch")
                return
            print(
                f"feed {source_id}: {report.created} created, {report.updated} updated, "
                f"{report.cancelled} cancelled, {report.unchanged} unchanged, "
                f"{report.skipped} skipped"
            )
