"""SQL for accounts; connection first."""

from __future__ import annotations

from datetime import datetime

from fedicity.accounts.models import Account, Session
from fedicity.db.pool import Connection, record_dict

_SELECT = """SELECT a.id, a.actor_id, act.username, a.email, a.password_hash, a.is_admin,
                    a.locale, a.session_epoch, a.created_at, a.last_login_at
               FROM accounts a JOIN actors act ON act.id = a.actor_id"""


async def insert_account(
    conn: Connection,
    *,
    actor_id: int,
    email: str | None,
    password_hash: str,
    is_admin: bool,
    locale: str | None,
) -> int:
    """Insert an account and return its id."""
    account_id: int = await conn.fetchval(
        """INSERT INTO accounts (actor_id, email, password_hash, is_admin, locale)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        actor_id,
        email,
        password_hash,
        is_admin,
        locale,
    )
    return account_id


async def select_account_by_id(conn: Connection, account_id: int) -> Account | None:
    """The account with this id."""
    row = await conn.fetchrow(f"{_SELECT} WHERE a.id = $1", account_id)
    return None if row is None else Account(**record_dict(row))


async def select_account_by_login(conn: Connection, login: str) -> Account | None:
    """The account whose username or e-mail is `login`, whatever its case."""
    row = await conn.fetchrow(
        f"{_SELECT} WHERE lower(act.username) = lower($1) OR lower(a.email) = lower($1)", login
    )
    return None if row is None else Account(**record_dict(row))


async def select_email_taken(conn: Connection, email: str) -> bool:
    """Whether an account already uses this e-mail address."""
    taken: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE lower(email) = lower($1))", email
    )
    return taken


async def select_accounts_page(conn: Connection, *, limit: int, after_id: int = 0) -> list[Account]:
    """Accounts in creation order, paged by id."""
    rows = await conn.fetch(f"{_SELECT} WHERE a.id > $1 ORDER BY a.id LIMIT $2", after_id, limit)
    return [Account(**record_dict(row)) for row in rows]


async def update_password(conn: Connection, account_id: int, password_hash: str) -> None:
    """Store a new password hash and move the session epoch on (the caller revokes sessions)."""
    await conn.execute(
        """UPDATE accounts SET password_hash = $2, session_epoch = session_epoch + 1
            WHERE id = $1""",
        account_id,
        password_hash,
    )


async def update_rehash(conn: Connection, account_id: int, password_hash: str) -> None:
    """Store a hash recomputed with current parameters (sessions stay valid)."""
    await conn.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )


async def update_last_login(conn: Connection, account_id: int, when: datetime) -> None:
    """Record a successful login."""
    await conn.execute("UPDATE accounts SET last_login_at = $2 WHERE id = $1", account_id, when)


async def update_locale(conn: Connection, account_id: int, locale: str | None) -> None:
    """Set the account's interface language."""
    await conn.execute("UPDATE accounts SET locale = $2 WHERE id = $1", account_id, locale)


async def count_accounts(conn: Connection) -> int:
    """How many accounts exist."""
    count: int = await conn.fetchval("SELECT count(*) FROM accounts")
    return count


async def count_active_accounts(conn: Connection, since: datetime) -> int:
    """Accounts that logged in (or were created) since a moment, for NodeInfo usage."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM accounts WHERE greatest(last_login_at, created_at) >= $1", since
    )
    return count


async def select_registration_open(conn: Connection) -> bool | None:
    """The admin's registration switch, or None when the admin never set it."""
    value: bool | None = await conn.fetchval("SELECT registration_open FROM instance_config")
    return value


async def update_registration_open(conn: Connection, value: bool) -> None:
    """Open or close registration."""
    await conn.execute(
        "UPDATE instance_config SET registration_open = $1, updated_at = now()", value
    )


# --- sessions --------------------------------------------------------------------------------

_SESSION = "s.id, s.account_id, s.created_at, s.last_seen_at, s.user_agent, s.ip, s.revoked_at"


async def insert_session(
    conn: Connection,
    *,
    token_hash: bytes,
    account_id: int,
    now: datetime,
    user_agent: str,
    ip: str,
) -> int:
    """Record a new session and return its id."""
    session_id: int = await conn.fetchval(
        """INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, user_agent, ip)
           VALUES ($1, $2, $3, $3, $4, $5) RETURNING id""",
        token_hash,
        account_id,
        now,
        user_agent,
        ip,
    )
    return session_id


async def select_session_account(
    conn: Connection, token_hash: bytes, seen_since: datetime
) -> tuple[Account, Session] | None:
    """The live session with this token and its account: one indexed lookup per request."""
    row = await conn.fetchrow(
        """SELECT a.id, a.actor_id, act.username, a.email, a.password_hash, a.is_admin,
                   a.locale, a.session_epoch, a.created_at, a.last_login_at,
                   s.id AS s_id, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at,
                   s.user_agent AS s_user_agent, s.ip AS s_ip
              FROM sessions s
              JOIN accounts a ON a.id = s.account_id
              JOIN actors act ON act.id = a.actor_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.last_seen_at > $2""",
        token_hash,
        seen_since,
    )
    if row is None:
        return None
    values = record_dict(row)
    session = Session(
        id=values.pop("s_id"),
        account_id=values["id"],
        created_at=values.pop("s_created_at"),
        last_seen_at=values.pop("s_last_seen_at"),
        user_agent=values.pop("s_user_agent"),
        ip=values.pop("s_ip"),
        revoked_at=None,
    )
    return Account(**values), session


async def update_session_seen(conn: Connection, session_id: int, now: datetime, ip: str) -> None:
    """Record that a session was used now, from this address."""
    await conn.execute(
        "UPDATE sessions SET last_seen_at = $2, ip = $3 WHERE id = $1", session_id, now, ip
    )


async def select_live_sessions(
    conn: Connection, account_id: int, seen_since: datetime, *, limit: int
) -> list[Session]:
    """An account's sessions that are neither revoked nor idle too long, latest used first."""
    rows = await conn.fetch(
        f"""SELECT {_SESSION} FROM sessions s
             WHERE s.account_id = $1 AND s.revoked_at IS NULL AND s.last_seen_at > $2
             ORDER BY s.last_seen_at DESC, s.id DESC LIMIT $3""",
        account_id,
        seen_since,
        limit,
    )
    return [Session(**record_dict(row)) for row in rows]


async def select_seen_from(
    conn: Connection, account_id: int, ip: str, seen_since: datetime
) -> bool:
    """Whether the account had a session used from this address since a moment."""
    seen: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM sessions
                           WHERE account_id = $1 AND ip = $2 AND last_seen_at > $3)""",
        account_id,
        ip,
        seen_since,
    )
    return seen


async def revoke_session_by_token(conn: Connection, token_hash: bytes, now: datetime) -> None:
    """End the session with this token."""
    await conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
        now,
    )


async def revoke_session(conn: Connection, account_id: int, session_id: int, now: datetime) -> bool:
    """End one of an account's sessions; whether there was such a live session."""
    result: str = await conn.execute(
        """UPDATE sessions SET revoked_at = $3
            WHERE id = $2 AND account_id = $1 AND revoked_at IS NULL""",
        account_id,
        session_id,
        now,
    )
    return result != "UPDATE 0"


async def revoke_account_sessions(conn: Connection, account_id: int, now: datetime) -> int:
    """End every session of an account; how many were live."""
    result: str = await conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
        now,
    )
    return int(result.split()[-1])


async def delete_dead_sessions(conn: Connection, before: datetime, batch: int) -> int:
    """Remove up to `batch` sessions last used before a moment (revoked ones included: they are
    no longer used); how many went."""
    result: str = await conn.execute(
        """DELETE FROM sessions WHERE id IN (
               SELECT id FROM sessions WHERE last_seen_at < $1 LIMIT $2)""",
        before,
        batch,
    )
    return int(result.split()[-1])
