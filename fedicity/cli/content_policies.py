"""`fedicity content-policy list|set|decisions|release|reject`: the content policies on inbound
activities, from the command line (each change in the audit log as the command line's user)."""

from __future__ import annotations

import argparse

from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError, with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.moderation import content, content_service
from fedicity.moderation import content_queries as queries
from fedicity.moderation.content import ContentPolicyError, PolicyConfig
from fedicity.settings import Settings

_KEYS = ("enabled", "action", "terms", "amount", "reason")
_YES = {"yes", "true", "on", "1"}
_NO = {"no", "false", "off", "0"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `content-policy` command to the `fedicity` parser."""
    top = commands.add_parser(
        "content-policy",
        help="the content policies run on every activity other servers send",
        description="content policies: keywords, hashtags, mentions, old objects, links from "
        "new accounts, unknown actor types",
    )
    sub = top.add_subparsers(dest="content_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="every policy and its settings", description="policies")
    listing.set_defaults(handler=cmd_content_policy)
    setting = sub.add_parser(
        "set",
        help="change a policy: NAME key=value...",
        description="change a policy. Keys: enabled=yes|no, action=reject|flag (keyword, "
        "hashtag), terms='a, b' (keyword, hashtag; comma-separated), amount=N (mentions, "
        "object_age in days, new_actor_links in hours), reason=... (for the audit log)",
    )
    setting.add_argument("name", choices=content.POLICIES)
    setting.add_argument("values", nargs="+", metavar="key=value")
    setting.set_defaults(handler=cmd_content_policy)
    decided = sub.add_parser(
        "decisions", help="the latest decisions, newest first", description="latest decisions"
    )
    decided.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    decided.add_argument("--held", action="store_true", help="only the activities still held")
    decided.set_defaults(handler=cmd_content_policy)
    for name, text in (
        ("release", "let a held activity be processed as usual"),
        ("reject", "ignore a held activity"),
    ):
        resolve = sub.add_parser(name, help=text, description=text)
        resolve.add_argument("decision", type=int, help="the number `decisions --held` shows")
        resolve.add_argument("--reason", default="")
        resolve.set_defaults(handler=cmd_content_policy)


def parse_values(pairs: list[str]) -> dict[str, str]:
    """key=value arguments, each key once and known; CommandError otherwise."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in _KEYS:
            raise CommandError(f"expected key=value with a key among {', '.join(_KEYS)}: {pair!r}")
        if key in values:
            raise CommandError(f"{key} is given twice")
        values[key] = value
    return values


def _enabled(current: PolicyConfig, text: str | None) -> bool:
    if text is None:
        return current.enabled
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise CommandError(f"enabled is yes or no, not {text!r}")


def _shown(config: PolicyConfig) -> str:
    parts = [config.name, "on" if config.enabled else "off"]
    if config.name in content.CHOOSE_ACTION:
        parts.append(config.action)
    if config.name in content.WITH_TERMS:
        parts.append(", ".join(config.terms) or "-")
    if config.amount is not None:
        parts.append(str(config.amount))
    return "\t".join(parts)


async def cmd_content_policy(settings: Settings, args: argparse.Namespace) -> None:
    """List, change or look at the content policies and what they decided."""

    async def action(conn: Connection) -> None:
        now = SystemClock().now()
        command = args.content_command
        if command == "list":
            for config in (await queries.select_configs(conn)).values():
                print(_shown(config))
        elif command == "set":
            values = parse_values(args.values)
            for key, applies in (
                ("action", content.CHOOSE_ACTION),
                ("terms", content.WITH_TERMS),
                ("amount", content.AMOUNT_BOUNDS),
            ):
                if key in values and args.name not in applies:
                    raise CommandError(f"{args.name} takes no {key}")
            current = (await queries.select_configs(conn))[args.name]
            actor = cli_actor()
            try:
                updated = content_service.configure(
                    current,
                    enabled=_enabled(current, values.get("enabled")),
                    action=values.get("action"),
                    terms=values.get("terms"),
                    amount=values.get("amount"),
                    by=actor,
                    now=now,
                )
            except ContentPolicyError as error:
                raise CommandError(error.detail) from error
            await content_service.save_policy(
                conn, updated, by=actor, reason=values.get("reason", "")[:500], now=now
            )
            print(_shown(updated))
        elif command == "decisions":
            found = await queries.select_decisions(
                conn, limit=max(1, min(args.limit, 10_000)), held_only=args.held
            )
            for decision in found:
                when = decision.decided_at.isoformat(timespec="seconds")
                state = decision.hold_state or decision.decision
                print(
                    f"{decision.id}\t{when}\t{decision.policy}\t{state}\t{decision.actor_uri}\t"
                    f"{decision.activity_uri}\t{decision.reason}"
                )
        else:
            try:
                await content_service.resolve_held(
                    conn,
                    args.decision,
                    release=command == "release",
                    by=cli_actor(),
                    reason=args.reason[:500],
                    now=now,
                )
            except ContentPolicyError as error:
                raise CommandError(f"no activity held with the number {args.decision}") from error

    await with_conn(settings, action)
