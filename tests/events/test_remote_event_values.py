"""Values of remote Events read by events.parse.event_from_ap: out-of-range numbers and times are
dropped or refused, padded times and unknown join modes are read the tolerant way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fedicity.events.models import EventData
from fedicity.events.parse import coordinates, event_from_ap

ORGANIZER = "https://events.example/@alice"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _event(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "https://events.example/events/1",
        "type": "Event",
        "name": "Repair café",
        "startTime": "2026-03-14T10:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "location": {"type": "Place", "name": "Salle des fêtes"},
    }
    document.update(overrides)
    return document


def test_a_huge_integer_coordinate_or_count_is_dropped_not_raised() -> None:
    # JSON integers are unbounded: float() of one past 1e308 overflows.
    assert coordinates(10**400, 2) == (None, None, False)
    data = event_from_ap(
        _event(
            location={"type": "Place", "name": "Ici", "latitude": 10**400, "longitude": 2},
            maximumAttendeeCapacity=10**400,
            participantCount=-(10**400),
        ),
        organizer=ORGANIZER,
        now=NOW,
    )
    assert isinstance(data, EventData)
    assert data.location.latitude is None
    assert data.capacity is None
    assert data.remote_participant_count is None


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_a_start_with_no_utc_equivalent_is_refused(moment: str) -> None:
    data = event_from_ap(_event(startTime=moment), organizer=ORGANIZER, now=NOW)
    assert data == "the event has no valid startTime"


def test_an_end_or_update_with_no_utc_equivalent_is_dropped() -> None:
    data = event_from_ap(
        _event(endTime="9999-12-31T23:00:00-05:00", updated="0001-01-01T00:00:00+01:00"),
        organizer=ORGANIZER,
        now=NOW,
    )
    assert isinstance(data, EventData)
    assert data.ends_at is None
    assert data.updated is None


def test_padded_remote_times_are_still_read() -> None:
    data = event_from_ap(_event(startTime=" 2026-03-14T10:00:00Z\n"), organizer=ORGANIZER, now=NOW)
    assert isinstance(data, EventData)
    assert data.starts_at == datetime(2026, 3, 14, 10, tzinfo=UTC)


def test_remote_join_mode_is_read_or_defaults_to_free() -> None:
    for raw, expected in (("restricted", "restricted"), ("nonsense", "free"), (["free"], "free")):
        data = event_from_ap(_event(joinMode=raw), organizer=ORGANIZER, now=NOW)
        assert isinstance(data, EventData)
        assert data.join_mode == expected
