"""Remote Questions the proposals table would refuse (an inbox row failing on every retry) are read
so that they fit, or refused as malformed."""

from __future__ import annotations

import json
from typing import Any

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.proposals import parse as proposals_parse
from fedicity.proposals import queries
from tests.conftest import FIXTURES

RIN = "https://mastodon.sdf.org/users/rinpatch"


def _question(**extra: Any) -> dict[str, Any]:
    activity = json.loads((FIXTURES / "inbound" / "mastodon_create_question_1.json").read_text())
    return {**activity["object"], **extra}


def test_a_question_with_more_options_than_the_table_allows_is_refused() -> None:
    options = [{"type": "Note", "name": f"Option {n}"} for n in range(21)]
    parsed = proposals_parse.from_ap(_question(oneOf=options), author=RIN, now=FrozenClock().now())
    assert isinstance(parsed, str)
    twenty = proposals_parse.from_ap(
        _question(oneOf=options[:20]), author=RIN, now=FrozenClock().now()
    )
    assert not isinstance(twenty, str)
    assert len(twenty.options) == 20


async def test_out_of_range_counts_and_dates_of_a_remote_question_are_dropped(
    pool: Pool, clock: FrozenClock
) -> None:
    question = _question(
        votersCount=2**40,
        votingOpens="2030-01-02T00:00:00Z",
        endTime="2030-01-01T00:00:00Z",
        published="0001-01-01T00:00:00+14:00",
        updated="9999-12-31T23:59:59-14:00",
    )
    parsed = proposals_parse.from_ap(question, author=RIN, now=clock.now())
    assert not isinstance(parsed, str)
    assert parsed.remote_voters_count is None
    assert parsed.voting_opens is None
    assert parsed.voting_ends == proposals_parse.parse_time("2030-01-01T00:00:00Z")
    assert parsed.published == clock.now()
    assert parsed.updated is None
    async with pool.acquire() as conn:
        stored = await queries.upsert_proposal(conn, parsed)
    assert stored.remote_voters_count is None
    assert stored.voting_ends == parsed.voting_ends


def test_parse_time_keeps_ordinary_times() -> None:
    parsed = proposals_parse.parse_time("2019-05-10T09:03:36+02:00")
    assert parsed is not None
    assert parsed.isoformat() == "2019-05-10T09:03:36+02:00"
    assert proposals_parse.parse_time("2019-05-10T09:03:36") is None
