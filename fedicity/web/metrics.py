"""/metrics for Prometheus, who may read it, and the count and log line of every request.

Access: with FEDICITY_METRICS_TOKEN set, the request must carry `Authorization: Bearer <token>`
(401 otherwise), wherever it comes from. Without a token, only a peer on a loopback address may
read it, and only when nothing says it was relayed: a reverse proxy on the same machine also
connects from 127.0.0.1, so a request carrying a forwarding header, or coming from an address
listed in FEDICITY_TRUSTED_PROXIES, is refused (403). The client address a proxy reports
(web/clientip.py) is never used here: a visitor could make it say 127.0.0.1.

Queue depths and lag are read from PostgreSQL at each scrape (`ops/queries.py`), so `fedicity
web` and a worker's own endpoint (FEDICITY_WORKER_METRICS_PORT) report the same figures.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from quart import Blueprint, Quart, Response, current_app, g, request

from fedicity.activitypub.keys import generate_rsa_keypair
from fedicity.clock import Clock
from fedicity.db.pool import Pool
from fedicity.observability.metrics import HTTP_DURATION, HTTP_REQUESTS, method
from fedicity.ops import queries as ops_queries
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.web.app import AppState, state
from fedicity.web.errors import problem_response

blueprint = Blueprint("metrics", __name__)
_log = logging.getLogger(__name__)
_access_log = logging.getLogger("fedicity.web.access")

# Headers a reverse proxy adds: their presence means the peer is not the client.
FORWARDING_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "via",
)
# Set on the worker's own metrics app, which renders no pages.
PLAIN_ERRORS = "FEDICITY_PLAIN_ERRORS"
_DATABASE_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def metrics_refusal(
    *,
    token: str,
    authorization: str | None,
    peer: str | None,
    header_names: Iterable[str],
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...],
) -> int | None:
    """None when this request may read /metrics, else the status that refuses it (401, 403)."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return 401
        return None if hmac.compare_digest(given.strip().encode(), token.encode()) else 401
    try:
        address = ip_address((peer or "").strip())
    except ValueError:  # a Unix socket, or no peer at all
        return 403
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_loopback or any(address in network for network in trusted_proxies):
        return 403
    present = {name.lower() for name in header_names}
    if any(name in present for name in FORWARDING_HEADERS):
        return 403
    return None


async def database_gauges(pool: Pool, clock: Clock) -> bytes:
    """The figures read from PostgreSQL now, in the exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    up = Gauge(
        "fedicity_database_up", "1 when the database answered this scrape", registry=registry
    )
    pending = Gauge(
        "fedicity_queue_pending",
        "Rows waiting in a queue (due or not)",
        ["queue"],
        registry=registry,
    )
    due = Gauge("fedicity_queue_due", "Rows due now in a queue", ["queue"], registry=registry)
    lag = Gauge(
        "fedicity_queue_lag_seconds",
        "How long the oldest due row of a queue has been due (0 when none is)",
        ["queue"],
        registry=registry,
    )
    unavailable = Gauge(
        "fedicity_domains_unavailable",
        "Peer domains marked unavailable (failures on 7 days): deliveries wait for a probe",
        registry=registry,
    )
    reports = Gauge("fedicity_reports_open", "Reports not yet resolved", registry=registry)
    now = clock.now()
    try:
        async with pool.acquire() as conn:
            queues = await ops_queries.select_queues(conn, now, with_failed=False)
            _known, down = await ops_queries.count_domains(conn)
            backlog = await ops_queries.select_backlog(conn)
    except _DATABASE_FAILURES as error:
        # The process's own counters are still worth a scrape; the gap shows as database_up 0.
        _log.warning("metrics: the database did not answer: %s", error)
        up.set(0)
        return generate_latest(registry)
    up.set(1)
    for queue in queues:
        pending.labels(queue.queue).set(queue.pending)
        due.labels(queue.queue).set(queue.due)
        lag.labels(queue.queue).set(queue.lag_seconds(now))
    unavailable.set(down)
    reports.set(backlog.open_reports)
    return generate_latest(registry)


async def _refused(status: int) -> Response:
    detail = (
        "send the metrics token as Authorization: Bearer"
        if status == 401
        else "metrics are served to loopback peers only, or with a token"
    )
    extra = {"reason": "metrics_denied"}
    if current_app.config.get(PLAIN_ERRORS):
        # The worker's endpoint has no page templates: a problem document for everyone.
        body = {"type": "about:blank", "title": "Refused", "status": status, "detail": detail}
        response = Response(
            json.dumps(body | extra), status=status, content_type="application/problem+json"
        )
    else:
        response = await problem_response(status, detail, extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@blueprint.get("/metrics")
async def metrics() -> Response:
    """This process's counters and the database's figures, for Prometheus."""
    app_state = state()
    refusal = metrics_refusal(
        token=app_state.settings.metrics_token,
        authorization=request.headers.get("Authorization"),
        peer=request.remote_addr,
        header_names=request.headers.keys(),
        trusted_proxies=app_state.settings.trusted_proxies,
    )
    if refusal is not None:
        return await _refused(refusal)
    body = generate_latest(REGISTRY) + await database_gauges(app_state.db, app_state.clock)
    response = Response(body, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Quart) -> None:
    """Count and log every request of `app`, and serve /metrics."""
    app.before_request(_started)
    app.after_request(_count)
    app.register_blueprint(blueprint)


async def _started() -> None:
    g.metrics_started = time.perf_counter()


async def _count(response: Response) -> Response:
    """Count the request by its URL rule (never its path: bounded, and no token in a label)."""
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    started = g.get("metrics_started")
    duration = None if started is None else time.perf_counter() - started
    record(request.method, route, response.status_code, duration, g.get("problem_reason"))
    return response


def record(
    request_method: str, route: str, status: int, duration: float | None, reason: str | None
) -> None:
    """Count a request and write its access log line (`duration` in seconds)."""
    method_label = method(request_method)
    HTTP_REQUESTS.labels(method_label, route, str(status)).inc()
    if duration is not None:
        HTTP_DURATION.labels(route).observe(duration)
    fields: dict[str, object] = {
        "method": method_label,
        "route": route,
        "status": status,
        "duration_ms": None if duration is None else round(duration * 1000, 1),
    }
    if reason:
        # A refusal's code (signature_expired, domain_refused...): why, without the details.
        fields["reason"] = reason
    _access_log.info("%s %s %d", request_method, route, status, extra=fields)


def create_metrics_app(settings: Settings, pool: Pool, clock: Clock) -> Quart:
    """The worker's own /metrics (FEDICITY_WORKER_METRICS_PORT): the same route, nothing else."""
    app = Quart("fedicity.web.metrics", static_folder=None)
    app.config[PLAIN_ERRORS] = True
    app.extensions["fedicity"] = AppState(
        settings=settings,
        urls=Urls(settings.base_url),
        clock=clock,
        keygen=generate_rsa_keypair,
        pool=pool,
    )
    app.register_blueprint(blueprint)
    return app
