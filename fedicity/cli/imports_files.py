"""`fedicity organizations import FILE --map field=column ... --admin NAME [--dry-run]` and
`fedicity territories centres FILE [--dry-run]`: the files an admin applies, from the command
line (the same machinery as /admin/imports/files)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.audit.models import cli_actor
from fedicity.cli.lifecycle import CommandError
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.imports import centres, organizations_csv
from fedicity.imports.files import FilePlan, FileRefused, source_label
from fedicity.organizations.service import Env
from fedicity.urls import Urls

if TYPE_CHECKING:
    from fedicity.settings import Settings

Action = Callable[[Connection], Awaitable[None]]
WithConn = Callable[["Settings", Action], Awaitable[None]]


def print_plan(plan: FilePlan[Any]) -> None:
    """Every row that changes or is refused, one line each, then the counts."""
    for row in plan.rows:
        if row.outcome == "unchanged":
            continue
        what = f"line {row.line}: {row.outcome} {row.title or row.external_id}"
        if row.outcome == "updated":
            what += f" ({', '.join(row.fields)})"
        if row.reason:
            what += f": {row.reason}"
        print(what)
        for note in row.notes:
            print(f"line {row.line}: note: {note}")
    verb = "applied" if plan.applied else "dry run, nothing applied"
    print(f"{plan.label}: {plan.summary()} ({verb})")


def _read(path: Path, cap: int) -> bytes:
    try:
        if path.stat().st_size > cap:
            raise CommandError(f"{path}: larger than {cap // (1024 * 1024)} MiB")
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: {error.strerror}") from None


def _mapping(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field not in organizations_csv.FIELDS:
            raise CommandError(
                f"--map {pair!r}: FIELD=COLUMN, FIELD one of {', '.join(organizations_csv.FIELDS)}"
            )
        mapping[field] = column
    return mapping


def register_organizations(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:
    """Add `import` to the organisations' command."""

    async def handler(settings: Settings, args: argparse.Namespace) -> None:
        data = _read(args.file, organizations_csv.MAX_FILE_BYTES)
        mapping = _mapping(args.map)

        async def action(conn: Connection) -> None:
            admin = await actor_queries.select_actor_by_username(conn, args.admin)
            if admin is None or admin.kind != "person":
                raise CommandError(f"no local person named {args.admin!r}")
            importer = organizations_csv.Importer(
                by=cli_actor(),
                admin=admin,
                keygen=generate_rsa_keypair,
                env=Env(Urls(settings.base_url), SystemClock()),
            )
            try:
                plan, used = await organizations_csv.import_file(
                    conn,
                    data,
                    label=source_label(args.file.name),
                    mapping=mapping,
                    importer=importer,
                    dry_run=args.dry_run,
                )
            except (FileRefused, organizations_csv.MappingError) as refused:
                raise CommandError(f"{args.file}: {refused}") from None
            print("mapping: " + " ".join(f"{k}={v}" for k, v in used.items()))
            print_plan(plan)

        await with_conn(settings, action)

    text = "create or update organisations from a CSV (e.g. an RNA register extract)"
    parser = actions.add_parser("import", help=text, description=text)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help=f"which column gives a field ({', '.join(organizations_csv.FIELDS)}); "
        "COLUMN may be a+b to join columns; without --map, guessed from the header",
    )
    parser.add_argument(
        "--admin", required=True, help="the local person made the organisations' first admin"
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.set_defaults(handler=handler)


def register_centres(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:
    """Add `centres` to the territories' command."""

    async def handler(settings: Settings, args: argparse.Namespace) -> None:
        data = _read(args.file, centres.MAX_FILE_BYTES)

        async def action(conn: Connection) -> None:
            try:
                plan = await centres.import_file(
                    conn,
                    data,
                    label=source_label(args.file.name),
                    by=cli_actor(),
                    now=SystemClock().now(),
                    dry_run=args.dry_run,
                )
            except FileRefused as refused:
                raise CommandError(f"{args.file}: {refused}") from None
            print_plan(plan)

        await with_conn(settings, action)

    text = "set communes' centres from a CSV or GeoJSON (INSEE code and a point or an outline)"
    parser = actions.add_parser("centres", help=text, description=text)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.set_defaults(handler=handler)
