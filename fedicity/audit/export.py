"""The audit log as CSV, for the instance's records and for anyone the admins answer to."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

from fedicity.activitypub.dates import format_datetime
from fedicity.audit.models import Entry

HEADER = ("id", "when", "who", "account_id", "action", "target", "reason", "details")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str) -> str:
    """Text a spreadsheet shows as text rather than runs as a formula (a quote before it): a
    reason typed by an admin, or a remote name, must open as text."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def unquoted_cell(text: str) -> str:
    """A cell spreadsheet_cell quoted, as it was: a CSV read back is what went out."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


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
            spreadsheet_cell(entry.actor_name),
            "" if entry.account_id is None else str(entry.account_id),
            entry.action,
            spreadsheet_cell(entry.target),
            spreadsheet_cell(entry.reason),
            json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
        )
    )


async def csv_lines(entries: AsyncIterator[Entry]) -> AsyncIterator[str]:
    """The header, then one record per entry."""
    yield csv_line(HEADER)
    async for entry in entries:
        yield entry_line(entry)
