"""Who is logged in, and the CSRF token every form carries."""

from __future__ import annotations

import hmac
import secrets

from quart import Quart, g, request, session
from quart.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from quart.wrappers import BaseRequestWebsocket, Response
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts import sessions
from fedicity.accounts.models import Account
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.web.app import program_request, state
from fedicity.web.clientip import client_ip
from fedicity.web.errors import Problem

CSRF_FIELD = "csrf_token"
# The cookie holds the session's random token; the database holds its hash and its state.
SESSION_KEY = "sid"


class CookieSessions(SecureCookieSessionInterface):
    """Quart's signed-cookie sessions, with no work for requests that carry no cookie (most
    federation requests) and none saved for requests to views for programs (no Set-Cookie, no
    Vary: Cookie on an ActivityStreams document or an inbox's 202)."""

    async def open_session(
        self, app: Quart, request: BaseRequestWebsocket
    ) -> SecureCookieSession | None:
        """An empty session at once when no cookie came, else the cookie's."""
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return await super().open_session(app, request)

    async def save_session(
        self, app: Quart, session: SessionMixin, response: Response | WerkzeugResponse | None
    ) -> None:
        """Save the session as a cookie, except on an answer to a program."""
        if response is not None and program_request():
            return
        await super().save_session(app, session, response)


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def check_csrf() -> None:
    """Refuse a state-changing form whose token does not match the session's."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    form = await request.form
    sent = form.get(CSRF_FIELD, "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise Problem(400, "the form's security token is missing or expired; reload the page")


async def load_account() -> Account | None:
    """The logged-in account, or None: the cookie's session must exist and not be revoked."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        # Cookies from before server-side sessions held the account id: they name no record.
        for stale in ("account_id", "epoch", SESSION_KEY):
            if stale in session:
                session.pop(stale)
        return None
    app_state = state()
    async with app_state.db.acquire() as conn:
        found = await sessions.resume(conn, token, ip=client_ip(), now=app_state.clock.now())
    if found is None:
        session.pop(SESSION_KEY, None)
        return None
    account, record = found
    g.session_id = record.id
    return account


async def log_in(account: Account) -> None:
    """Start a session for the account, with a fresh CSRF token (no session fixation)."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        token = await sessions.start(
            conn,
            account.id,
            user_agent=request.headers.get("User-Agent", ""),
            ip=client_ip(),
            now=app_state.clock.now(),
        )
    session.clear()
    session[SESSION_KEY] = token
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    g.account = account


async def log_out(*, everywhere: bool = False) -> None:
    """End this session, or every session of its account."""
    app_state = state()
    token = session.get(SESSION_KEY)
    account = current_account()
    async with app_state.db.acquire() as conn:
        if everywhere and account is not None:
            await sessions.end_all(conn, account.id, app_state.clock.now())
        elif isinstance(token, str):
            await sessions.end(conn, token, app_state.clock.now())
    session.clear()
    g.account = None


def current_session_id() -> int | None:
    """The id of this request's session record, when logged in."""
    session_id: int | None = g.get("session_id")
    return session_id


def current_account() -> Account | None:
    """The account loaded for this request."""
    account: Account | None = g.get("account")
    return account


def require_account() -> Account:
    """The logged-in account, or a 401 that sends browsers to the login page."""
    account = current_account()
    if account is None:
        raise Problem(401, "log in first")
    return account


def require_admin() -> Account:
    """The logged-in admin account, or 403."""
    account = require_account()
    if not account.is_admin:
        raise Problem(403, "this page is for the instance's administrators")
    return account


async def current_actor() -> Actor | None:
    """The logged-in person's actor, or None for a visitor."""
    account = current_account()
    if account is None:
        return None
    async with state().db.acquire() as conn:
        return await actor_queries.select_actor_by_id(conn, account.actor_id)


async def require_actor() -> Actor:
    """The logged-in person's actor; a visitor gets a 401."""
    me = await current_actor()
    if me is None:
        raise Problem(401, "log in first")
    return me
