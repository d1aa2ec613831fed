"""Every HTTP error as a problem document (RFC 9457) for programs, or an HTML page for browsers."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from quart import Quart, Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from fedicity.web.negotiation import wants_html

PROBLEM_JSON = "application/problem+json"
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
    # The refusal's code, for whoever counts answers (web/inbox.py's metrics).
    g.problem_reason = (extra or {}).get("reason")
    if wants_html(request):
        body = await render_template("error.html", status=status, title=title, detail=detail)
        return Response(body, status=status, content_type="text/html; charset=utf-8")
    document: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        document["detail"] = detail
    document.update(extra or {})
    return Response(json.dumps(document), status=status, content_type=PROBLEM_JSON)


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

    @app.errorhandler(Exception)
    async def on_bug(error: Exception) -> Response:
        # A 500 is a bug: log it with its traceback, tell the client nothing about internals.
        _log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return await problem_response(500, "internal error; it has been logged")
