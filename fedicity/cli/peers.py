"""`fedicity policy ...` (suspend, allow, lift, trust votes) and `fedicity aggregate`: what this
instance does with other servers."""

from __future__ import annotations

import argparse

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import RemoteActor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, database, migrated, open_pool, with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.follows import service as follows
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.settings import Settings
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `aggregate` and `policy` commands to the `fedicity` parser."""
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


async def cmd_policy(settings: Settings, args: argparse.Namespace) -> None:
    """Suspend, allow or lift a peer domain, trust its voters, or list the policies."""

    async def action(conn: Connection) -> None:
        command = args.policy_command
        if command == "list":
            await _list_policies(conn)
        elif command in ("trust-votes", "distrust-votes"):
            await _set_vote_trust(conn, args.domain, trusted=command == "trust-votes")
        elif command == "lift":
            domain = _domain_name(args.domain)
            async with conn.transaction():
                lifted = await moderation_queries.delete_domain_policy(conn, domain)
                if lifted:
                    await audit_queries.record(
                        conn, cli_actor(), "domain.lift", target=domain, now=SystemClock().now()
                    )
            print(f"policy lifted for {domain}" if lifted else f"no policy for {domain}")
        else:
            domain = _domain_name(args.domain)
            async with conn.transaction():
                await moderation_queries.upsert_domain_policy(conn, domain, command, args.reason)
                await audit_queries.record(
                    conn,
                    cli_actor(),
                    f"domain.{command}",
                    target=domain,
                    reason=args.reason,
                    now=SystemClock().now(),
                )
            print(f"{domain}: {command}")

    await with_conn(settings, action)


async def _list_policies(conn: Connection) -> None:
    for policy in await moderation_queries.select_domain_policies(conn, limit=10_000):
        print(f"{policy.domain}\t{policy.action}\t{policy.reason}")
    for trusted in await moderation_queries.select_vote_trusted_domains(conn, limit=10_000):
        print(f"{trusted}\ttrust-votes\t")


async def _set_vote_trust(conn: Connection, server: str, *, trusted: bool) -> None:
    authority = trusted_authority(server)
    if authority is None:
        raise CommandError(f"not a server name: {server!r}")
    now = SystemClock().now()
    async with conn.transaction():
        if not trusted:
            removed = await moderation_queries.delete_vote_trusted_domain(conn, authority)
            if removed:
                await audit_queries.record(
                    conn, cli_actor(), "votes.distrust", target=authority, now=now
                )
            print(
                f"{authority}: votes no longer counted" if removed else f"{authority}: not trusted"
            )
            return
        await moderation_queries.insert_vote_trusted_domain(conn, authority, now=now)
        await audit_queries.record(conn, cli_actor(), "votes.trust", target=authority, now=now)
    print(f"{authority}: votes counted in every proposal's result")


def _domain_name(text: str) -> str:
    domain = text.strip().lower()
    if not domain or "/" in domain or " " in domain:
        raise CommandError(f"not a domain name: {text!r}")
    return domain


async def cmd_aggregate(settings: Settings, args: argparse.Namespace) -> None:
    """Have the served territory's actor follow a remote territory actor (federated aggregation)."""
    async with database(settings) as ready:
        await migrated(ready)
        async with open_pool(ready) as pool:
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
