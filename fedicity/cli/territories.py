"""`fedicity territories ...`: import the tree, build the shipped file, show a territory, add a
quartier. cli/main.py plugs these in with `register(commands, with_conn)`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from fedicity.cli import imports_files
from fedicity.cli.lifecycle import CommandError
from fedicity.db.pool import Connection
from fedicity.territories import queries
from fedicity.territories.importer import import_territories
from fedicity.territories.models import LEVELS, ImportFormatError, Level, slugify
from fedicity.territories.sources import FORMATS, Format, build_data

if TYPE_CHECKING:
    from fedicity.settings import Settings

Action = Callable[[Connection], Awaitable[None]]
WithConn = Callable[["Settings", Action], Awaitable[None]]
Handler = Callable[["Settings", argparse.Namespace], Awaitable[None]]


def _error(message: str) -> Exception:
    """The command error `fedicity` prints as one line."""
    return CommandError(message)


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], with_conn: WithConn
) -> None:
    """Add the `territories` command and its actions to the `fedicity` parser."""
    parser = subparsers.add_parser(
        "territories",
        help="the tree of French territories",
        description="the tree of French territories (régions, départements, EPCIs, communes)",
    )
    actions = parser.add_subparsers(dest="territories_command", required=True, metavar="ACTION")

    text = "import or refresh territories (the shipped file by default)"
    importing = actions.add_parser("import", help=text, description=text)
    importing.add_argument(
        "--file",
        type=Path,
        help="a CSV (.csv, .csv.gz), GeoJSON (.geojson, .json) or the package's data folder",
    )
    importing.add_argument("--format", choices=FORMATS, default="auto", dest="source_format")
    importing.set_defaults(handler=_import_handler(with_conn))

    text = "derive the shipped file from @etalab/decoupage-administratif's data folder"
    building = actions.add_parser("build-data", help=text, description=text)
    building.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    building.add_argument("--out", type=Path, required=True, metavar="FILE")
    building.set_defaults(handler=_build_data)

    text = "show a territory: its breadcrumb and what lies below it"
    showing = actions.add_parser("show", help=text, description=text)
    showing.add_argument("level", choices=LEVELS)
    showing.add_argument("code")
    showing.set_defaults(handler=_show_handler(with_conn))

    text = "add a quartier to a commune"
    adding = actions.add_parser("quartier-add", help=text, description=text)
    adding.add_argument("commune_code", metavar="COMMUNE_CODE")
    adding.add_argument("name", metavar="NAME")
    adding.set_defaults(handler=_quartier_add_handler(with_conn))

    imports_files.register_centres(actions, with_conn)


def _import_handler(with_conn: WithConn) -> Handler:
    async def handler(settings: Settings, args: argparse.Namespace) -> None:
        async def action(conn: Connection) -> None:
            try:
                report = await import_territories(
                    conn, args.file, source_format=cast(Format, args.source_format)
                )
            except ImportFormatError as error:
                raise _error(str(error)) from error
            for line in report.summary():
                print(line)

        await with_conn(settings, action)

    return handler


async def _build_data(settings: Settings, args: argparse.Namespace) -> None:
    try:
        count = build_data(args.source, args.out)
    except ImportFormatError as error:
        raise _error(str(error)) from error
    print(f"wrote {count} territories to {args.out} ({args.out.stat().st_size} bytes)")


def _show_handler(with_conn: WithConn) -> Handler:
    async def handler(settings: Settings, args: argparse.Namespace) -> None:
        async def action(conn: Connection) -> None:
            level = cast(Level, args.level)
            territory = await queries.select_territory(conn, level, args.code)
            if territory is None:
                raise _error(f"no {level} with code {args.code!r}")
            trail = await queries.select_ancestors(conn, territory.id, include_self=True)
            print(" > ".join(f"{t.name} ({t.level} {t.code})" for t in trail))
            details = [f"kind {territory.kind}"] if territory.kind else []
            if territory.population is not None:
                details.append(f"population {territory.population}")
            if territory.postal_codes:
                details.append("postal codes " + " ".join(territory.postal_codes))
            if territory.zone:
                details.append(f"zone {territory.zone}")
            if territory.latitude is not None:
                details.append(f"centre {territory.latitude}, {territory.longitude}")
            if details:
                print("; ".join(details))
            below = await queries.count_descendants_by_level(conn, territory.id)
            counts = [f"{below[lv]} {lv}" for lv in LEVELS if below.get(lv)]
            print("below: " + (", ".join(counts) if counts else "nothing"))

        await with_conn(settings, action)

    return handler


def _quartier_add_handler(with_conn: WithConn) -> Handler:
    async def handler(settings: Settings, args: argparse.Namespace) -> None:
        if not slugify(args.name):
            raise _error(f"a quartier name needs a letter or a digit: {args.name!r}")

        async def action(conn: Connection) -> None:
            commune = await queries.select_territory(conn, "commune", args.commune_code)
            if commune is None:
                raise _error(f"no commune with code {args.commune_code!r}")
            quartier = await queries.insert_quartier(conn, commune.id, args.name)
            if quartier is None:
                code = f"{commune.code}-{slugify(args.name)}"
                raise _error(f"quartier {code} already exists")
            print(f"added quartier {quartier.code} {quartier.name!r} to {commune.name}")

        await with_conn(settings, action)

    return handler
