"""SQL for accounts; connection first."""

from __future__ import annotations

from datetime import datetime

from fedicity.accounts.models import Account
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
    """Store a new password hash and invalidate existing sessions."""
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
