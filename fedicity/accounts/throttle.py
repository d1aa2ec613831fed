"""How often logins, password checks and sign-ups may be tried, per address and per account.

Every login attempt counts against its address before any hashing (a burst limit per minute,
FEDICITY_LOGIN_ATTEMPTS_PER_MINUTE, and LOGIN_ATTEMPTS_PER_IP over five minutes), so one address
cannot make the server hash without end, nor spray a password over many accounts.
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
# The default of FEDICITY_LOGIN_ATTEMPTS_PER_MINUTE: the 11th attempt in a minute is refused.
LOGIN_ATTEMPTS_PER_MINUTE = 10


def login_burst_limit(per_minute: int = LOGIN_ATTEMPTS_PER_MINUTE) -> Limit:
    """The per-address limit of login attempts within one minute."""
    return Limit("login-ip-minute", per_minute, timedelta(minutes=1))


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


async def before_login(
    conn: Connection,
    login: str,
    ip: str,
    now: datetime,
    *,
    per_minute: int = LOGIN_ATTEMPTS_PER_MINUTE,
) -> int | None:
    """Count a password attempt for `login` from `ip`; seconds to wait when it is refused."""
    address = address_subject(ip)
    # Both windows count every attempt, refused ones too, so a burst also spends the longer
    # window; the wait is the longer of the two refusals.
    verdicts = [
        await hit(conn, login_burst_limit(per_minute), address, now),
        await hit(conn, LOGIN_ATTEMPTS_PER_IP, address, now),
    ]
    refused = [verdict.retry_after for verdict in verdicts if not verdict.allowed]
    if refused:
        return max(refused)
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


def posting_limits(per_ten_minutes: int, per_day: int) -> tuple[Limit, Limit]:
    """What one account may publish: a burst window and a daily one (the settings' numbers)."""
    return (
        Limit("posting-10min", per_ten_minutes, timedelta(minutes=10)),
        Limit("posting-day", per_day, timedelta(days=1)),
    )


async def before_posting(
    conn: Connection, account_id: int, now: datetime, limits: tuple[Limit, Limit]
) -> int | None:
    """Count one publication by an account; seconds to wait when it is refused.

    The daily window counts only what the burst window let through, so a script refused in a
    burst does not also spend the citizen's day."""
    subject = f"account:{account_id}"
    burst, daily = limits
    verdict = await hit(conn, burst, subject, now)
    if verdict.allowed:
        verdict = await hit(conn, daily, subject, now)
    return None if verdict.allowed else verdict.retry_after
