"""The one reader and writer of xsd:dateTime (fedicity.activitypub.dates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fedicity.activitypub.dates import (
    EARLIEST,
    LATEST,
    format_datetime,
    format_form_time,
    format_wall_time,
    parse_datetime,
    parse_form_time,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2019-05-10T09:03:36+02:00", datetime(2019, 5, 10, 7, 3, 36, tzinfo=UTC)),
        ("2019-05-10T07:03:36Z", datetime(2019, 5, 10, 7, 3, 36, tzinfo=UTC)),
        ("2019-05-10T07:03:36.123456789Z", datetime(2019, 5, 10, 7, 3, 36, 123456, tzinfo=UTC)),
        (" 2019-05-10T07:03:36Z\n", datetime(2019, 5, 10, 7, 3, 36, tzinfo=UTC)),
        ("1000-01-01T00:00:00Z", EARLIEST),
        ("9998-12-31T23:59:59Z", LATEST - timedelta(seconds=1)),
    ],
)
def test_a_date_with_a_zone_is_read_as_its_instant(text: str, instant: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed == instant


def test_the_senders_offset_is_kept() -> None:
    parsed = parse_datetime("2019-05-10T09:03:36+02:00")
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "value",
    [
        None,
        12,
        ["2019-05-10T07:03:36Z"],
        "",
        "tomorrow",
        "2019-05-10T07:03:36",  # no zone: an unknown instant
        "2019-05-10",
        "2019-13-10T07:03:36Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:30:00+01:00",  # no UTC equivalent at all
        "0999-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
        "9999-12-31T23:30:00-05:00",  # no UTC equivalent at all
        "10000-01-01T00:00:00Z",
        "2019-05-10T07:03:36Z" + " " * 100,
    ],
)
def test_anything_else_is_none(value: object) -> None:
    assert parse_datetime(value) is None


def test_ours_are_written_in_utc_to_the_second_with_a_z() -> None:
    moment = datetime(2026, 5, 2, 10, 0, 7, 999, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2026-05-02T08:00:07Z"
    assert parse_datetime(format_datetime(moment)) == moment.replace(microsecond=0)


def test_an_events_wall_time_keeps_its_offset() -> None:
    moment = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
    assert format_wall_time(moment, PARIS) == "2026-05-02T10:00:00+02:00"


def test_a_form_time_is_read_in_its_zone_and_written_back() -> None:
    parsed = parse_form_time("2026-05-02T10:00", PARIS)
    assert parsed == datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
    assert parsed is not None
    assert format_form_time(parsed, PARIS) == "2026-05-02T10:00"
    assert parse_form_time("2026-05-02T10:00+00:00", PARIS) == datetime(
        2026, 5, 2, 10, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("raw", ["", "soon", "0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_form_time_out_of_range_or_garbage_is_none(raw: str) -> None:
    assert parse_form_time(raw, PARIS) is None
