"""Every HTTP error as a problem document (RFC 9457) for programs, or an HTML page for browsers."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus
from typing import Any, cast

import asyncpg
from quart import Quart, Response, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException

from fedicity.db.outage import quiet_pool_floor_retries, unreachable
from fedicity.db.pool import Pool
from fedicity.web import i18n
from fedicity.web.app import state
from fedicity.web.negotiation import wants_html

PROBLEM_JSON = "application/problem+json"
# While PostgreSQL is unreachable every request is answered 503 with this Retry-After: Mastodon
# and the others deliver again later, browsers are told to come back, nothing is lost.
RETRY_AFTER_SECONDS = 5
# How often, during an outage, the app checks whether PostgreSQL is back (to log its end).
OUTAGE_PROBE_EVERY = 0.25
_OUTAGE = "fedicity.outage"
_log = logging.getLogger(__name__)


class Problem(HTTPException):
    """An HTTP error with a precise detail, raised by handlers and rendered by the error handler."""

    def __init__(self, status: int, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(description=detail)
        self.code = status
        self.extra = extra or {}


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def problem_response(
    status: int, detail: str, extra: dict[str, Any] | None = None
) -> Response:
    """Render an error in the form the client asked for."""
    title = _title(status)
    # The refusal's code, for the access log line (web/metrics.py).
    g.problem_reason = (extra or {}).get("reason")
    if wants_html(request):
        body = await render_template("error.html", status=status, title=title, detail=detail)
        return Response(body, status=status, content_type="text/html; charset=utf-8")
    return Response(
        problem_document(status, detail, extra), status=status, content_type=PROBLEM_JSON
    )


def problem_document(status: int, detail: str, extra: dict[str, Any] | None) -> bytes:
    """The problem document (RFC 9457) of an error, serialized."""
    document: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if detail:
        document["detail"] = detail
    document.update(extra or {})
    return json.dumps(document).encode("utf-8")


def unavailable_document() -> bytes:
    """The problem document of a 503 while PostgreSQL is unreachable."""
    return problem_document(
        503,
        "the database is unreachable for a moment; try again shortly",
        {"reason": "database_unavailable"},
    )


def outage_of(app: Quart) -> Outage:
    """The app's outage log (one line when it starts, one when it ends)."""
    return cast(Outage, app.extensions[_OUTAGE])


def register_error_handlers(app: Quart) -> None:
    """Route every HTTP error, and every unexpected exception, through problem_response."""

    @app.errorhandler(HTTPException)
    async def on_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        detail = error.description or ""
        extra = error.extra if isinstance(error, Problem) else None
        response = await problem_response(status, detail, extra)
        for name, value in error.get_headers():
            if name.lower() not in {"content-type", "content-length"}:
                response.headers[name] = value
        return response

    outage = Outage()
    app.extensions[_OUTAGE] = outage
    quiet_pool_floor_retries()

    @app.errorhandler(Exception)
    async def on_bug(error: Exception) -> Response:
        if unreachable(error):
            outage.answered(error, state().pool)
            return await unavailable_response()
        # A 500 is a bug: log it with its traceback, tell the client nothing about internals.
        _log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return await problem_response(500, "internal error; it has been logged")

    @app.after_serving
    async def stop_probe() -> None:
        outage.close()


async def unavailable_response() -> Response:
    """503 with Retry-After: a page for browsers, a problem document for the others. Rendered
    without the context processors, which read the database."""
    g.problem_reason = "database_unavailable"
    if wants_html(request):
        settings = state().settings
        locale = g.get("locale") or i18n.choose_locale(request, None, settings.default_locale)
        i18n.activate(locale)
        template = current_app.jinja_env.get_template("unavailable.html")
        body = await template.render_async(locale=locale, instance_name=settings.instance_name)
        response = Response(body, status=503, content_type="text/html; charset=utf-8")
    else:
        response = Response(unavailable_document(), status=503, content_type=PROBLEM_JSON)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class Outage:
    """One log line when requests start failing for want of PostgreSQL, one when a probe finds
    it back (with how many requests were answered 503), whatever the number of requests."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.count = 0
        self.probe: asyncio.Task[None] | None = None

    def answered(self, error: BaseException, pool: Pool | None) -> None:
        """A request was answered 503 for `error`."""
        self.count += 1
        if self.since is not None:
            return
        self.since = time.monotonic()
        _log.warning(
            "PostgreSQL unreachable (%s: %s): answering 503 until it is back",
            type(error).__name__,
            error,
        )
        if pool is not None:
            self.probe = asyncio.create_task(self._wait_for(pool))

    async def _wait_for(self, pool: Pool) -> None:
        while True:
            await asyncio.sleep(OUTAGE_PROBE_EVERY)
            try:
                async with pool.acquire(timeout=OUTAGE_PROBE_EVERY * 4):
                    break
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                if not unreachable(error):
                    break  # the pool is closing: the app stops
        if self.since is not None:
            _log.warning(
                "PostgreSQL reachable again after %.1f s; %d request(s) were answered 503",
                time.monotonic() - self.since,
                self.count,
            )
        self.since, self.count, self.probe = None, 0, None

    def close(self) -> None:
        """Stop probing (the app stops)."""
        if self.probe is not None:
            self.probe.cancel()
