"""Sign-up does not tell whether an e-mail address already has an account; over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys
from tests.flows.harness import running_instance
from tests.security.account_helpers import BROWSER, csrf, logged_in, post_login

PASSWORD = "correct horse battery"


async def _sign_up(http: httpx.AsyncClient, username: str, email: str) -> httpx.Response:
    token = await csrf(http, "/signup")
    return await http.post(
        "/signup",
        data={
            "csrf_token": token,
            "username": username,
            "email": email,
            "display_name": "",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
        headers=BROWSER,
    )


def _shape(response: httpx.Response, username: str) -> tuple[object, ...]:
    """What a visitor can observe of a sign-up answer, with the chosen username blanked."""
    cookies = sorted(
        re.sub(r"=[^;]*", "=", value) for value in response.headers.get_list("set-cookie")
    )
    headers = sorted(
        name
        for name in response.headers
        if name not in {"date", "set-cookie", "content-length", "location"}
    )
    return (
        response.status_code,
        response.headers.get("location", "").replace(username, "NAME"),
        response.text.replace(username, "NAME"),
        cookies,
        headers,
    )


async def test_a_registered_email_looks_like_any_other_at_sign_up(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given camille, registered with her e-mail address
    async with pool.acquire() as conn:
        await accounts.register(
            conn,
            username="camille",
            password=PASSWORD,
            keygen=keygen,
            email="camille@example.org",
        )
    async with running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance:
        async with httpx.AsyncClient(base_url=instance.base) as fresh_visitor:
            # When a visitor signs up with an address nobody uses
            fresh = await _sign_up(fresh_visitor, "lea", "lea@example.org")
            fresh_logged_in = await logged_in(fresh_visitor)
        async with httpx.AsyncClient(base_url=instance.base) as prober:
            # And another signs up with camille's address (in another case)
            probe = await _sign_up(prober, "mallory", "Camille@Example.ORG")
            probe_logged_in = await logged_in(prober)
        # Then the two answers cannot be told apart
        assert fresh.status_code == 303
        assert _shape(probe, "mallory") == _shape(fresh, "lea")
        assert probe_logged_in == fresh_logged_in
        # And camille's account is untouched: she still logs in with her address
        async with httpx.AsyncClient(base_url=instance.base) as camille:
            response = await post_login(camille, "camille@example.org", PASSWORD)
            assert response.status_code == 303
    async with pool.acquire() as conn:
        owner = await account_queries.select_account_by_login(conn, "camille@example.org")
        mallory = await account_queries.select_account_by_login(conn, "mallory")
    assert owner is not None
    assert owner.username == "camille"
    # And the new account did not get the address (it stays camille's alone)
    assert mallory is not None
    assert mallory.email is None


async def test_the_settings_page_shows_which_address_logs_in(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # An address that was already taken is not kept: the settings page says what is on file,
    # so the person who signed up (and only they) can see it.
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, email="c@example.org"
        )
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as http,
    ):
        response = await _sign_up(http, "mallory", "c@example.org")
        assert response.status_code == 303
        page = (await http.get("/settings", headers=BROWSER)).text
        assert "c@example.org" not in page
        assert "Adresse e-mail" in page
