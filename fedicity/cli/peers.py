"""`fedicity policy ...` (domain policies, their CSV, block lists, trust votes) and
`fedicity aggregate`: what this instance does with other servers."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import RemoteActor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, database, migrated, open_pool, with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.follows import service as follows
from fedicity.moderation import blocklists, domains, queries
from fedicity.moderation.policy import trusted_authority
from fedicity.settings import Settings
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from fedicity.workers.federation import start_federation

MAX_CSV_BYTES = 4 * 1024 * 1024


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
        ("suspend", "refuse all federation with a domain and its subdomains; end its follows"),
        ("silence", "accept a domain, but keep what it sends out of public pages and feeds"),
        ("reject", "neither suspend nor silence: only reject media and/or reports (noop)"),
        ("allow", "put a domain on the allowlist (used when FEDICITY_FEDERATION_ALLOWLIST=true)"),
    ):
        sub = policy_commands.add_parser(name, help=text, description=text)
        sub.add_argument("domain", help="example.org (also covers *.example.org)")
        sub.add_argument("--reason", default="", help="private comment, kept in the audit log")
        sub.add_argument("--public-comment", default="", help="published with the policy")
        sub.add_argument("--reject-media", action="store_true", help="never show its images")
        sub.add_argument("--reject-reports", action="store_true", help="ignore its reports")
        sub.add_argument("--obfuscate", action="store_true", help="publish the name obfuscated")
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
    lift.add_argument("--reason", default="")
    lift.set_defaults(handler=cmd_policy)
    plist = policy_commands.add_parser(
        "list", help="list domain policies", description="list domain policies"
    )
    plist.set_defaults(handler=cmd_policy)
    imported = policy_commands.add_parser(
        "import",
        help="apply a Mastodon domain-block CSV",
        description="apply a Mastodon domain-block CSV (#domain,#severity,#reject_media,...)",
    )
    imported.add_argument("file", help="the CSV file, or - for standard input")
    imported.add_argument("--dry-run", action="store_true", help="say what would change")
    imported.add_argument("--reason", default="CSV import")
    imported.set_defaults(handler=cmd_policy)
    exported = policy_commands.add_parser(
        "export",
        help="print the domain blocks as Mastodon's CSV",
        description="print the domain blocks as Mastodon's CSV",
    )
    exported.set_defaults(handler=cmd_policy)
    subscribe = policy_commands.add_parser(
        "subscribe",
        help="subscribe to a published block list (a CSV URL) and sync it now",
        description="subscribe to a published block list (a CSV URL) and sync it now",
    )
    subscribe.add_argument("url")
    subscribe.set_defaults(handler=cmd_blocklists)
    unsubscribe = policy_commands.add_parser(
        "unsubscribe",
        help="unsubscribe from a block list (its entries are lifted)",
        description="unsubscribe from a block list (its entries are lifted)",
    )
    unsubscribe.add_argument("url")
    unsubscribe.set_defaults(handler=cmd_blocklists)
    synced = policy_commands.add_parser(
        "sync", help="fetch every subscribed block list now", description="sync block lists"
    )
    synced.set_defaults(handler=cmd_blocklists)


async def cmd_policy(settings: Settings, args: argparse.Namespace) -> None:
    """Set, lift, list, import or export domain policies, or trust a server's voters."""
    command = args.policy_command
    csv_text = _read_csv(args.file) if command == "import" else ""

    async def action(conn: Connection) -> None:
        now = SystemClock().now()
        try:
            if command == "list":
                await _list_policies(conn)
            elif command == "export":
                print(
                    domains.export_csv(await queries.select_blocking_policies(conn, limit=100_000)),
                    end="",
                )
            elif command == "import":
                await _import(conn, csv_text, dry_run=args.dry_run, reason=args.reason, now=now)
            elif command in ("trust-votes", "distrust-votes"):
                await _set_vote_trust(conn, args.domain, trusted=command == "trust-votes")
            elif command == "lift":
                lifted = await domains.lift_policy(
                    conn, cli_actor(), args.domain, reason=args.reason, now=now
                )
                print(
                    f"policy lifted for {args.domain}" if lifted else f"no policy for {args.domain}"
                )
            else:
                entry = domains.checked_entry(
                    args.domain,
                    "noop" if command == "reject" else command,
                    reject_media=args.reject_media,
                    reject_reports=args.reject_reports,
                    public_comment=args.public_comment,
                    obfuscate=args.obfuscate,
                )
                effects = await domains.set_policy(
                    conn, cli_actor(), entry, reason=args.reason, now=now
                )
                ended = f" ({effects.follows} follows ended)" if effects.follows else ""
                print(f"{entry.domain}: {entry.action}{ended}")
        except domains.PolicyError as error:
            raise CommandError(error.detail) from None

    await with_conn(settings, action)


