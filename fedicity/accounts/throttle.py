"""How often logins, password checks and sign-ups may be tried, per address and per account.

Every login attempt counts against its address (LOGIN_ATTEMPTS_PER_IP) before any hashing, so
one address cannot make the server hash without end, nor spray a password over many accounts.
Wrong passwords count against the account from that address (LOGIN_FAILURES_PER_ACCOUNT_IP,
tight) and against the account from anywhere (LOGIN_FAILURES_PER_ACCOUNT, looser, for guesses
spread over many addresses). The account-wide limit is what an attacker could use to lock a
citizen out, so it does not apply at an address where the account had a session in the last 30
days: her home and phone keep working while a botnet hammers her name, and the limits are
windows (an hour at most), never a permanent lock. A login naming no account is counted under
the name typed (hashed), so the answers do not tell whether an account exists.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from ipaddress import IPv6Address, ip_address, ip_network

from fedicity.accounts import queries, sessions
from fedicity.accounts.models import Account
from fedicity.db.pool import Connection
from fedicity.ratelimit.limiter import Limit, hit, peek

LOGIN_ATTEMPTS_PER_IP = Limit("login-ip", 20, timedelta(minutes=5))
LOGIN_FAILURES_PER_ACCOUNT_IP = Limit("login-account-ip", 5, timedelta(minutes=15))
LOGIN_FAILURES_PER_ACCOUNT = Limit("login-account", 20, timedelta(hours=1))
SIGNUP_ATTEMPTS_PER_IP = Limit("signup-ip", 20, timedelta(hours=1))


def address_subject(ip: str) -> str:
    """Who an address is for rate limits: itself, or its /64 for IPv6 (one subscriber's
    allocation, where a single machine can pick new addresses at will)."""
    try:
        parsed = ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _account_subject(account: Account | None, login: str) -> str:
    if account is not None:
        return f"account:{account.id}"
    return "login:" + hashlib.sha256(login.strip().lower().encode()).hexdigest()


async def _find(conn: Connection, login: str) -> Account | None:
    return await queries.select_account_by_login(conn, login.strip()) if login.strip() else None


async def before_login(conn: Connection, login: str, ip: str, now: datetime) -> int | None:
    """Count a password attempt for `login` from `ip`; seconds to wait when it is refused."""
    address = address_subject(ip)
    verdict = await hit(conn, LOGIN_ATTEMPTS_PER_IP, address, now)
    if not verdict.allowed:
        return verdict.retry_after
    account = await _find(conn, login)
    subject = _account_subject(account, login)
    verdict = await peek(conn, LOGIN_FAILURES_PER_ACCOUNT_IP, f"{subject}@{address}", now)
    if not verdict.allowed:
        return verdict.retry_after
    if account is not None and await sessions.seen_from(conn, account.id, ip, now):
        return None
    verdict = await peek(conn, LOGIN_FAILURES_PER_ACCOUNT, subject, now)
    return None if verdict.allowed else verdict.retry_after


async def login_failed(conn: Connection, login: str, ip: str, now: datetime) -> None:
    """Record a wrong password for `login` from `ip`."""
    subject = _account_subject(await _find(conn, login), login)
    await hit(conn, LOGIN_FAILURES_PER_ACCOUNT_IP, f"{subject}@{address_subject(ip)}", now)
    await hit(conn, LOGIN_FAILURES_PER_ACCOUNT, subject, now)


async def before_signup(conn: Connection, ip: str, now: datetime) -> int | None:
    """Count a sign-up attempt from `ip`; seconds to wait when it is refused."""
    verdict = await hit(conn, SIGNUP_ATTEMPTS_PER_IP, address_subject(ip), now)
    return None if verdict.allowed else verdict.retry_after
