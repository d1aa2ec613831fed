"""Who is logged in, and the CSRF token every form carries."""

from __future__ import annotations

import hmac
import secrets

from quart import g, request, session

from fedicity.accounts import queries as account_queries
from fedicity.accounts.models import Account
from fedicity.app import state
from fedicity.web.errors import Problem

CSRF_FIELD = "csrf_token"


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
    """The logged-in account, or None; a session from before a password change is dropped."""
    account_id = session.get("account_id")
    if not isinstance(account_id, int):
        return None
    async with state().db.acquire() as conn:
        account = await account_queries.select_account_by_id(conn, account_id)
    if account is None or session.get("epoch") != account.session_epoch:
        session.pop("account_id", None)
        session.pop("epoch", None)
        return None
    return account


def log_in(account: Account) -> None:
    """Start a session for the account, with a fresh CSRF token (no session fixation)."""
    session.clear()
    session["account_id"] = account.id
    session["epoch"] = account.session_epoch
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def log_out() -> None:
    """End the session."""
    session.clear()


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
