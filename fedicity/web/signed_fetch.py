"""Authorized fetch (FEDICITY_AUTHORIZED_FETCH=true): one gate for every route that serves
ActivityStreams, applied by route, app-wide.

Each such route says what it serves, under its route decorator:

- `serves_activitystreams("always")`: ActivityStreams whatever the Accept header (collections,
  activities, polls, member lists): every GET needs a valid signature.
- `serves_activitystreams("negotiated")`: ActivityStreams for servers, an HTML page for
  browsers (actors, notes, events, proposals): a GET that would get ActivityStreams needs a
  signature; the page, which shows only what is public, stays open. `unsigned=` names what an
  unsigned request gets instead of a 401 (the actor's minimal key document).
- `serves_activitystreams("public")`: ActivityStreams that stays public (the instance actor, our
  JSON-LD context): it is how peers verify us.

One before-request hook on the app reads the mark, so a blueprint cannot forget to install the
gate, and an after-request check refuses any ActivityStreams response about to go out to a
request the gate did not clear (a route that was never marked): a 401, and an error in the log,
since it is a bug.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from quart import Quart, Response, current_app, g, request

from fedicity.activitypub.httpsig.wire import fold_headers
from fedicity.activitypub.inbox import Rejected, authenticate_fetch
from fedicity.activitypub.vocab import AP_MEDIA_TYPES
from fedicity.db.pool import Borrowed
from fedicity.web.app import AppState, mark_for_programs, state
from fedicity.web.errors import Problem, problem_response
from fedicity.web.inbox import SenderChecks
from fedicity.web.negotiation import wants_activitypub

Kind = Literal["always", "negotiated", "public"]
Unsigned = Callable[[dict[str, Any]], Awaitable[Response]]
View = TypeVar("View", bound=Callable[..., object])

_MARK = "fedicity_serves_activitystreams"
_CLEARED = "activitystreams_cleared"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """What a marked route serves, and what an unsigned request gets instead of a 401."""

    kind: Kind
    unsigned: Unsigned | None = None


def serves_activitystreams(
    kind: Kind, *, unsigned: Unsigned | None = None
) -> Callable[[View], View]:
    """Mark a view (under its route decorator) as serving ActivityStreams documents."""

    def mark(view: View) -> View:
        setattr(view, _MARK, Served(kind, unsigned))
        # A browser asking for a negotiated route gets a page, with its session and language.
        return mark_for_programs(view, "negotiated" if kind == "negotiated" else "always")

    return mark


def served_by(view: object) -> Served | None:
    """What a view serves, as marked; None for a view that serves no ActivityStreams."""
    served = getattr(view, _MARK, None)
    return served if isinstance(served, Served) else None


def _clear() -> None:
    setattr(g, _CLEARED, True)


async def require_signed_fetch() -> Response | None:
    """Before each request: refuse an unsigned or badly signed fetch of a gated route."""
    app_state = state()
    if not app_state.settings.authorized_fetch or request.method not in ("GET", "HEAD"):
        return None
    served = served_by(current_app.view_functions.get(request.endpoint or ""))
    if served is None:
        return None
    if served.kind == "public" or (served.kind == "negotiated" and not wants_activitypub(request)):
        _clear()
        return None
    headers = fold_headers(request.headers.items())
    if "signature" not in headers and "signature-input" not in headers:
        if served.unsigned is not None:
            _clear()
            return await served.unsigned(request.view_args or {})
        raise Problem(401, "this server requires signed fetches", extra={"reason": "unsigned"})
    url = app_state.urls.absolute(request.full_path if request.query_string else request.path)

    # The policy and the cached key in one statement, the connection given back before the view.
    async with Borrowed(app_state.inbox_db) as db:
        sender = SenderChecks(app_state, db)
        result = await authenticate_fetch(
            method=request.method,
            url=url,
            headers=headers,
            resolve_key=sender.resolve_key,
            now=app_state.clock.now(),
            authority=app_state.settings.host,
            refuse_host=sender.refuse_host,
            prepare=sender.prepare,
        )
    if isinstance(result, Rejected):
        raise Problem(result.status, result.detail, extra={"reason": result.reason})
    _clear()
    return None


async def refuse_uncleared(response: Response) -> Response:
    """After each request: no ActivityStreams goes out to a request the gate did not clear."""
    if (
        not state().settings.authorized_fetch
        or request.method not in ("GET", "HEAD")
        or response.mimetype not in AP_MEDIA_TYPES
        or g.get(_CLEARED, False)
    ):
        return response
    _log.error(
        "%s %s served ActivityStreams without the signed-fetch gate: mark its view with "
        "serves_activitystreams",
        request.method,
        request.path,
    )
    refused = await problem_response(
        401, "this server requires signed fetches", {"reason": "unsigned"}
    )
    refused.headers["Vary"] = "Accept, Signature"
    return refused


def register(app: Quart) -> None:
    """Install the gate and its after-request check on the whole app, when authorized fetch is
    on (the settings are frozen for the app's life: otherwise both would return at once, on
    every request)."""
    app_state: AppState = app.extensions["fedicity"]
    if not app_state.settings.authorized_fetch:
        return
    app.before_request(require_signed_fetch)
    app.after_request(refuse_uncleared)
