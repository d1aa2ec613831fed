"""The delivery retry policy (fedicity/activitypub/retry.py): pure functions, no I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise

import pytest

from fedicity.activitypub.retry import (
    MAX_ATTEMPTS,
    is_permanent,
    next_delay,
    parse_retry_after,
    total_schedule,
)

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
SEED = 20260314


def _base(attempts: int) -> timedelta:
    return timedelta(seconds=attempts**4 + 15)


def _max_jitter(attempts: int) -> timedelta:
    return timedelta(seconds=0.5 * attempts**4)


def test_delay_is_the_fourth_power_plus_15_s_plus_seeded_jitter() -> None:
    for attempts in range(1, MAX_ATTEMPTS):
        # Given a seeded random source
        # When the delay after `attempts` failures is computed
        delay = next_delay(attempts, None, rng=random.Random(SEED))
        # Then it is attempts**4 + 15 s plus exactly the jitter that source draws
        jitter = random.Random(SEED).uniform(0, 0.5 * attempts**4)
        assert delay == _base(attempts) + timedelta(seconds=jitter)
        assert _base(attempts) <= delay <= _base(attempts) + _max_jitter(attempts)


def test_delay_grows_with_attempts() -> None:
    # Given the same random draw for every attempt count
    # When the delays after 1..15 failures are computed
    drawn = [next_delay(n, 503, rng=random.Random(SEED)) for n in range(1, MAX_ATTEMPTS)]
    delays = [delay for delay in drawn if delay is not None]
    # Then each is longer than the one before
    assert len(delays) == MAX_ATTEMPTS - 1
    assert all(earlier < later for earlier, later in pairwise(delays))
    # And the first waits about 16 s while the fifteenth waits more than 14 hours
    assert timedelta(seconds=16) <= delays[0] <= timedelta(seconds=16.5)
    assert delays[-1] >= timedelta(hours=14)


def test_jitter_spreads_retries_over_the_whole_range() -> None:
    # Given many different seeds
    attempts = 6
    delays = [next_delay(attempts, None, rng=random.Random(seed)) for seed in range(200)]
    # Then every delay stays in [base, base + 0.5 * attempts**4]
    assert all(
        delay is not None and _base(attempts) <= delay <= _base(attempts) + _max_jitter(attempts)
        for delay in delays
    )
    # And they really differ, reaching both the low and the high quarter of the jitter range
    spread = [(delay - _base(attempts)) / _max_jitter(attempts) for delay in delays if delay]
    assert min(spread) < 0.25
    assert max(spread) > 0.75


def test_gives_up_after_max_attempts() -> None:
    # Given the documented 16 attempts
    assert MAX_ATTEMPTS == 16
    rng = random.Random(SEED)
    # Then a 15th failure still schedules a retry, whatever the status
    assert next_delay(MAX_ATTEMPTS - 1, None, rng=rng) is not None
    assert next_delay(MAX_ATTEMPTS - 1, 503, rng=rng) is not None
    # And the 16th failure gives up, even with a Retry-After or a retryable status
    assert next_delay(MAX_ATTEMPTS, None, rng=rng) is None
    assert next_delay(MAX_ATTEMPTS, 429, timedelta(seconds=5), rng=rng) is None
    assert next_delay(MAX_ATTEMPTS + 3, 500, rng=rng) is None


@pytest.mark.parametrize("status", [400, 403, 404, 405, 410, 413, 415, 422, 451, 499])
def test_client_errors_other_than_401_408_429_give_up_at_once(status: int) -> None:
    # Given the first failed attempt answered with a final 4xx
    # When the next delay is asked for, even with a Retry-After
    delay = next_delay(1, status, rng=random.Random(SEED))
    delay_with_hint = next_delay(1, status, timedelta(seconds=60), rng=random.Random(SEED))
    # Then there is none: the row fails now
    assert is_permanent(status)
    assert delay is None
    assert delay_with_hint is None


@pytest.mark.parametrize("status", [None, 401, 408, 429, 500, 502, 503, 504, 599])
def test_auth_timeouts_rate_limits_server_and_network_errors_are_retried(
    status: int | None,
) -> None:
    # Given a failed attempt that may well succeed later
    # When the next delay is asked for
    delay = next_delay(1, status, rng=random.Random(SEED))
    # Then a retry is scheduled on the normal curve
    assert not is_permanent(status)
    assert delay is not None
    assert _base(1) <= delay <= _base(1) + _max_jitter(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("  120 ", timedelta(minutes=2)),
        ("0", timedelta(0)),
        ("86400", timedelta(days=1)),
        ("86401", timedelta(days=1)),
        ("604800", timedelta(days=1)),
        ("000000000000000000003600", timedelta(hours=1)),
        ("99999999999999999999", timedelta(days=1)),
        ("9" * 5000, timedelta(days=1)),
    ],
)
def test_retry_after_in_seconds_is_read_and_capped_at_a_day(
    header: str, expected: timedelta
) -> None:
    # Given a Retry-After in delta-seconds
    # When it is parsed
    # Then it is that many seconds, never more than a day (and never an overflow)
    assert parse_retry_after(header, NOW) == expected


def test_retry_after_as_an_http_date_is_read_relative_to_now() -> None:
    # Given Retry-After HTTP dates 90 min ahead, in the past and three days ahead
    soon = format_datetime(NOW + timedelta(minutes=90), usegmt=True)
    past = format_datetime(NOW - timedelta(hours=2), usegmt=True)
    far = format_datetime(NOW + timedelta(days=3), usegmt=True)
    # When they are parsed
    # Then the delay is the time left until then, at least 0 and at most a day
    assert parse_retry_after(soon, NOW) == timedelta(minutes=90)
    assert parse_retry_after("Sat, 14 Mar 2026 16:09:26 GMT", NOW) == timedelta(hours=1)
    assert parse_retry_after(past, NOW) == timedelta(0)
    assert parse_retry_after(far, NOW) == timedelta(days=1)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "soon",
        "-5",
        "1.5",
        "²",  # isdigit() says yes, int() says no
        "١٢٠",  # Arabic-Indic digits
        "Sat, 14 Mar 2026 16:09:26",  # no zone
        "Sat, 32 Mar 2026 16:09:26 GMT",
        "Sat, 14 Mar 2026 99999999999:00:00 GMT",
    ],
)
def test_absent_or_malformed_retry_after_is_ignored(header: str | None) -> None:
    # Given a missing or malformed header
    # When it is parsed
    # Then there is no hint, and no exception
    assert parse_retry_after(header, NOW) is None


def test_retry_after_is_a_minimum_not_a_maximum() -> None:
    # Given a rate-limited first attempt asking for an hour
    # When the next delay is computed
    # Then the hour wins over the 16 s curve
    hint = parse_retry_after("3600", NOW)
    assert next_delay(1, 429, hint, rng=random.Random(SEED)) == timedelta(hours=1)
    # Given a fifth failure whose answer asked for only a second
    # Then the back-off curve still applies
    curve = next_delay(5, 503, rng=random.Random(SEED))
    hinted = next_delay(5, 503, timedelta(seconds=1), rng=random.Random(SEED))
    assert curve is not None
    assert hinted == curve
    assert hinted >= _base(5)
    # And an HTTP-date hint counts the same way
    dated = parse_retry_after(format_datetime(NOW + timedelta(hours=3), usegmt=True), NOW)
    assert next_delay(2, 503, dated, rng=random.Random(SEED)) == timedelta(hours=3)


def test_total_schedule_spans_two_to_three_days() -> None:
    # Given the whole back-off curve without jitter (15 waits between 16 attempts)
    total = total_schedule()
    # Then it is the sum of the waits and lasts between two and three days
    assert total == sum((_base(n) for n in range(1, MAX_ATTEMPTS)), timedelta(0))
    assert timedelta(days=2) < total < timedelta(days=3)
    # And the same schedule with jitter drawn stays within 2 days and 3.1 days
    rng = random.Random(SEED)
    drawn = [next_delay(n, None, rng=rng) for n in range(1, MAX_ATTEMPTS)]
    with_jitter = sum((delay for delay in drawn if delay is not None), timedelta(0))
    all_jitter = sum((_max_jitter(n) for n in range(1, MAX_ATTEMPTS)), timedelta(0))
    assert total <= with_jitter <= total + all_jitter
    assert with_jitter < timedelta(days=3.1)
    # And fewer attempts make a shorter schedule
    assert total_schedule(5) == sum((_base(n) for n in range(1, 5)), timedelta(0))
