"""`fedicity org verify NAME --siren N | --rna W... | --clear`: the instance admin's identifier."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from fedicity.actors import queries as actor_queries
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.organizations import identifiers
from fedicity.organizations.service import MembershipError
from fedicity.settings import Settings

WithConn = Callable[[Settings, Callable[[Connection], Awaitable[None]]], Awaitable[None]]


def register(org_commands: Any, with_conn: WithConn) -> None:
    """Add `verify` under `fedicity org`."""

    async def cmd_verify(settings: Settings, args: argparse.Namespace) -> None:
        async def action(conn: Connection) -> None:
            organization = await actor_queries.select_actor_by_username(conn, args.name)
            if organization is None or organization.kind != "organization":
                raise SystemExit(f"no organisation named {args.name!r}")
            if args.clear:
                await identifiers.clear_identifier(conn, organization=organization)
                print(f"@{organization.username}: identifier removed")
                return
            kind, value = ("SIREN", args.siren) if args.siren else ("RNA", args.rna)
            try:
                checked = await identifiers.verify_identifier(
                    conn,
                    organization=organization,
                    kind=kind,
                    value=value,
                    admin_account_id=None,
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
