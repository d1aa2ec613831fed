"""What both feed parsers share, pure: the window of time a feed is read in, the bounds of a
feed, and plain text made from hostile text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fedicity.events.service import MAX_DESCRIPTION
from fedicity.events.text import is_zone
from fedicity.sanitize import html_to_text

# A town's calendar holds a few hundred events; more is a mistake or an attack.
MAX_EVENTS = 2000
MAX_FEED_BYTES = 4 * 1024 * 1024
# One recurring series gives at most this many occurrences (a daily event for six months).
MAX_OCCURRENCES = 200
MAX_EXTERNAL_ID = 1000
# Events that ended longer ago than this are not imported (nor cancelled when they vanish).
PAST = timedelta(days=30)
RECURRENCES_AHEAD = timedelta(days=183)
FUTURE = timedelta(days=5 * 366)
MAX_DURATION = timedelta(days=366)
_TAG_LOOKS = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#!|~])")


@dataclass(frozen=True)
class Window:
    """When a feed is read: its occurrences are kept from `now - PAST` on, recurrences are
    expanded for the coming months, and floating times are in `zone`."""

    now: datetime
    zone_key: str

    @property
    def zone(self) -> ZoneInfo:
        """The zone of floating times and all-day dates (FEDICITY_TIMEZONE)."""
        return ZoneInfo(self.zone_key)

    @property
    def earliest_end(self) -> datetime:
        """Occurrences that ended before this are left out."""
        return self.now - PAST

    @property
    def recurrences_until(self) -> datetime:
        """Recurring events are expanded up to this moment."""
        return self.now + RECURRENCES_AHEAD


def bounded_times(
    starts_at: datetime, ends_at: datetime | None, window: Window
) -> tuple[datetime, datetime | None] | str:
    """The times when they make sense; else "over" (ended long ago) or why they are refused."""
    if not 1900 <= starts_at.year <= 9000 or (
        ends_at is not None and not 1900 <= ends_at.year <= 9000
    ):
        return "date_out_of_range"
    if ends_at is not None and ends_at < starts_at:
        return "ends_before_start"
    if ends_at is not None and ends_at - starts_at > MAX_DURATION:
        return "duration_too_long"
    if starts_at > window.now + FUTURE:
        return "too_far_ahead"
    if (ends_at or starts_at) < window.earliest_end:
        return "over"
    return starts_at, ends_at


def external_id_problem(uid: str) -> str | None:
    """Why a row's identity cannot be used for de-duplication, or None."""
    if not uid:
        return "uid_missing"
    if len(uid) > MAX_EXTERNAL_ID:
        return "uid_too_long"
    return None


def _printable(text: str) -> str:
    """Text without NUL and the other control characters (PostgreSQL refuses NUL)."""
    return "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs", "Co")
    )


def clean_line(text: str, *, limit: int | None) -> str:
    """One line of plain text, at most `limit` characters."""
    line = " ".join(_printable(text).split())
    return line if limit is None else line[:limit].strip()


def clean_text(text: str) -> str:
    """A description as plain text: HTML read as text (never trusted), at most the events'
    length."""
    plain = _printable(text.replace("\r\n", "\n").replace("\r", "\n"))
    if _TAG_LOOKS.search(plain[: MAX_DESCRIPTION * 2]):
        plain = html_to_text(plain[: MAX_DESCRIPTION * 4])
    plain = plain.strip()
    if len(plain) > MAX_DESCRIPTION // 2:
        plain = plain[: MAX_DESCRIPTION // 2 - 1] + "…"
    return plain


def as_markdown(plain: str) -> str:
    """Plain text as Markdown that shows it as it is (events' descriptions are Markdown)."""
    return _MARKDOWN.sub(r"\\\1", plain)


def zone_name(value: Any, window: Window) -> str:
    """The named zone of a time read from a feed, or the instance's (UTC and floating times,
    dates, zones we do not know)."""
    key = getattr(getattr(value, "tzinfo", None), "key", None)
    if isinstance(key, str) and key not in ("UTC", "Etc/UTC") and is_zone(key):
        return key
    return window.zone_key
