"""create_app(settings) -> Quart: blueprints, the pool's lifecycle, error handlers; no globals."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from quart import Quart, current_app, request
from quart.app import iscoroutinefunction  # Quart's own test, whichever Python this is

from fedicity.accounts import sessions
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Pool, create_pool
from fedicity.inbound.mailbox import CapWatch
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import Federation, start_federation

ACTOR_DOC_TTL = 60.0
# Connections of the inbox's own pool (AppState.inbox_db): one per POST in flight.
INBOX_POOL_SIZE = 10
View = TypeVar("View", bound=Callable[..., object])
# An ASGI handler served before Quart's routing: True when it answered the request.
FrontHandler = Callable[[Any, Any, Any], Awaitable[bool]]
_FOR_PROGRAMS = "fedicity_for_programs"
# Decided once per request. Every request runs in a task of its own (the servers and Quart's
# test client make one per request), so no value leaks to another; teardown clears it anyway.
_program_request: ContextVar[bool | None] = ContextVar("fedicity_program_request", default=None)


class FedicityQuart(Quart):
    """Quart, remembering which functions are coroutine functions: it asks `inspect` again for
    every hook, handler and view of every request (about 14 times a request here)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Weak keys: a function made for one request (after_this_request) is not kept.
        self._coroutine_functions: weakref.WeakKeyDictionary[Callable[..., Any], bool] = (
            weakref.WeakKeyDictionary()
        )
        self._in_front: list[FrontHandler] = []

    def put_in_front(self, handler: FrontHandler) -> None:
        """Give `handler` every request first; it answers those it takes (returns True)."""
        self._in_front.append(handler)

    async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
        """Handlers put in front answer their requests; Quart the others."""
        for handler in self._in_front:
            if await handler(scope, receive, send):
                return
        await super().asgi_app(scope, receive, send)

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """`func` itself when it is a coroutine function, else run on a thread (as Quart does)."""
        try:
            is_coroutine = self._coroutine_functions[func]
        except (KeyError, TypeError):
            is_coroutine = iscoroutinefunction(func)
            with contextlib.suppress(TypeError):  # not weakly referable: not remembered
                self._coroutine_functions[func] = is_coroutine
        if is_coroutine:
            return func
        return self.sync_to_async(func)


class DocumentCache:
    """Serialized documents by key, each kept for `ttl` seconds (process-local, bounded)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        """The cached body, unless absent or expired."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def put(self, key: str, body: bytes) -> None:
        """Cache a body (the oldest entry goes when full)."""
        if len(self._entries) >= self._max and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic(), body)

    def pop(self, key: str, default: None = None) -> None:
        """Forget a key."""
        self._entries.pop(key, default)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()


@dataclass
class AppState:
    """What request handlers share: settings, the pool, URL minting, time and key generation."""

    settings: Settings
    urls: Urls
    clock: Clock
    keygen: KeyGenerator
    pool: Pool | None = None
    owns_pool: bool = False
    # The inbox's pool, whose statements may use generic plans (db/pool.py); the main one when
    # none is given (tests).
    inbox_pool: Pool | None = None
    federation: Federation | None = None
    owns_federation: bool = False
    # Serialized local actor documents by username; dropped when a profile changes here, and
    # expiring so that a change made by another process (or a membership count) shows soon.
    actor_documents: DocumentCache = field(default_factory=lambda: DocumentCache(ACTOR_DOC_TTL))
    # Each domain's room below FEDICITY_INBOX_PENDING_PER_DOMAIN, as last counted here.
    pending_cap: CapWatch = field(init=False)

    def __post_init__(self) -> None:
        self.pending_cap = CapWatch(self.settings.inbox_pending_per_domain)

    @property
    def fed(self) -> Federation:
        """The federation services; only None before the app starts serving."""
        assert self.federation is not None, "federation services start with the app"
        return self.federation

    @property
    def inbox_db(self) -> Pool:
        """The pool of inbox POSTs and signed-fetch checks."""
        return self.inbox_pool if self.inbox_pool is not None else self.db

    @property
    def db(self) -> Pool:
        """The pool; only None before the app starts serving."""
        assert self.pool is not None, "the database pool is opened when the app starts serving"
        return self.pool


