"""Account operations: register, authenticate, change password, the registration switch."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from fedicity.accounts import passwords, queries
from fedicity.accounts.models import Account
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actors
from fedicity.actors.service import ActorError
from fedicity.clock import Clock
from fedicity.db.pool import Connection

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AccountError(ActorError):
    """An account operation was refused; `code` says why."""


def normalize_email(raw: str | None) -> str | None:
    """A trimmed e-mail address, None when empty; raise AccountError when malformed."""
    if raw is None or not raw.strip():
        return None
    email = raw.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError("email_invalid", "this e-mail address does not look valid")
    return email


async def register(
    conn: Connection,
    *,
    username: str,
    password: str,
    keygen: KeyGenerator,
    email: str | None = None,
    is_admin: bool = False,
    display_name: str = "",
    locale: str | None = None,
) -> Account:
    """Create a citizen actor and its account in one transaction."""
    problem = passwords.password_problem(password)
    if problem is not None:
        raise AccountError(
            problem, f"a password has {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters"
        )
    clean_email = normalize_email(email)
    # Every cheap check first: a refused sign-up must not cost an argon2 hash.
    canonical = actors.normalize_username(username)
    if await actor_queries.select_actor_by_username(conn, canonical) is not None:
        raise AccountError("username_taken", f"the username {canonical!r} is already taken")
    if clean_email is not None and await queries.select_email_taken(conn, clean_email):
        raise AccountError("email_taken", "this e-mail address is already used by an account")
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    try:
        async with conn.transaction():
            actor = await actors.create_person(
                conn, canonical, keygen=keygen, display_name=display_name
            )
            account_id = await queries.insert_account(
                conn,
                actor_id=actor.id,
                email=clean_email,
                password_hash=password_hash,
                is_admin=is_admin,
                locale=locale,
            )
    except asyncpg.UniqueViolationError:
        # Two sign-ups raced past the checks above; the database's unique index decided.
        raise AccountError(
            "email_taken", "this e-mail address is already used by an account"
        ) from None
    account = await queries.select_account_by_id(conn, account_id)
    assert account is not None
    return account


async def authenticate(conn: Connection, login: str, password: str, clock: Clock) -> Account | None:
    """The account if the password is right, else None (timing does not reveal which was wrong)."""
    account = await queries.select_account_by_login(conn, login.strip()) if login.strip() else None
    ok = await asyncio.to_thread(
        passwords.verify_password, account.password_hash if account else None, password
    )
    if account is None or not ok:
        return None
    if passwords.needs_rehash(account.password_hash):
        fresh = await asyncio.to_thread(passwords.hash_password, password)
        await queries.update_rehash(conn, account.id, fresh)
    await queries.update_last_login(conn, account.id, clock.now())
    return await queries.select_account_by_id(conn, account.id)


async def set_password(conn: Connection, account: Account, password: str) -> None:
    """Change an account's password; its other sessions end."""
    problem = passwords.password_problem(password)
    if problem is not None:
        raise AccountError(
            problem, f"a password has {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters"
        )
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    await queries.update_password(conn, account.id, password_hash)


async def registration_open(conn: Connection, default: bool) -> bool:
    """Whether sign-up is open: the admin's choice, else the FEDICITY_REGISTRATION_OPEN default."""
    value = await queries.select_registration_open(conn)
    return default if value is None else value
