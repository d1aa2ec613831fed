"""Times as people read them: in the instance's zone (FEDICITY_TIMEZONE) when a thing has none of
its own, never in UTC without saying so."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from fedicity.web.app import state


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(moment: datetime) -> str:
    """A moment as the instance's clocks show it: `2026-12-05 14:30`."""
    return moment.astimezone(_zone(state().settings.timezone)).strftime("%Y-%m-%d %H:%M")


def zone_name() -> str:
    """The zone local_time() shows times in, to say so where a deadline is given."""
    return state().settings.timezone