def _read_csv(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.read(MAX_CSV_BYTES + 1)[: MAX_CSV_BYTES + 1]
        with open(name, encoding="utf-8-sig") as file:
            text = file.read(MAX_CSV_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {name}: {error}") from None
    if len(text) > MAX_CSV_BYTES:
        raise CommandError(f"{name} is larger than {MAX_CSV_BYTES} bytes")
    return text


async def _import(
    conn: Connection, text: str, *, dry_run: bool, reason: str, now: datetime
) -> None:
    parsed = domains.parse_csv(text)
    for line, why in parsed.errors:
        print(f"line {line}: {why}", file=sys.stderr)
    summary = await domains.import_entries(
        conn, cli_actor(), parsed.entries, reason=reason, now=now, dry_run=dry_run
    )
    verb = "would add" if dry_run else "added"
    for domain in summary.added:
        print(f"{verb} {domain}")
    verb = "would change" if dry_run else "changed"
    for domain in summary.changed:
        print(f"{verb} {domain}")
    print(
        f"{len(summary.added)} added, {len(summary.changed)} changed, "
        f"{len(summary.unchanged)} unchanged, {len(parsed.errors)} refused"
        + (" (dry run: nothing saved)" if dry_run else "")
    )


async def _list_policies(conn: Connection) -> None:
    for policy in await queries.select_domain_policies(conn, limit=100_000):
        options = [
            name
            for name, on in (
                ("reject_media", policy.reject_media),
                ("reject_reports", policy.reject_reports),
                ("obfuscate", policy.obfuscate),
                ("from_list", policy.blocklist_id is not None),
            )
            if on
        ]
        print(f"{policy.domain}\t{policy.action}\t{policy.reason}\t{','.join(options)}")
    for trusted in await queries.select_vote_trusted_domains(conn, limit=10_000):
        print(f"{trusted}\ttrust-votes\t")


async def cmd_blocklists(settings: Settings, args: argparse.Namespace) -> None:
    """Subscribe to, unsubscribe from, or sync the published block lists."""
    async with database(settings) as ready:
        await migrated(ready)
        async with open_pool(ready) as pool:
            clock = SystemClock()
            command = args.policy_command
            if command == "unsubscribe":
                async with pool.acquire() as conn:
                    found = [b for b in await queries.select_blocklists(conn) if b.url == args.url]
                    if not found:
                        raise CommandError(f"not subscribed: {args.url}")
                    await blocklists.unsubscribe(conn, cli_actor(), found[0].id, now=clock.now())
                print(f"unsubscribed from {args.url}; its entries are lifted")
                return
            if command == "subscribe":
                async with pool.acquire() as conn:
                    try:
                        await blocklists.subscribe(conn, cli_actor(), args.url, now=clock.now())
                    except domains.PolicyError as error:
                        raise CommandError(error.detail) from None
            federation = await start_federation(
                pool, ready, clock=clock, keygen=generate_rsa_keypair
            )
            try:
                results = await blocklists.sync_all(
                    pool, federation.fetcher, now=clock.now(), actor=cli_actor()
                )
            finally:
                await federation.close()
            for result in results:
                if command == "subscribe" and result.url != args.url.strip():
                    continue
                if result.error:
                    print(f"{result.url}: not synced: {result.error}")
                else:
                    print(
                        f"{result.url}: {result.added} added, {result.changed} changed, "
                        f"{result.lifted} lifted, {result.kept_manual} kept as set by hand"
                    )


async def _set_vote_trust(conn: Connection, server: str, *, trusted: bool) -> None:
    authority = trusted_authority(server)
    if authority is None:
        raise CommandError(f"not a server name: {server!r}")
    now = SystemClock().now()
    async with conn.transaction():
        if not trusted:
            removed = await queries.delete_vote_trusted_domain(conn, authority)
            if removed:
                await audit_queries.record(
                    conn, cli_actor(), "votes.distrust", target=authority, now=now
                )
            print(
                f"{authority}: votes no longer counted" if removed else f"{authority}: not trusted"
            )
            return
        await queries.insert_vote_trusted_domain(conn, authority, now=now)
        await audit_queries.record(conn, cli_actor(), "votes.trust", target=authority, now=now)
    print(f"{authority}: votes counted in every proposal's result")


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
