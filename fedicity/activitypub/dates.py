"""xsd:dateTime both ways: the one reader of dates (from the network and from our forms) and the
one writer of ours; and HTTP dates (Date, Retry-After).

Python's datetime stops at years 1 and 9999, and PostgreSQL's driver converts every moment to UTC:
a remote `0001-01-01T00:30:00+01:00` or `9999-12-31T23:30:00-05:00` parses, then overflows when
stored, and a year-1 moment stored in UTC overflows again when shown in a zone west of it. So a
moment is read only when it falls between EARLIEST and LATEST, far enough from both ends for any
zone and any day's arithmetic; anything else is None, and the caller drops the date or refuses the
object, the same way on every try.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime

EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
# The longest xsd:dateTime with nanoseconds and an offset is 35 characters; past this, garbage.
_MAX_LENGTH = 64


def in_range(moment: datetime) -> bool:
    """Whether an aware moment lies between EARLIEST (included) and LATEST (excluded)."""
    try:
        return EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:
        return False


def parse_datetime(value: object) -> datetime | None:
    """An xsd:dateTime read from the network as an aware datetime (the sender's offset kept), or
    None when it is not a string, not a date and time, has no zone (an unknown instant) or falls
    outside EARLIEST..LATEST."""
    if not isinstance(value, str) or len(value) > _MAX_LENGTH:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or not in_range(parsed):
        return None
    return parsed


def parse_form_time(value: str, zone: tzinfo) -> datetime | None:
    """A form's date and time (`datetime-local`: no offset, read in `zone`; an explicit offset
    wins) as an aware datetime, or None when it is not one or falls outside EARLIEST..LATEST."""
    if len(value) > _MAX_LENGTH:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed if in_range(parsed) else None


def format_datetime(moment: datetime) -> str:
    """Our moment as an xsd:dateTime in UTC, to the second, with a Z (as most servers write it)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def format_wall_time(moment: datetime, zone: tzinfo) -> str:
    """Our moment as an xsd:dateTime at its wall time in `zone`, with that offset: peers that
    ignore an event's `timezone` still get the right instant."""
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def format_form_time(moment: datetime, zone: tzinfo) -> str:
    """Our moment as a form's `datetime-local` value at its wall time in `zone` (to the minute)."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def parse_http_date(value: str, *, naive_as_utc: bool) -> datetime | None:
    """An HTTP date (IMF-fixdate and its RFC 2822 cousins) as an aware datetime, or None; one
    without a zone is UTC when `naive_as_utc` (a Date header), else None (a Retry-After)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an hour of 2147483648
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC) if naive_as_utc else None
    return parsed
