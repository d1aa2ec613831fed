"""The only retry policy: when to try a delivery again, or whether to give up.

Mastodon retries 16 times with `count**4 + 15` seconds plus jitter, about two to three days in all;
we follow the same curve so a peer that is down over a weekend still gets its activities.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from fedicity.activitypub.dates import parse_http_date

MAX_ATTEMPTS = 16
# 4xx answers that can change on their own: auth (key not yet fetched), timeouts, rate limits.
_RETRYABLE_4XX = frozenset({401, 408, 429})
_MAX_RETRY_AFTER = timedelta(days=1)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or HTTP date) as a delay from now; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # A peer's huge value must cap, not overflow timedelta (nor int() past 4300 digits);
        # non-ASCII digits such as "²" pass isdigit() but not int().
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(int(_MAX_RETRY_AFTER.total_seconds()))):
            return _MAX_RETRY_AFTER
        return min(timedelta(seconds=int(digits)), _MAX_RETRY_AFTER)
    when = parse_http_date(text, naive_as_utc=False)
    if when is None:
        return None
    return min(max(when - now, timedelta(0)), _MAX_RETRY_AFTER)


def is_permanent(status: int | None) -> bool:
    """Whether an HTTP status means retrying cannot help (4xx other than 401/408/429)."""
    return status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX


def next_delay(
    attempts: int,
    status: int | None,
    retry_after: timedelta | None = None,
    *,
    rng: random.Random | None = None,
) -> timedelta | None:
    """Delay before the next try after `attempts` failed ones, or None to give up.

    `status` is the last HTTP status (None for a network failure or timeout).
    """
    if is_permanent(status) or attempts >= MAX_ATTEMPTS:
        return None
    base = timedelta(seconds=attempts**4 + 15)
    jitter = timedelta(seconds=(rng or random).uniform(0, 0.5 * attempts**4))
    delay = base + jitter
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def total_schedule(attempts: int = MAX_ATTEMPTS) -> timedelta:
    """The time from the first failure to giving up, without jitter (for docs and tests)."""
    return sum((timedelta(seconds=n**4 + 15) for n in range(1, attempts)), timedelta(0))