def state() -> AppState:
    """The AppState of the app handling the current request."""
    return cast(AppState, current_app.extensions["fedicity"])


def for_programs(view: View) -> View:
    """Mark a view (under its route decorator) that answers programs only: inbox POSTs,
    WebFinger, NodeInfo. The hooks made for people (session and account, language, forms)
    skip its requests: a federation request pays only for what federation needs. Views marked
    `serves_activitystreams` are marked too (web/signed_fetch.py)."""
    return mark_for_programs(view, "always")


def only_for_programs(view: object) -> bool:
    """Whether a view answers programs whatever the request asks (marked `for_programs`)."""
    return getattr(view, _FOR_PROGRAMS, None) == "always"


def mark_for_programs(view: View, when: Literal["always", "negotiated"]) -> View:
    """Mark a view for programs, always or only when the request asks for ActivityStreams."""
    setattr(view, _FOR_PROGRAMS, when)
    return view


def program_request() -> bool:
    """Whether this request goes to a view marked `for_programs` (and, for a negotiated one,
    asks for ActivityStreams); decided once per request."""
    decided = _program_request.get()
    if decided is None:
        from fedicity.web.negotiation import wants_activitypub

        view = current_app.view_functions.get(request.endpoint or "")
        when = getattr(view, _FOR_PROGRAMS, None)
        decided = when == "always" or (when == "negotiated" and wants_activitypub(request))
        _program_request.set(decided)
    return decided


async def _forget_program_request(_error: BaseException | None) -> None:
    _program_request.set(None)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    keygen: KeyGenerator = generate_rsa_keypair,
    pool: Pool | None = None,
    inbox_pool: Pool | None = None,
    federation: Federation | None = None,
) -> Quart:
    """Build the web application; pass `pool` to share one (tests), else one is opened on start;
    `inbox_pool` for the inbox's own (else the inbox uses `pool`)."""
    from fedicity.web import register_web
    from fedicity.web.webfinger import blueprint as webfinger_blueprint

    app = FedicityQuart("fedicity.web", template_folder="templates", static_folder="static")
    _configure(app, settings)
    app.teardown_request(_forget_program_request)
    app_state = AppState(
        settings=settings,
        urls=Urls(settings.base_url),
        clock=clock or SystemClock(),
        keygen=keygen,
        pool=pool,
        inbox_pool=inbox_pool,
        federation=federation,
    )
    app.extensions["fedicity"] = app_state
    _manage_services(app, app_state)
    app.register_blueprint(webfinger_blueprint)
    register_web(app)
    return app


def _configure(app: Quart, settings: Settings) -> None:
    """The secret key, the capped request class, the session cookie and the debug flag."""
    from fedicity.web.limits import CappedRequest, app_body_cap
    from fedicity.web.session import CookieSessions

    app.secret_key = settings.secret_key
    app.session_interface = CookieSessions()
    # Checked before routing: the largest cap of any route; `web.limits.limit_body` then lowers it
    # to FEDICITY_MAX_BODY_BYTES everywhere but on the upload routes.
    app.request_class = CappedRequest
    app.config.update(
        MAX_CONTENT_LENGTH=app_body_cap(settings),
        SESSION_COOKIE_NAME="fedicity_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.scheme == "https",
        PERMANENT_SESSION_LIFETIME=sessions.LIFETIME,
        DEBUG=settings.debug,
    )


def _manage_services(app: Quart, app_state: AppState) -> None:
    """Open the pool and the federation services when serving starts, unless given; close what
    was opened here when it ends."""
    settings = app_state.settings

    @app.before_serving
    async def open_pool() -> None:
        if app_state.pool is None:
            if settings.database_url is None:
                raise RuntimeError("no database URL: start the app through the fedicity command")
            app_state.pool = await create_pool(settings.database_url)
            app_state.owns_pool = True
        if app_state.federation is None:
            app_state.federation = await start_federation(
                app_state.pool, settings, clock=app_state.clock, keygen=app_state.keygen
            )
            app_state.owns_federation = True

    @app.after_serving
    async def close_pool() -> None:
        if app_state.owns_federation and app_state.federation is not None:
            await app_state.federation.close()
            app_state.federation = None
        if app_state.owns_pool and app_state.pool is not None:
            await app_state.pool.close()
            app_state.pool = None
