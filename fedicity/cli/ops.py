"""`fedicity queue stats` and `fedicity stats`: the admin dashboard's figures in a terminal."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fedicity.cli.lifecycle import with_conn
from fedicity.clock import SystemClock
from fedicity.db.pool import Connection
from fedicity.media.service import media_root
from fedicity.ops import service
from fedicity.ops.models import DomainRow, Overview, QueueStats
from fedicity.settings import Settings

DEFAULT_DOMAINS = 10
MAX_DOMAINS = 10_000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `queue` and `stats` commands to the `fedicity` parser."""
    queue = commands.add_parser(
        "queue", help="the inbox and delivery queues", description="the inbox and delivery queues"
    )
    sub = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    stats = sub.add_parser(
        "stats",
        help="waiting rows, lag, and the domains in the worst health",
        description="each queue's waiting and due rows and lag, then the peer domains in the "
        "worst health (last success, failures, deliveries waiting)",
    )
    _common(stats)
    stats.set_defaults(handler=cmd_queue_stats)
    overall = commands.add_parser(
        "stats",
        help="what the admin dashboard shows",
        description="queues, users, storage and the moderation backlog, then the peer domains "
        "in the worst health",
    )
    _common(overall)
    overall.set_defaults(handler=cmd_stats)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--domains",
        type=int,
        default=DEFAULT_DOMAINS,
        help=f"how many domains to list, worst first (default {DEFAULT_DOMAINS}; 0 for none)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")


async def cmd_queue_stats(settings: Settings, args: argparse.Namespace) -> None:
    """Print the queues and the worst domains."""
    await _report(settings, args, everything=False)


async def cmd_stats(settings: Settings, args: argparse.Namespace) -> None:
    """Print the whole dashboard."""
    await _report(settings, args, everything=True)


async def _report(settings: Settings, args: argparse.Namespace, *, everything: bool) -> None:
    count = max(0, min(args.domains, MAX_DOMAINS))

    async def action(conn: Connection) -> None:
        now = SystemClock().now()
        figures = await service.overview(conn, now=now, media_dir=media_root(settings.data_dir))
        domains, _more = await service.domains_page(conn, page=0, size=count)
        if args.json:
            print(json.dumps(_document(figures, domains, everything=everything), indent=2))
        else:
            print("\n".join(_lines(figures, domains, everything=everything)))

    await with_conn(settings, action)


def _document(figures: Overview, domains: list[DomainRow], *, everything: bool) -> dict[str, Any]:
    now = figures.taken_at
    document: dict[str, Any] = {
        "taken_at": now.isoformat(),
        "queues": [
            {**asdict(queue), "lag_seconds": queue.lag_seconds(now)} for queue in figures.queues
        ],
        "domains": [{**asdict(row), "status": row.status} for row in domains],
    }
    if everything:
        document.update(
            users=asdict(figures.users),
            storage=asdict(figures.storage),
            backlog=asdict(figures.backlog),
            domains_known=figures.domains_known,
            domains_unavailable=figures.domains_unavailable,
        )
    return json.loads(json.dumps(document, default=_moment))  # type: ignore[no-any-return]


def _moment(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _lines(figures: Overview, domains: list[DomainRow], *, everything: bool) -> list[str]:
    now = figures.taken_at
    lines = ["queue\tpending\tdue\tlag_seconds\tfailed"]
    lines += [_queue_line(queue, now) for queue in figures.queues]
    if everything:
        users, storage, backlog = figures.users, figures.storage, figures.backlog
        lines += [
            "",
            f"accounts\t{users.accounts}",
            f"active_30_days\t{users.active_30_days}",
            f"admins\t{users.admins}",
            f"remote_actors\t{users.remote_actors}",
            f"database_bytes\t{storage.database_bytes}",
            f"media_files\t{storage.media_files}",
            f"media_bytes\t{storage.media_bytes}",
            f"disk_files\t{storage.disk_files}",
            f"disk_bytes\t{storage.disk_bytes}",
            f"open_reports\t{backlog.open_reports}",
            f"oldest_open_report\t{_when(backlog.oldest_open_at)}",
            f"domains_known\t{figures.domains_known}",
            f"domains_unavailable\t{figures.domains_unavailable}",
        ]
    if domains:
        lines += [
            "",
            "domain\tstatus\tlast_success\tlast_failure\tfailure_days\toutgoing\tincoming",
        ]
        lines += [
            f"{row.domain}\t{row.status}\t{_when(row.last_success_at)}\t"
            f"{_when(row.last_failure_at)}\t{row.failure_days}\t{row.outgoing}\t{row.incoming}"
            for row in domains
        ]
    return lines


def _queue_line(queue: QueueStats, now: datetime) -> str:
    failed = "-" if queue.failed is None else str(queue.failed)
    return f"{queue.queue}\t{queue.pending}\t{queue.due}\t{queue.lag_seconds(now):.0f}\t{failed}"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
