"""Account operations: register, authenticate, change password, the registration switch."""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg

from fedicity.accounts import passwords, queries, sessions
from fedicity.accounts.models import Account
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actors
from fedicity.actors.service import ActorError
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Connection, Pool

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


def check_password(password: str) -> None:
    """AccountError when a new password breaks the sign-up rules."""
    problem = passwords.password_problem(password)
    if problem == "password_common":
        raise AccountError(problem, "this password is among the most common ones; choose another")
    if problem is not None:
        raise AccountError(
            problem, f"a password has {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters"
        )


async def _check_new_account(
    conn: Connection, username: str, password: str, email: str | None
) -> tuple[str, str | None, bool]:
    """The canonical username and e-mail of a new account, and whether the e-mail is taken."""
    check_password(password)
    clean_email = normalize_email(email)
    # Every cheap check first: a refused sign-up must not cost an argon2 hash.
    canonical = actors.normalize_username(username)
    if await actor_queries.select_actor_by_username(conn, canonical) is not None:
        raise AccountError("username_taken", f"the username {canonical!r} is already taken")
    taken = clean_email is not None and await queries.select_email_taken(conn, clean_email)
    return canonical, clean_email, taken


async def _create_account(
    conn: Connection,
    *,
    username: str,
    email: str | None,
    password_hash: str,
    keygen: KeyGenerator,
    is_admin: bool,
    display_name: str,
    locale: str | None,
) -> Account:
    async with conn.transaction():
        actor = await actors.create_person(conn, username, keygen=keygen, display_name=display_name)
        account_id = await queries.insert_account(
            conn,
            actor_id=actor.id,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            locale=locale,
        )
    account = await queries.select_account_by_id(conn, account_id)
    assert account is not None
    return account


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
    """Create a citizen actor and its account in one transaction (the administrator's way: a
    taken e-mail is an error; the connection is held while hashing)."""
    canonical, clean_email, taken = await _check_new_account(conn, username, password, email)
    if taken:
        raise AccountError("email_taken", "this e-mail address is already used by an account")
    password_hash = await passwords.hash_password_async(password)
    try:
        return await _create_account(
            conn,
            username=canonical,
            email=clean_email,
            password_hash=password_hash,
            keygen=keygen,
            is_admin=is_admin,
            display_name=display_name,
            locale=locale,
        )
    except asyncpg.UniqueViolationError as error:
        # Two sign-ups raced past the checks above; the database's unique index decided.
        raise _race_error(error) from None


def _race_error(error: asyncpg.UniqueViolationError) -> AccountError:
    if error.constraint_name == "accounts_email_lower":
        return AccountError("email_taken", "this e-mail address is already used by an account")
    return AccountError("username_taken", "this username is already taken")


async def sign_up(
    db: Pool,
    *,
    username: str,
    password: str,
    keygen: KeyGenerator,
    email: str | None = None,
    display_name: str = "",
    locale: str | None = None,
) -> Account:
    """Create a citizen's account from the public sign-up form.

    The password is hashed with no pool connection held. An e-mail address that another account
    already uses is not kept, and the sign-up otherwise succeeds as usual: the answer must not
    tell a stranger that this address has an account here. (Usernames are public: they name
    actors.) The address only serves to log in, and the settings page shows what is on file.
    """
    async with db.acquire() as conn:
        canonical, clean_email, taken = await _check_new_account(conn, username, password, email)
    password_hash = await passwords.hash_password_async(password)
    # When another sign-up takes the address meanwhile, the same answer as above, without it.
    for kept_email in dict.fromkeys([None if taken else clean_email, None]):
        async with db.acquire() as conn:
            try:
                return await _create_account(
                    conn,
                    username=canonical,
                    email=kept_email,
                    password_hash=password_hash,
                    keygen=keygen,
                    is_admin=False,
                    display_name=display_name,
                    locale=locale,
                )
            except asyncpg.UniqueViolationError as error:
                if kept_email is None or error.constraint_name != "accounts_email_lower":
                    raise _race_error(error) from None
    raise AssertionError("the last try keeps no address, so it returns or raises")


async def authenticate(db: Pool, login: str, password: str, clock: Clock) -> Account | None:
    """The account if the password is right, else None (timing does not reveal which was wrong).

    No pool connection is held while argon2 runs; HashBusy when too many hashes are under way.
    """
    login = login.strip()
    async with db.acquire() as conn:
        account = await queries.select_account_by_login(conn, login) if login else None
    ok = await passwords.verify_password_async(account.password_hash if account else None, password)
    if account is None or not ok:
        return None
    fresh = None
    if passwords.needs_rehash(account.password_hash):
        try:
            fresh = await passwords.hash_password_async(password)
        except passwords.HashBusy:
            fresh = None  # the login stands; the hash is upgraded at a later one
    async with db.acquire() as conn:
        if fresh is not None:
            await queries.update_rehash(conn, account.id, fresh)
        await queries.update_last_login(conn, account.id, clock.now())
        return await queries.select_account_by_id(conn, account.id)


async def _store_password(
    conn: Connection, account_id: int, password_hash: str, now: datetime
) -> None:
    async with conn.transaction():
        await queries.update_password(conn, account_id, password_hash)
        await sessions.end_all(conn, account_id, now)


async def set_password(
    conn: Connection, account: Account, password: str, clock: Clock | None = None
) -> None:
    """Change an account's password (the administrator's way); all its sessions end."""
    check_password(password)
    password_hash = await passwords.hash_password_async(password)
    await _store_password(conn, account.id, password_hash, (clock or SystemClock()).now())


async def change_password(db: Pool, account: Account, password: str, clock: Clock) -> None:
    """Change an account's password, hashing with no pool connection held; all its sessions
    end (the caller starts a new one for the person who changed it)."""
    check_password(password)
    password_hash = await passwords.hash_password_async(password)
    async with db.acquire() as conn:
        await _store_password(conn, account.id, password_hash, clock.now())


async def registration_open(conn: Connection, default: bool) -> bool:
    """Whether sign-up is open: the admin's choice, else the FEDICITY_REGISTRATION_OPEN default."""
    value = await queries.select_registration_open(conn)
    return default if value is None else value
