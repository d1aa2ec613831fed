"""Sessions are server-side records: logout, revocation from the settings page and password
changes end them, even for a cookie copied before; over real HTTP on loopback."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.accounts import sessions
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys
from tests.flows.harness import running_instance
from tests.security.account_helpers import (
    BROWSER,
    copy_cookies,
    csrf,
    logged_in,
    page_text,
    post_login,
)

PASSWORD = "correct horse battery"
_SESSION_ROW = re.compile(r'<li class="session[^"]*"[^>]*>(.*?)</li>', re.S)
_REVOKE_ID = re.compile(r'name="session" value="(\d+)"')


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> None:
    async with pool.acquire() as conn:
        await accounts.register(
            conn,
            username=username,
            password=PASSWORD,
            keygen=keygen,
            email=f"{username}@example.org",
        )


async def _log_in(http: httpx.AsyncClient, username: str = "camille") -> None:
    response = await post_login(http, username, PASSWORD)
    assert response.status_code == 303, response.text


async def test_a_cookie_copied_before_logout_is_refused_after_it(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as laptop,
        httpx.AsyncClient(base_url=instance.base) as thief,
    ):
        # Given camille logged in, and her session cookie copied (malware, a shared computer)
        await _log_in(laptop)
        copy_cookies(laptop, thief)
        assert await logged_in(thief)
        stolen_token = await csrf(thief, "/settings")
        # When she logs out
        token = await csrf(laptop, "/settings")
        response = await laptop.post("/logout", data={"csrf_token": token}, headers=BROWSER)
        assert response.status_code == 303
        assert not await logged_in(laptop)
        # Then the copied cookie opens nothing any more
        refused = await thief.get("/settings", headers=BROWSER)
        assert refused.status_code == 303
        assert refused.headers["Location"].startswith("/login")
        # And cannot post either: the profile stays as it was
        posted = await thief.post(
            "/settings",
            data={"csrf_token": stolen_token, "display_name": "Pwned", "locale": "fr"},
            headers=BROWSER,
        )
        assert posted.status_code == 303
        assert posted.headers["Location"].startswith("/login")
        note = await thief.post(
            "/notes", data={"csrf_token": stolen_token, "text": "not camille"}, headers=BROWSER
        )
        assert note.status_code in {303, 400, 401}
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "camille")
        assert actor is not None
        assert actor.display_name != "Pwned"
        posts: int = await conn.fetchval("SELECT count(*) FROM posts")
    assert posts == 0


async def test_settings_list_the_sessions_and_revoke_one(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base, headers={"User-Agent": "Laptop/1.0"}) as laptop,
        httpx.AsyncClient(base_url=instance.base, headers={"User-Agent": "Phone/2.0"}) as phone,
    ):
        # Given camille logged in on her laptop and on her phone
        await _log_in(laptop)
        await _log_in(phone)
        # When she opens her settings on the laptop
        response = await laptop.get("/settings", headers=BROWSER)
        assert response.status_code == 200
        page = page_text(response)
        # Then both sessions are listed, with their device, address and the current one marked
        rows = _SESSION_ROW.findall(page)
        assert len(rows) == 2, page
        (laptop_row,) = [row for row in rows if "Laptop/1.0" in row]
        (phone_row,) = [row for row in rows if "Phone/2.0" in row]
        assert "127.0.0.1" in laptop_row
        assert "127.0.0.1" in phone_row
        assert "Cette session" in laptop_row
        assert "Cette session" not in phone_row
        match = _REVOKE_ID.search(phone_row)
        assert match is not None, phone_row
        # When she revokes the phone's session (a form with the CSRF token)
        token = await csrf(laptop, "/settings")
        forged = await laptop.post(
            "/settings/sessions", data={"session": match.group(1)}, headers=BROWSER
        )
        assert forged.status_code == 400
        assert await logged_in(phone)
        revoked = await laptop.post(
            "/settings/sessions",
            data={"csrf_token": token, "session": match.group(1)},
            headers=BROWSER,
        )
        assert revoked.status_code == 303
        # Then the phone is logged out, the laptop is not, and only one session is listed
        assert not await logged_in(phone)
        assert await logged_in(laptop)
        page = page_text(await laptop.get("/settings", headers=BROWSER))
        assert len(_SESSION_ROW.findall(page)) == 1


async def test_a_session_of_another_account_cannot_be_revoked(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen, "camille")
    await _citizen(pool, keygen, "yanis")
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as camille,
        httpx.AsyncClient(base_url=instance.base) as yanis,
    ):
        await _log_in(camille, "camille")
        await _log_in(yanis, "yanis")
        async with pool.acquire() as conn:
            yanis_session: int = await conn.fetchval(
                """SELECT s.id FROM sessions s JOIN accounts a ON a.id = s.account_id
                     JOIN actors act ON act.id = a.actor_id WHERE act.username = 'yanis'"""
            )
        # When camille posts the revocation of yanis's session
        token = await csrf(camille, "/settings")
        response = await camille.post(
            "/settings/sessions",
            data={"csrf_token": token, "session": str(yanis_session)},
            headers=BROWSER,
        )
        # Then nothing happens to it
        assert response.status_code in {303, 404}
        assert await logged_in(yanis)
        assert await logged_in(camille)


async def test_log_out_everywhere_ends_every_session(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as laptop,
        httpx.AsyncClient(base_url=instance.base) as phone,
        httpx.AsyncClient(base_url=instance.base) as copy,
    ):
        await _log_in(laptop)
        await _log_in(phone)
        copy_cookies(phone, copy)
        settings_page = page_text(await laptop.get("/settings", headers=BROWSER))
        assert "Se déconnecter partout" in settings_page
        # When she logs out everywhere from the laptop
        token = await csrf(laptop, "/settings")
        response = await laptop.post(
            "/logout", data={"csrf_token": token, "everywhere": "on"}, headers=BROWSER
        )
        assert response.status_code == 303
        # Then no session is left, copies included
        for client in (laptop, phone, copy):
            assert not await logged_in(client)


async def test_a_password_change_ends_the_other_sessions(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as laptop,
        httpx.AsyncClient(base_url=instance.base) as phone,
    ):
        await _log_in(laptop)
        await _log_in(phone)
        token = await csrf(laptop, "/settings")
        response = await laptop.post(
            "/settings/password",
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "password": "a brand new passphrase",
                "password_confirm": "a brand new passphrase",
            },
            headers=BROWSER,
        )
        assert response.status_code == 303
        assert await logged_in(laptop)
        assert not await logged_in(phone)
        page = page_text(await laptop.get("/settings", headers=BROWSER))
        assert len(_SESSION_ROW.findall(page)) == 1


async def test_last_seen_is_written_at_most_every_few_minutes_and_idle_sessions_expire(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)

    async def last_seen() -> object:
        async with pool.acquire() as conn:
            return await conn.fetchval("SELECT last_seen_at FROM sessions")

    async with (
        running_instance(pool, tmp_path, keygen, worker=False, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base) as laptop,
    ):
        await _log_in(laptop)
        first = await last_seen()
        assert first == clock.now()
        # Requests a minute later do not write
        clock.advance(timedelta(minutes=1))
        assert await logged_in(laptop)
        assert await last_seen() == first
        # After a few more minutes, the next request records the visit
        clock.advance(timedelta(minutes=10))
        assert await logged_in(laptop)
        assert await last_seen() == clock.now()
        # And a session unused for more than 30 days has ended
        clock.advance(timedelta(days=31))
        assert not await logged_in(laptop)


async def test_housekeeping_forgets_sessions_unused_for_their_lifetime(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        account_id: int = await conn.fetchval("SELECT id FROM accounts")
        old = await sessions.start(
            conn, account_id, user_agent="Old", ip="1.2.3.4", now=clock.now()
        )
        clock.advance(sessions.LIFETIME)
        kept = await sessions.start(
            conn, account_id, user_agent="New", ip="1.2.3.4", now=clock.now()
        )
        await sessions.end(conn, kept, clock.now())
        clock.advance(timedelta(seconds=1))
        assert await sessions.prune(conn, clock.now()) == 1
        agents = {row["user_agent"] for row in await conn.fetch("SELECT user_agent FROM sessions")}
        assert agents == {"New"}
        assert await sessions.resume(conn, old, ip="1.2.3.4", now=clock.now()) is None
