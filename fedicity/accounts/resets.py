"""Forgotten passwords: a one-use link by e-mail, then a new password.

Asking for a link answers the same whether or not an account has the address (the face shows
one page; the message, when there is one, leaves on a task of its own). The link's token is 32
random bytes; only its SHA-256 is kept, it expires after LIFETIME and works once. Asking is
limited per client address (the only limit that shows, as a 429: it says nothing of accounts),
per address typed and per account (silently: beyond them no message leaves, the page is the
same). Setting the new password ends every session of the account and spends its other links.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fedicity.accounts import passwords, queries, sessions
from fedicity.accounts.models import Account
from fedicity.accounts.service import AccountError, check_password, normalize_email
from fedicity.accounts.throttle import address_subject
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.ratelimit.limiter import Limit, hit

LIFETIME = timedelta(hours=1)
REQUESTS_PER_IP = Limit("reset-ip", 10, timedelta(hours=1))
REQUESTS_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1))
REQUESTS_PER_ACCOUNT = Limit("reset-account", 3, timedelta(hours=1))


class ResetError(AccountError):
    """A reset was refused; `code` says why."""


@dataclass(frozen=True)
class Ticket:
    """A link to send: the account it opens and the token its URL carries (never stored)."""

    account: Account
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Throttled:
    """Too many requests from this client address."""

    retry_after: int


def token_hash(token: str) -> bytes:
    """What the database keeps of a reset token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


async def request_link(db: Pool, typed: str, ip: str, now: datetime) -> Ticket | Throttled | None:
    """A link for the account with this e-mail address, or None (no such account, a malformed
    address, or its own limits reached: the caller answers the same), or Throttled."""
    async with db.acquire() as conn, conn.transaction():
        verdict = await hit(conn, REQUESTS_PER_IP, address_subject(ip), now)
        if not verdict.allowed:
            return Throttled(verdict.retry_after)
        try:
            email = normalize_email(typed)
        except AccountError:
            return None
        if email is None:
            return None
        if not (await hit(conn, REQUESTS_PER_EMAIL, email.lower(), now)).allowed:
            return None
        account = await queries.select_account_by_email(conn, email)
        if account is None:
            return None
        if not (await hit(conn, REQUESTS_PER_ACCOUNT, f"account:{account.id}", now)).allowed:
            return None
        token = secrets.token_urlsafe(32)
        expires_at = now + LIFETIME
        await queries.insert_password_reset(
            conn,
            token_hash=token_hash(token),
            account_id=account.id,
            now=now,
            expires_at=expires_at,
        )
    return Ticket(account, token, expires_at)


async def link_is_live(db: Pool, token: str, now: datetime) -> bool:
    """Whether a link still opens its account (unused, unexpired)."""
    if not 20 <= len(token) <= 100:
        return False
    async with db.acquire() as conn:
        return await queries.select_live_reset(conn, token_hash(token), now) is not None


async def reset_password(db: Pool, token: str, password: str, clock: Clock) -> Account:
    """Set a new password through a link: checked as at sign-up, hashed with no connection
    held; the link is spent, every session of the account and its other links end."""
    check_password(password)
    if not await link_is_live(db, token, clock.now()):
        raise ResetError("reset_link_invalid", "this link was used or has expired")
    password_hash = await passwords.hash_password_async(password)
    now = clock.now()
    async with db.acquire() as conn, conn.transaction():
        account_id = await queries.use_reset(conn, token_hash(token), now)
        if account_id is None:
            raise ResetError("reset_link_invalid", "this link was used or has expired")
        await queries.update_password(conn, account_id, password_hash)
        await sessions.end_all(conn, account_id, now)
        await queries.spend_account_resets(conn, account_id, now)
        account = await queries.select_account_by_id(conn, account_id)
    if account is None:
        raise ResetError("reset_link_invalid", "this account no longer exists")
    return account


async def prune(conn: Connection, now: datetime, *, batch: int = 1000) -> int:
    """Forget links that expired a day ago or more."""
    return await queries.delete_old_resets(conn, now - timedelta(days=1), batch)
