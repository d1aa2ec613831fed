"""`fedicity user create | list | set-password`: citizen accounts from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `user` command and its actions to the `fedicity` parser."""
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
        async with conn.transaction():
            account = await accounts.register(
                conn,
                username=args.name,
                password=password,
                email=args.email,
                is_admin=args.admin,
                display_name=args.display_name or "",
                keygen=generate_rsa_keypair,
            )
            await audit_queries.record(
                conn,
                cli_actor(),
                "account.create_admin" if account.is_admin else "account.create",
                target=account.username,
                now=SystemClock().now(),
            )
        role = "admin" if account.is_admin else "citizen"
        print(f"created {role} @{account.username}@{settings.host}")

    await with_conn(settings, action)


async def cmd_user_list(settings: Settings, args: argparse.Namespace) -> None:
    """List the accounts."""

    async def action(conn: Connection) -> None:
        after = 0
        while page := await account_queries.select_accounts_page(conn, limit=500, after_id=after):
            for account in page:
                role = "admin" if account.is_admin else "citizen"
                print(f"{account.username}\t{role}\t{account.email or '-'}")
            after = page[-1].id

    await with_conn(settings, action)


async def cmd_user_set_password(settings: Settings, args: argparse.Namespace) -> None:
    """Change an account's password."""
    password = _password(args)

    async def action(conn: Connection) -> None:
        account = await account_queries.select_account_by_login(conn, args.name)
        if account is None:
            raise CommandError(f"no account named {args.name!r}")
        async with conn.transaction():
            await accounts.set_password(conn, account, password)
            # The password itself is never recorded: only that an operator set it.
            await audit_queries.record(
                conn,
                cli_actor(),
                "account.set_password",
                target=account.username,
                now=SystemClock().now(),
            )
        print(f"password changed for @{account.username}")

    await with_conn(settings, action)
