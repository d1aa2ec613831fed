"""The audit log as CSV, for the instance's records and for anyone the admins answer to."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

from fedicity.activitypub.dates import format_datetime
from fedicity.audit.models import Entry

HEADER = ("id", "when", "who", "account_id", "action", "target", "reason", "details")


def _cell(text: str) -> str:
    # A cell starting with =, +, - or @ is a formula to a spreadsheet: a reason typed by an
    # admin, or a remote name, must open as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_line(values: tuple[str, ...]) -> str:
    """One CSV record (RFC 4180: quoted as needed, CRLF)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def entry_line(entry: Entry) -> str:
    """An entry as one CSV record."""
    return csv_line(
        (
            str(entry.id),
            format_datetime(entry.created_at),
            _cell(entry.actor_name),
            "" if entry.account_id is None else str(entry.account_id),
            entry.action,
            _cell(entry.target),
            _cell(entry.reason),
            json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
        )
    )


async def csv_lines(entries: AsyncIterator[Entry]) -> AsyncIterator[str]:
    """The header, then one record per entry."""
    yield csv_line(HEADER)
    async for entry in entries:
        yield entry_line(entry)
