"""Accounts: registration rules, argon2id hashes, login by username or e-mail, password changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from fedicity.accounts import passwords, queries
from fedicity.accounts import service as accounts
from fedicity.accounts.models import Account
from fedicity.accounts.service import AccountError
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.service import ActorError
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from tests.conftest import FixedKeys

PASSWORD = "correct horse battery"


async def _register(
    conn: Connection,
    keygen: FixedKeys,
    username: str = "camille",
    *,
    password: str = PASSWORD,
    email: str | None = None,
    is_admin: bool = False,
) -> Account:
    return await accounts.register(
        conn,
        username=username,
        password=password,
        keygen=keygen,
        email=email,
        is_admin=is_admin,
    )


async def _counts(conn: Connection) -> tuple[int, int]:
    actors: int = await conn.fetchval("SELECT count(*) FROM actors")
    accounts_: int = await conn.fetchval("SELECT count(*) FROM accounts")
    return actors, accounts_


# --- register --------------------------------------------------------------------------------


async def test_register_creates_a_person_actor_and_its_account(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        # When a citizen registers
        account = await accounts.register(
            conn,
            username="camille",
            password=PASSWORD,
            keygen=keygen,
            email="camille@ville.example",
            display_name="  Camille Martin ",
            locale="en",
        )
        # Then her account is stored with what she gave
        assert account.username == "camille"
        assert account.email == "camille@ville.example"
        assert account.is_admin is False
        assert account.locale == "en"
        assert account.session_epoch == 0
        assert account.last_login_at is None
        assert await queries.select_account_by_id(conn, account.id) == account
        # And it logs in as a new Person actor with a key pair and her (trimmed) display name
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert actor is not None
        assert actor.kind == "person"
        assert actor.organization_kind is None
        assert actor.username == "camille"
        assert actor.display_name == "Camille Martin"
        assert (actor.public_key_pem or "").startswith("-----BEGIN PUBLIC KEY-----")
        assert (actor.private_key_pem or "").startswith("-----BEGIN PRIVATE KEY-----")
        assert await _counts(conn) == (1, 1)


async def test_register_can_create_an_admin(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        account = await _register(conn, keygen, "maire", is_admin=True)
    assert account.is_admin is True


async def test_register_without_email_stores_none(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        assert (await _register(conn, keygen, email=None)).email is None
        assert (await _register(conn, keygen, "yanis", email="   ")).email is None


async def test_password_is_stored_as_an_argon2id_hash(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        account = await _register(conn, keygen)
        stored: str = await conn.fetchval(
            "SELECT password_hash FROM accounts WHERE id = $1", account.id
        )
    # Then the database holds an argon2id hash that verifies, never the plaintext
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "!")


async def test_same_password_hashes_differently_for_two_accounts(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        first = await _register(conn, keygen, "camille")
        second = await _register(conn, keygen, "yanis")
    assert first.password_hash != second.password_hash


# --- usernames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Camille", "camille"),
        ("LEA_93", "lea_93"),
        ("  yanis  ", "yanis"),
        ("a", "a"),
        ("x" * 30, "x" * 30),
        ("_0_", "_0_"),
    ],
)
def test_acceptable_usernames_are_normalised_to_lower_case(raw: str, stored: str) -> None:
    assert actor_service.normalize_username(raw) == stored


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "x" * 31, "jean-pierre", "jean.pierre", "jean pierre", "léa", "camille@ville", "ß"],
)
def test_malformed_usernames_are_refused(raw: str) -> None:
    with pytest.raises(ActorError) as raised:
        actor_service.normalize_username(raw)
    assert raised.value.code == "username_invalid"


@pytest.mark.parametrize(
    "raw", ["admin", "Admin", "inbox", "actor", "root", "webfinger", "mod", "mairie_officielle"]
)
def test_reserved_usernames_are_refused(raw: str) -> None:
    with pytest.raises(ActorError) as raised:
        actor_service.normalize_username(raw)
    assert raised.value.code == "username_reserved"


async def test_register_stores_the_username_in_lower_case(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        account = await _register(conn, keygen, " Camille_93 ")
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert account.username == "camille_93"
    assert actor is not None
    assert actor.username == "camille_93"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("jean-pierre", "username_invalid"),
        ("x" * 31, "username_invalid"),
        ("Admin", "username_reserved"),
        ("inbox", "username_reserved"),
        ("actor", "username_reserved"),
    ],
)
async def test_register_refuses_a_bad_username_and_creates_nothing(
    pool: Pool, keygen: FixedKeys, raw: str, code: str
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ActorError) as raised:
            await _register(conn, keygen, raw)
        assert raised.value.code == code
        assert await _counts(conn) == (0, 0)


@pytest.mark.parametrize("second", ["camille", "CAMILLE", " Camille "])
async def test_taken_username_is_refused_whatever_its_case(
    pool: Pool, keygen: FixedKeys, second: str
) -> None:
    async with pool.acquire() as conn:
        # Given camille is registered
        await _register(conn, keygen, "camille")
        # When someone registers the same name in another case
        with pytest.raises(ActorError) as raised:
            await _register(conn, keygen, second, email="other@ville.example")
        # Then it is refused and nothing more is created
        assert raised.value.code == "username_taken"
        assert await _counts(conn) == (1, 1)


async def test_username_of_an_organisation_is_taken_for_accounts(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        await actor_service.create_organization(
            conn, "mairie", organization_kind="local_government", keygen=keygen
        )
        with pytest.raises(ActorError) as raised:
            await _register(conn, keygen, "Mairie")
    assert raised.value.code == "username_taken"


async def test_account_errors_are_actor_errors_with_a_code(pool: Pool, keygen: FixedKeys) -> None:
    # The CLI and the web catch ActorError; AccountError must be one
    async with pool.acquire() as conn:
        with pytest.raises(ActorError) as raised:
            await _register(conn, keygen, password="short")
    assert isinstance(raised.value, AccountError)
    assert raised.value.code == "password_too_short"


# --- e-mail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "camille@localhost",
        "camille@@ville.example",
        "camille martin@ville.example",
        "@ville.example",
        "camille@",
        "x" * 65 + "@ville.example",
        "camille@" + "a" * 250 + ".example",
    ],
)
async def test_malformed_email_is_refused(pool: Pool, keygen: FixedKeys, email: str) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(AccountError) as raised:
            await _register(conn, keygen, email=email)
        assert raised.value.code == "email_invalid"
        assert await _counts(conn) == (0, 0)


async def test_email_is_trimmed_and_keeps_its_case(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        account = await _register(conn, keygen, email="  Camille.Martin@Ville.example \n")
    assert account.email == "Camille.Martin@Ville.example"


async def test_taken_email_is_refused_whatever_its_case(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        # Given an account with an e-mail address
        await _register(conn, keygen, "camille", email="Camille@Ville.example")
        # When another person registers with the same address in other case
        with pytest.raises(AccountError) as raised:
            await _register(conn, keygen, "yanis", email="camille@ville.EXAMPLE")
        # Then it is refused before any actor is created
        assert raised.value.code == "email_taken"
        assert await _counts(conn) == (1, 1)
        assert await actor_queries.select_actor_by_username(conn, "yanis") is None


def test_normalize_email_keeps_a_plain_address() -> None:
    assert accounts.normalize_email("lea@ville.example") == "lea@ville.example"
    assert accounts.normalize_email(None) is None
    assert accounts.normalize_email("") is None


# --- passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("", "password_too_short"),
        ("x" * (passwords.MIN_LENGTH - 1), "password_too_short"),
        ("x" * (passwords.MAX_LENGTH + 1), "password_too_long"),
    ],
)
async def test_password_outside_the_length_limits_is_refused(
    pool: Pool, keygen: FixedKeys, password: str, code: str
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(AccountError) as raised:
            await _register(conn, keygen, password=password)
        assert raised.value.code == code
        assert await _counts(conn) == (0, 0)


@pytest.mark.parametrize("length", [passwords.MIN_LENGTH, passwords.MAX_LENGTH])
async def test_password_at_the_length_limits_is_accepted(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, length: int
) -> None:
    password = "é" * length
    async with pool.acquire() as conn:
        await _register(conn, keygen, password=password)
        assert await accounts.authenticate(pool, "camille", password, clock) is not None


# --- authenticate ----------------------------------------------------------------------------


async def test_authenticate_by_username_or_email(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        # Given a citizen with an e-mail address
        registered = await _register(conn, keygen, email="camille@ville.example")
        # When she logs in with her username or her address, in any case, with stray spaces
        for login in ["camille", "CAMILLE", " camille ", "CAMILLE@Ville.Example"]:
            account = await accounts.authenticate(pool, login, PASSWORD, clock)
            # Then she gets her account
            assert account is not None, login
            assert account.id == registered.id


async def test_wrong_password_authenticates_nobody(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        registered = await _register(conn, keygen)
        for password in ["wrong password", PASSWORD.upper(), PASSWORD + " ", "", PASSWORD[:-1]]:
            assert await accounts.authenticate(pool, "camille", password, clock) is None, password
        # And failed attempts are not recorded as logins
        account = await queries.select_account_by_id(conn, registered.id)
    assert account is not None
    assert account.last_login_at is None


async def test_unknown_login_authenticates_nobody(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        await _register(conn, keygen, email="camille@ville.example")
        for login in ["nobody", "nobody@ville.example", "camille@", "", "   "]:
            assert await accounts.authenticate(pool, login, PASSWORD, clock) is None, login


async def test_login_time_comes_from_the_injected_clock(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        # Given a registered citizen
        account = await _register(conn, keygen)
        # When she logs in
        assert await accounts.authenticate(pool, "camille", PASSWORD, clock) is not None
        # Then the login is recorded at the clock's time
        after_first = await queries.select_account_by_id(conn, account.id)
        assert after_first is not None
        assert after_first.last_login_at == clock.now()
        # When she logs in again a day later
        clock.advance(timedelta(days=1))
        assert await accounts.authenticate(pool, "camille", PASSWORD, clock) is not None
        # Then the later time replaces the first
        after_second = await queries.select_account_by_id(conn, account.id)
    assert after_second is not None
    assert after_second.last_login_at == clock.now()
    assert after_second.last_login_at - after_first.last_login_at == timedelta(days=1)


async def test_weak_hash_is_upgraded_at_login_without_ending_sessions(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given an account whose hash was made with weaker argon2 parameters
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    async with pool.acquire() as conn:
        account = await _register(conn, keygen)
        await conn.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account.id, weak)
        # When she logs in
        assert await accounts.authenticate(pool, "camille", PASSWORD, clock) is not None
        # Then the hash was recomputed with today's parameters, and her sessions stay valid
        upgraded = await queries.select_account_by_id(conn, account.id)
    assert upgraded is not None
    assert upgraded.password_hash != weak
    assert not passwords.needs_rehash(upgraded.password_hash)
    assert passwords.verify_password(upgraded.password_hash, PASSWORD)
    assert upgraded.session_epoch == account.session_epoch


# --- set_password ----------------------------------------------------------------------------


async def test_set_password_replaces_the_old_one_and_ends_sessions(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        # Given a citizen with a password
        account = await _register(conn, keygen)
        # When her password is changed
        await accounts.set_password(conn, account, "a brand new password")
        # Then only the new password works
        assert await accounts.authenticate(pool, "camille", PASSWORD, clock) is None
        assert await accounts.authenticate(pool, "camille", "a brand new password", clock)
        # And the session epoch moved on, so older session cookies stop working
        changed = await queries.select_account_by_id(conn, account.id)
        assert changed is not None
        assert changed.session_epoch == account.session_epoch + 1
        # And each change moves it again
        await accounts.set_password(conn, changed, "yet another password")
        again = await queries.select_account_by_id(conn, account.id)
    assert again is not None
    assert again.session_epoch == account.session_epoch + 2


async def test_set_password_refuses_a_short_password_and_keeps_the_old_one(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        account = await _register(conn, keygen)
        with pytest.raises(AccountError) as raised:
            await accounts.set_password(conn, account, "short")
        assert raised.value.code == "password_too_short"
        assert await accounts.authenticate(pool, "camille", PASSWORD, clock) is not None
        unchanged = await queries.select_account_by_id(conn, account.id)
    assert unchanged is not None
    assert unchanged.session_epoch == account.session_epoch


async def test_set_password_changes_only_that_account(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    async with pool.acquire() as conn:
        camille = await _register(conn, keygen, "camille")
        yanis = await _register(conn, keygen, "yanis")
        await accounts.set_password(conn, camille, "camille's new password")
        assert await accounts.authenticate(pool, "yanis", PASSWORD, clock) is not None
        untouched = await queries.select_account_by_id(conn, yanis.id)
    assert untouched is not None
    assert untouched.session_epoch == 0


# --- the registration switch -----------------------------------------------------------------


@pytest.mark.parametrize("default", [True, False])
async def test_registration_follows_the_default_until_the_admin_chooses(
    pool: Pool, default: bool
) -> None:
    async with pool.acquire() as conn:
        assert await queries.select_registration_open(conn) is None
        assert await accounts.registration_open(conn, default) is default


@pytest.mark.parametrize("choice", [True, False])
@pytest.mark.parametrize("default", [True, False])
async def test_admin_choice_overrides_the_registration_default(
    pool: Pool, default: bool, choice: bool
) -> None:
    async with pool.acquire() as conn:
        await queries.update_registration_open(conn, choice)
        assert await accounts.registration_open(conn, default) is choice


async def test_concurrent_sign_ups_with_one_email_give_one_account_and_a_clear_error(
    pool: Pool, keygen: FixedKeys
) -> None:
    # Given two sign-ups with the same e-mail racing past the e-mail check
    async def sign_up(name: str) -> str:
        async with pool.acquire() as conn:
            try:
                await accounts.register(
                    conn,
                    username=name,
                    password="long enough",
                    email="same@example.org",
                    keygen=keygen,
                )
            except AccountError as error:
                return error.code
            return "ok"

    results = sorted(await asyncio.gather(sign_up("first"), sign_up("second")))
    # Then one succeeds and the other is refused as email_taken, never a database error
    assert results == ["email_taken", "ok"]
