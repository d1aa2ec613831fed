"""`fedicity audit list|export`: the admins' and moderators' actions, from the command line."""

from __future__ import annotations

import argparse
import sys

from fedicity.audit import export
from fedicity.audit import queries as audit_queries
from fedicity.cli.lifecycle import database, migrated, open_pool, with_conn
from fedicity.db.pool import Connection
from fedicity.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` command to the `fedicity` parser."""
    audit = commands.add_parser(
        "audit",
        help="the audit log of admins' and moderators' actions",
        description="the audit log: who did what, when and why",
    )
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    latest = sub.add_parser("list", help="the latest entries", description="the latest entries")
    latest.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    latest.add_argument("--area", default="", help="only one area, such as domain or report")
    latest.set_defaults(handler=cmd_audit)
    dump = sub.add_parser(
        "export", help="every entry as CSV on standard output", description="the whole log, CSV"
    )
    dump.set_defaults(handler=cmd_audit)


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> None:
    """Print the latest entries, or the whole log as CSV."""

    if args.audit_command == "export":
        async with database(settings) as ready:
            await migrated(ready)
            async with open_pool(ready) as pool:
                async for line in export.csv_lines(audit_queries.iterate(pool)):
                    sys.stdout.write(line)
        return

    async def action(conn: Connection) -> None:
        prefix = f"{args.area.strip('.')}." if args.area else ""
        entries = await audit_queries.select_page(
            conn, limit=max(1, min(args.limit, 10_000)), action_prefix=prefix
        )
        for entry in entries:
            when = entry.created_at.isoformat(timespec="seconds")
            print(
                f"{entry.id}\t{when}\t{entry.actor_name}\t{entry.action}\t{entry.target}\t"
                f"{entry.reason}"
            )

    await with_conn(settings, action)
