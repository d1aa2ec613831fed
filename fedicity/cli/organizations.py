"""`fedicity org create NAME --kind K`, `fedicity org verify NAME --siren N | --rna W... |
--clear` (the instance admin's identifier) and `fedicity org import FILE` (`org` is also
`organizations`)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import ORGANIZATION_KINDS
from fedicity.audit.models import cli_actor
from fedicity.cli import imports_files
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.organizations import identifiers
from fedicity.organizations.service import MembershipError
from fedicity.settings import Settings

WithConn = Callable[[Settings, Callable[[Connection], Awaitable[None]]], Awaitable[None]]


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:
    """Add the `org` command and its actions (create, verify) to the `fedicity` parser."""
    org = commands.add_parser(
        "org",
        aliases=["organizations"],
        help="manage organisations",
        description="manage organisations",
    )
    org_commands = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    _register_create(org_commands, with_conn)
    _register_verify(org_commands, with_conn)
    imports_files.register_organizations(org_commands, with_conn)


def _register_create(
    org_commands: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:
    async def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
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

        await with_conn(settings, action)

    create = org_commands.add_parser(
        "create", help="create an organisation actor", description="create an organisation actor"
    )
    create.add_argument("name", help="handle: 1 to 30 of a-z, 0-9, _")
    create.add_argument("--kind", required=True, choices=ORGANIZATION_KINDS)
    create.add_argument("--display-name")
    create.add_argument("--summary")
    create.set_defaults(handler=cmd_create)


def _register_verify(
    org_commands: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:

    async def cmd_verify(settings: Settings, args: argparse.Namespace) -> None:
        async def action(conn: Connection) -> None:
            organization = await actor_queries.select_actor_by_username(conn, args.name)
            if organization is None or organization.kind != "organization":
                raise SystemExit(f"no organisation named {args.name!r}")
            if args.clear:
                await identifiers.clear_identifier(
                    conn, organization=organization, by=cli_actor(), clock=SystemClock()
                )
                print(f"@{organization.username}: identifier removed")
                return
            kind, value = ("SIREN", args.siren) if args.siren else ("RNA", args.rna)
            try:
                checked = await identifiers.verify_identifier(
                    conn,
                    organization=organization,
                    kind=kind,
                    value=value,
                    by=cli_actor(),
                    clock=SystemClock(),
                )
            except MembershipError as refused:
                raise SystemExit(str(refused)) from None
            print(f"@{organization.username}: {checked[0]} {checked[1]} verified")

        await with_conn(settings, action)

    verify = org_commands.add_parser(
        "verify",
        help="set an organisation's verified SIREN or RNA number",
        description="set an organisation's verified SIREN or RNA number",
    )
    verify.add_argument("name", help="the organisation's handle")
    chosen = verify.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--siren", help="9 digits with a valid checksum")
    chosen.add_argument("--rna", help="W followed by 9 digits")
    chosen.add_argument("--clear", action="store_true", help="remove the identifier")
    verify.set_defaults(handler=cmd_verify)
