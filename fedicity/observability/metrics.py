"""The process's Prometheus instruments, in the client's default registry.

Counters live in the process that counts: `fedicity run` has them all, `fedicity web` the
requests and the inbox's answers, `fedicity worker` the deliveries, processed activities and
loop timings (served on its own loopback port, see `web/metrics.py`). Queue depths and lag are
not here: they are read from PostgreSQL at scrape time, so any process tells the same truth.

Labels are bounded: a route is the URL rule, never the path; a reason or an outcome is one of
our codes (anything else is counted as `other`); no label names a domain.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "fedicity_http_requests",
    "HTTP requests answered, by method, route (the URL rule) and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "fedicity_http_request_duration_seconds",
    "Time from the request's first hook to its response, by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INBOX_ACCEPTED = Counter(
    "fedicity_inbox_accepted",
    "Inbox POSTs answered 202, by outcome: stored, duplicate (already had it), ignored_delete",
    ["outcome"],
)
INBOX_REFUSED = Counter(
    "fedicity_inbox_refused",
    "Inbox POSTs refused, by the reason code of their problem document (http_NNN without one)",
    ["reason"],
)
INBOX_PROCESSED = Counter(
    "fedicity_inbox_processed",
    "Stored activities the inbox worker finished, by outcome: done, ignored, or error (retried)",
    ["outcome"],
)
DELIVERIES = Counter(
    "fedicity_deliveries",
    "Delivery attempts by result: delivered, retry, gave_up, refused (never sent), "
    "postponed (waits for its domain's probe), error (a bug, counted as an attempt)",
    ["result"],
)
DELIVERY_DURATION = Histogram(
    "fedicity_delivery_post_seconds",
    "Time of one signed POST to a remote inbox, answer or not",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)
LOOP_STEP = Histogram(
    "fedicity_worker_loop_step_seconds",
    "Time of one step of a background loop, by loop",
    ["loop"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0),
)
LOOP_ITEMS = Counter(
    "fedicity_worker_loop_items",
    "Rows a background loop's steps claimed or handled, by loop",
    ["loop"],
)
LOOP_FAILURES = Counter(
    "fedicity_worker_loop_failures",
    "Steps of a background loop that raised (the loop backs off and goes on), by loop",
    ["loop"],
)


def code(value: object) -> str:
    """A label value that stays bounded: one of our snake_case codes, else `other`."""
    text = str(value)
    return text if _CODE.fullmatch(text) else "other"


def method(value: str) -> str:
    """An HTTP method as a label: the standard ones, else `other`."""
    return value if value in _METHODS else "other"


def inbox_accepted(outcome: str) -> None:
    """Count an inbox POST answered 202."""
    INBOX_ACCEPTED.labels(code(outcome)).inc()


def inbox_refused(reason: str) -> None:
    """Count a refused inbox POST."""
    INBOX_REFUSED.labels(code(reason)).inc()


def inbox_processed(outcome: str) -> None:
    """Count an activity the inbox worker finished (or will retry)."""
    INBOX_PROCESSED.labels(code(outcome)).inc()


def delivery(result: str) -> None:
    """Count one delivery attempt's result."""
    DELIVERIES.labels(code(result)).inc()


# Known label values start at zero, so a rate is defined before the first event and a scrape
# shows what may be counted.
for _outcome in ("stored", "duplicate", "ignored_delete"):
    INBOX_ACCEPTED.labels(_outcome)
for _outcome in ("done", "ignored", "held", "error"):
    INBOX_PROCESSED.labels(_outcome)
for _result in ("delivered", "retry", "gave_up", "refused", "postponed", "error"):
    DELIVERIES.labels(_result)
