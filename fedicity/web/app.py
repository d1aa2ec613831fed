"""create_app(settings) -> Quart: blueprints, the pool's lifecycle, error handlers; no globals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

from quart import Quart, current_app

from fedicity.accounts import sessions
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Pool, create_pool
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.workers.federation import Federation, start_federation

ACTOR_DOC_TTL = 60.0


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
    federation: Federation | None = None
    owns_federation: bool = False
    # Serialized local actor documents by username; dropped when a profile changes here, and
    # expiring so that a change made by another process (or a membership count) shows soon.
    actor_documents: DocumentCache = field(default_factory=lambda: DocumentCache(ACTOR_DOC_TTL))

    @property
    def fed(self) -> Federation:
        """The federation services; only None before the app starts serving."""
        assert self.federation is not None, "federation services start with the app"
        return self.federation

    @property
    def db(self) -> Pool:
        """The pool; only None before the app starts serving."""
        assert self.pool is not None, "the database pool is opened when the app starts serving"
        return self.pool


def state() -> AppState:
    """The AppState of the app handling the current request."""
    return cast(AppState, current_app.extensions["fedicity"])


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    keygen: KeyGenerator = generate_rsa_keypair,
    pool: Pool | None = None,
    federation: Federation | None = None,
) -> Quart:
    """Build the web application; pass `pool` to share one (tests), else one is opened on start."""
    from fedicity.web import register_web
    from fedicity.web.webfinger import blueprint as webfinger_blueprint

    app = Quart("fedicity.web", template_folder="templates", static_folder="static")
    _configure(app, settings)
    app_state = AppState(
        settings=settings,
        urls=Urls(settings.base_url),
        clock=clock or SystemClock(),
        keygen=keygen,
        pool=pool,
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

    app.secret_key = settings.secret_key
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
