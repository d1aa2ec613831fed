"""Login sessions kept in PostgreSQL: started at login, checked on every request, listed and
revoked from the settings page, all ended by a password change or "log out everywhere"."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from fedicity.accounts import queries
from fedicity.accounts.models import Account, Session
from fedicity.db.pool import Connection

# A session unused this long has ended (the cookie's own lifetime is the same).
LIFETIME = timedelta(days=30)
# last_seen_at is written when older than this, not on every request.
TOUCH_EVERY = timedelta(minutes=5)
USER_AGENT_MAX = 200
LIST_LIMIT = 100


def token_hash(token: str) -> bytes:
    """What the database keeps of a session token: a leaked table opens no session."""
    return hashlib.sha256(token.encode()).digest()


def _clean_user_agent(user_agent: str) -> str:
    printable = "".join(ch for ch in user_agent if ch.isprintable())
    return printable[:USER_AGENT_MAX]


async def start(
    conn: Connection, account_id: int, *, user_agent: str, ip: str, now: datetime
) -> str:
    """Record a new session for the account; the token for its cookie."""
    token = secrets.token_urlsafe(32)
    await queries.insert_session(
        conn,
        token_hash=token_hash(token),
        account_id=account_id,
        now=now,
        user_agent=_clean_user_agent(user_agent),
        ip=ip[:64],
    )
    return token


async def resume(
    conn: Connection, token: str, *, ip: str, now: datetime
) -> tuple[Account, Session] | None:
    """The account and live session a cookie's token names, or None (revoked, idle, unknown)."""
    found = await queries.select_session_account(conn, token_hash(token), now - LIFETIME)
    if found is None:
        return None
    _, record = found
    if now - record.last_seen_at >= TOUCH_EVERY:
        await queries.update_session_seen(conn, record.id, now, ip[:64])
    return found


async def end(conn: Connection, token: str, now: datetime) -> None:
    """Revoke the session with this token (logout)."""
    await queries.revoke_session_by_token(conn, token_hash(token), now)


async def end_one(conn: Connection, account_id: int, session_id: int, now: datetime) -> bool:
    """Revoke one of the account's sessions; False when it has no such live session."""
    return await queries.revoke_session(conn, account_id, session_id, now)


async def end_all(conn: Connection, account_id: int, now: datetime) -> int:
    """Revoke every session of the account; how many were live."""
    return await queries.revoke_account_sessions(conn, account_id, now)


async def live(conn: Connection, account_id: int, now: datetime) -> list[Session]:
    """The account's live sessions, latest used first."""
    return await queries.select_live_sessions(conn, account_id, now - LIFETIME, limit=LIST_LIMIT)


async def seen_from(conn: Connection, account_id: int, ip: str, now: datetime) -> bool:
    """Whether the account logged in from this address within a session's lifetime."""
    return await queries.select_seen_from(conn, account_id, ip[:64], now - LIFETIME)


async def prune(conn: Connection, now: datetime, *, batch: int = 1000) -> int:
    """Forget sessions unused for a whole lifetime (revoked ones included)."""
    return await queries.delete_dead_sessions(conn, now - LIFETIME, batch)
