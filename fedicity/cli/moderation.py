"""`fedicity moderation list|show|dismiss|suspend|unsuspend|silence|unsilence`: the moderation
queue from the command line, every action written to the audit log as `cli:<user>`."""

from __future__ import annotations

import argparse

from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from fedicity.stewardship import actions, targets
from fedicity.urls import Urls


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `moderation` command to the `fedicity` parser."""
    moderation = commands.add_parser(
        "moderation",
        help="the reports queue and account suspensions",
        description="reports, and silencing or suspending accounts (written to the audit log)",
    )
    sub = moderation.add_subparsers(dest="moderation_command", required=True, metavar="ACTION")
    latest = sub.add_parser("list", help="open reports, newest first", description="open reports")
    latest.add_argument("--all", action="store_true", help="handled reports too")
    latest.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    show = sub.add_parser("show", help="one report", description="one report and its objects")
    show.add_argument("number", type=int)
    dismiss = sub.add_parser("dismiss", help="close a report", description="close a report")
    dismiss.add_argument("number", type=int)
    for name, text in (
        ("suspend", "suspend an account (local: no login, 410; remote: refused)"),
        ("unsuspend", "lift a suspension"),
        ("silence", "keep an account out of public and territory pages"),
        ("unsilence", "lift a silence"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        command.add_argument("account", help="a local username, or a remote actor's id (URL)")
    for command in (dismiss, *(sub.choices[n] for n in ("suspend", "unsuspend", "silence"))):
        command.add_argument("--reason", default="", help="why (kept in the audit log)")
    sub.choices["unsilence"].add_argument("--reason", default="", help="why")
    for command in sub.choices.values():
        command.set_defaults(handler=cmd_moderation)


def _actor_uri(urls: Urls, account: str) -> str:
    text = account.strip()
    if text.startswith(("https://", "http://")):
        return text
    name = text.lstrip("@")
    if not name or "@" in name or "/" in name:
        raise CommandError(f"not a local username or an actor URL: {account!r}")
    return urls.actor(name)


async def cmd_moderation(settings: Settings, args: argparse.Namespace) -> None:
    """Run one moderation command."""
    urls = Urls(settings.base_url)
    env = actions.Env(urls=urls, clock=SystemClock())
    by = cli_actor()
    command = args.moderation_command

    async def action(conn: Connection) -> None:
        if command == "list":
            page = await moderation_queries.select_reports_page(
                conn, limit=max(1, min(args.limit, 10_000)), open_only=not args.all
            )
            for line in page:
                state = line.resolution or "open"
                print(
                    f"{line.id}\t{line.created_at.isoformat(timespec='seconds')}\t"
                    f"{line.origin}\t{line.category}\t{state}\t{line.reporter}\t"
                    f"{line.target_actor or ''}\t{line.content[:80]}"
                )
            return
        if command in ("show", "dismiss"):
            found = await moderation_queries.select_report(conn, args.number)
            if found is None:
                raise CommandError(f"no report number {args.number}")
            report = found
            if command == "dismiss":
                await actions.dismiss(conn, report, by=by, reason=args.reason, env=env)
                print(f"report {report.id} dismissed")
                return
            print(f"report {report.id} ({report.origin}, {report.category})")
            print(f"from: {report.reporter}")
            print(f"about: {report.target_actor or '?'}")
            print(f"state: {report.resolution or 'open'}")
            if report.content:
                print(f"comment: {report.content}")
            for target in await targets.find_all(conn, urls, report.targets):
                print(f"- {target.kind} {target.uri}: {target.text[:200]}")
            return
        uri = _actor_uri(urls, args.account)
        if command == "suspend":
            await actions.suspend(conn, uri, by=by, reason=args.reason, env=env)
        elif command == "silence":
            await actions.silence(conn, uri, by=by, reason=args.reason, env=env)
        elif command == "unsuspend":
            if not await actions.unsuspend(conn, uri, by=by, reason=args.reason, env=env):
                raise CommandError(f"{uri} is not suspended")
        elif not await actions.unsilence(conn, uri, by=by, reason=args.reason, env=env):
            raise CommandError(f"{uri} is not silenced")
        print(f"{uri}: {command} done")

    try:
        await with_conn(settings, action)
    except DomainError as error:
        raise CommandError(error.detail) from None
