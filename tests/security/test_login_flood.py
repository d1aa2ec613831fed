"""Password guessing and hash floods: argon2 runs outside the database pool under a small
process-wide bound, and login, sign-up and password changes are rate-limited per address and per
account (429 with Retry-After); the commonest passwords are refused. Over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest

from fedicity.accounts import passwords
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.accounts.throttle import (
    LOGIN_ATTEMPTS_PER_IP,
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_ACCOUNT_IP,
    SIGNUP_ATTEMPTS_PER_IP,
    login_burst_limit,
)
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool, create_pool
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance
from tests.security.account_helpers import BROWSER, csrf, logged_in, page_text, post_login

PASSWORD = "correct horse battery"
TRUST_LOOPBACK = (ip_network("127.0.0.1/32"),)
JSON = {"Accept": "application/json"}


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> None:
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username=username, password=PASSWORD, keygen=keygen, email=f"{username}@x.org"
        )


def _from(address: str) -> dict[str, str]:
    """Headers of a request relayed by the (trusted, loopback) reverse proxy for `address`."""
    return {"X-Forwarded-For": address}


def _retry_after(response: httpx.Response) -> int:
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


def _assert_throttled_page(response: httpx.Response, typed: str) -> None:
    """A 429 for a browser: the form again, in French, with what was typed but no password."""
    assert response.status_code == 429, response.text
    _retry_after(response)
    assert response.headers["content-type"].startswith("text/html")
    page = page_text(response)
    assert "Trop de tentatives" in page
    assert f'value="{typed}"' in page
    assert PASSWORD not in page


@pytest.fixture
async def proxied(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> AsyncIterator[Instance]:
    """An instance behind a reverse proxy on loopback, whose X-Forwarded-For it believes."""
    await _citizen(pool, keygen)
    async with running_instance(
        pool, tmp_path, keygen, worker=False, clock=clock, trusted_proxies=TRUST_LOOPBACK
    ) as instance:
        yield instance


async def test_a_flood_of_logins_is_refused_fast_without_holding_pool_connections(
    pool: Pool,
    database_dsn: str,
    tmp_path: Path,
    keygen: FixedKeys,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an instance with a small pool (2 connections), and argon2 verifications that are
    # held once started, so the test sees what happens while hashes run (no timing involved)
    await _citizen(pool, keygen)
    release = threading.Event()
    lock = threading.Lock()
    running = {"now": 0, "peak": 0}
    real_verify = passwords.verify_password

    def held_verify(password_hash: str | None, password: str) -> bool:
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        try:
            release.wait(timeout=60)
            return real_verify(password_hash, password)
        finally:
            with lock:
                running["now"] -= 1

    monkeypatch.setattr(passwords, "verify_password", held_verify)
    small_pool = await create_pool(database_dsn, max_size=2)
    try:
        async with (
            running_instance(small_pool, tmp_path, keygen, worker=False, clock=clock) as instance,
            httpx.AsyncClient(base_url=instance.base, timeout=60) as http,
        ):
            token = await csrf(http)
            # When 40 wrong-password logins arrive at once
            attempts = [
                asyncio.create_task(post_login(http, "camille", f"guess {n}", token=token))
                for n in range(40)
            ]

            async def hashes_running() -> bool:
                return running["now"] >= passwords.HASH_WORKERS

            def answered() -> list[httpx.Response]:
                return [task.result() for task in attempts if task.done()]

            async def all_but_admitted_answered() -> bool:
                return len(answered()) >= len(attempts) - passwords.HASH_CAPACITY

            await eventually(hashes_running, within=30)
            # Then, while the admitted hashes are still running, a page that needs the database
            # opens: no hash holds one of the pool's connections
            home = await http.get("/", headers=BROWSER, timeout=15)
            assert home.status_code == 200
            # And every other attempt has its answer: 429 with a Retry-After, not a place in an
            # endless queue
            await eventually(all_but_admitted_answered, within=30)
            early = answered()
            assert early, "no attempt was answered while hashes ran"
            for response in early:
                _assert_throttled_page(response, "camille")
            # And never more hashes ran at once than the process-wide bound
            assert running["peak"] <= passwords.HASH_WORKERS
            release.set()
            rest = await asyncio.gather(*attempts)
            assert {response.status_code for response in rest} <= {401, 429}
            assert running["peak"] <= passwords.HASH_WORKERS
    finally:
        release.set()
        await small_pool.close()


async def test_wrong_passwords_lock_one_address_out_of_one_account_for_a_while(
    proxied: Instance, clock: FrozenClock
) -> None:
    async with httpx.AsyncClient(base_url=proxied.base) as attacker:
        # Given wrong passwords for camille from one address, up to the limit
        for n in range(LOGIN_FAILURES_PER_ACCOUNT_IP.limit):
            response = await post_login(
                attacker, "camille", f"guess {n}", headers=_from("203.0.113.5")
            )
            assert response.status_code == 401, n
        # When that address tries again, even with the right password
        refused = await post_login(attacker, "camille", PASSWORD, headers=_from("203.0.113.5"))
        # Then it gets a 429 page with Retry-After, the form keeping the login, in French
        _assert_throttled_page(refused, "camille")
        assert _retry_after(refused) <= LOGIN_FAILURES_PER_ACCOUNT_IP.window.total_seconds()
        assert not await logged_in(attacker, _from("203.0.113.5"))
        # And a program gets a problem document
        token = await csrf(attacker, headers=_from("203.0.113.5"))
        program = await attacker.post(
            "/login",
            data={"csrf_token": token, "login": "camille", "password": "x"},
            headers={**JSON, **_from("203.0.113.5")},
        )
        assert program.status_code == 429
        assert program.headers["content-type"] == "application/problem+json"
        assert program.json()["status"] == 429
        _retry_after(program)
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        # And camille, from her own address, still logs in: the attacker did not lock her out
        response = await post_login(camille, "camille", PASSWORD, headers=_from("198.51.100.7"))
        assert response.status_code == 303
    async with httpx.AsyncClient(base_url=proxied.base) as later:
        # And once the window has passed, the first address may try again
        clock.advance(LOGIN_FAILURES_PER_ACCOUNT_IP.window + timedelta(seconds=1))
        response = await post_login(later, "camille", PASSWORD, headers=_from("203.0.113.5"))
        assert response.status_code == 303


async def test_many_addresses_cannot_lock_the_owner_out_of_her_usual_places(
    proxied: Instance,
) -> None:
    home = _from("192.0.2.10")
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        # Given camille once logged in from home
        assert (await post_login(camille, "camille", PASSWORD, headers=home)).status_code == 303
    # When many addresses guess her password, each below its own limit, past the account's
    per_address = LOGIN_FAILURES_PER_ACCOUNT_IP.limit - 1
    addresses = -(-LOGIN_FAILURES_PER_ACCOUNT.limit // per_address)
    async with httpx.AsyncClient(base_url=proxied.base) as botnet:
        token = await csrf(botnet)
        for host in range(addresses):
            for n in range(per_address):
                response = await post_login(
                    botnet, "camille", f"guess {n}", token=token, headers=_from(f"203.0.113.{host}")
                )
                assert response.status_code == 401
        # Then a new address is refused, even with the right password
        refused = await post_login(
            botnet, "camille", PASSWORD, token=token, headers=_from("198.51.100.99")
        )
        _assert_throttled_page(refused, "camille")
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        # But camille, from an address where she had a session, still logs in
        assert (await post_login(camille, "camille", PASSWORD, headers=home)).status_code == 303


async def test_one_address_trying_many_accounts_is_limited(
    proxied: Instance, clock: FrozenClock
) -> None:
    address = _from("203.0.113.77")
    per_minute = login_burst_limit().limit
    async with httpx.AsyncClient(base_url=proxied.base) as sprayer:
        token = await csrf(sprayer)
        # Given one address trying one password on many usernames, up to its limit over five
        # minutes, never past its limit within one minute
        for n in range(LOGIN_ATTEMPTS_PER_IP.limit):
            if n and n % per_minute == 0:
                clock.advance(timedelta(seconds=61))
            response = await post_login(
                sprayer, f"user{n}", "password123!", token=token, headers=address
            )
            assert response.status_code == 401
        # Then its next attempt is refused before any hashing
        refused = await post_login(sprayer, "camille", PASSWORD, token=token, headers=address)
        _assert_throttled_page(refused, "camille")
    # And another address is not affected
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        response = await post_login(camille, "camille", PASSWORD, headers=_from("198.51.100.7"))
        assert response.status_code == 303


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given an instance reached directly (no trusted proxy configured: the default)
    await _citizen(pool, keygen)
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as attacker,
    ):
        token = await csrf(attacker)
        # When an attacker invents a new X-Forwarded-For for each attempt
        for n in range(login_burst_limit().limit):
            response = await post_login(
                attacker, f"user{n}", "guess", token=token, headers=_from(f"10.9.8.{n}")
            )
            assert response.status_code == 401
        # Then its own address is still what counts
        refused = await post_login(
            attacker, "camille", PASSWORD, token=token, headers=_from("10.9.9.9")
        )
        assert refused.status_code == 429


async def _sign_up(
    http: httpx.AsyncClient, token: str, username: str, headers: dict[str, str], **fields: str
) -> httpx.Response:
    form = {
        "csrf_token": token,
        "username": username,
        "email": f"{username}@example.org",
        "display_name": "Léa",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    form.update(fields)
    return await http.post("/signup", data=form, headers={**BROWSER, **headers})


async def test_sign_ups_from_one_address_are_limited(proxied: Instance) -> None:
    address = _from("203.0.113.8")
    async with httpx.AsyncClient(base_url=proxied.base) as bot:
        token = await csrf(bot, "/signup")
        # Given one address sending sign-up forms up to its limit
        for n in range(SIGNUP_ATTEMPTS_PER_IP.limit):
            response = await _sign_up(bot, token, f"bot{n}", address, password_confirm="differs")
            assert response.status_code == 422
        # When it sends one more, even a valid one
        refused = await _sign_up(bot, token, "botlast", address)
        # Then it is a 429 with the form keeping what was typed (but not the passwords)
        _assert_throttled_page(refused, "botlast")
        assert 'value="botlast@example.org"' in refused.text
        assert 'value="Léa"' in page_text(refused)
    assert await _account_count(proxied) == 1
    # And another address signs up normally
    async with httpx.AsyncClient(base_url=proxied.base) as person:
        token = await csrf(person, "/signup")
        response = await _sign_up(person, token, "lea", _from("198.51.100.7"))
        assert response.status_code == 303


async def _account_count(instance: Instance) -> int:
    async with instance.pool.acquire() as conn:
        return await account_queries.count_accounts(conn)


async def _change_password(
    http: httpx.AsyncClient, current: str, new: str, headers: dict[str, str]
) -> httpx.Response:
    token = await csrf(http, "/settings", headers=headers)
    return await http.post(
        "/settings/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "password": new,
            "password_confirm": new,
        },
        headers={**BROWSER, **headers},
    )


async def test_guessing_the_current_password_in_settings_is_limited(proxied: Instance) -> None:
    address = _from("203.0.113.9")
    async with httpx.AsyncClient(base_url=proxied.base) as thief:
        # Given someone holding camille's session (a borrowed computer) guessing her password
        assert (await post_login(thief, "camille", PASSWORD, headers=address)).status_code == 303
        for n in range(LOGIN_FAILURES_PER_ACCOUNT_IP.limit):
            response = await _change_password(thief, f"guess {n}", "stolen pass phrase", address)
            assert response.status_code == 422
        # When the guesses reach the limit, even the right one is refused for a while
        refused = await _change_password(thief, PASSWORD, "stolen pass phrase", address)
        assert refused.status_code == 429
        _retry_after(refused)
        assert "Trop de tentatives" in page_text(refused)
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        # And the password is unchanged
        response = await post_login(camille, "camille", PASSWORD, headers=_from("198.51.100.7"))
        assert response.status_code == 303


@pytest.mark.parametrize("common", ["password1", "Azerty123", "iloveyou", "motdepasse"])
async def test_the_commonest_passwords_are_refused_at_sign_up(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock, common: str
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as person,
    ):
        token = await csrf(person, "/signup")
        response = await _sign_up(
            person, token, "lea", {}, password=common, password_confirm=common
        )
        assert response.status_code == 422
        page = page_text(response)
        assert "Ce mot de passe est parmi les plus courants" in page
        assert 'value="lea"' in page
        assert common not in page
        english = await _sign_up(
            person,
            token,
            "lea",
            {"Accept-Language": "en"},
            password=common,
            password_confirm=common,
        )
        assert english.status_code == 422
        assert "This password is among the most common" in page_text(english)
    async with pool.acquire() as conn:
        assert await account_queries.count_accounts(conn) == 0


async def test_the_commonest_passwords_are_refused_at_password_change(
    proxied: Instance,
) -> None:
    async with httpx.AsyncClient(base_url=proxied.base) as camille:
        await post_login(camille, "camille", PASSWORD)
        response = await _change_password(camille, PASSWORD, "password1", {})
        assert response.status_code == 422
        assert "Ce mot de passe est parmi les plus courants" in page_text(response)
    async with httpx.AsyncClient(base_url=proxied.base) as again:
        assert (await post_login(again, "camille", PASSWORD)).status_code == 303
