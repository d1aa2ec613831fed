"""The event form's dates: a date and zone with no UTC equivalent is a form error, not a 500."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from fedicity.events.service import EventError
from fedicity.web.event_form import form_input


@pytest.mark.parametrize(
    ("starts_at", "timezone"),
    [("0001-01-01T00:00", "Europe/Paris"), ("9999-12-31T23:59", "America/New_York")],
)
def test_a_form_date_with_no_utc_equivalent_is_a_form_error(starts_at: str, timezone: str) -> None:
    form = MultiDict({"title": "Repair café", "starts_at": starts_at, "timezone": timezone})
    with pytest.raises(EventError) as raised:
        form_input(form)
    assert raised.value.code == "time_invalid"
