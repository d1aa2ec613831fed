"""Forgotten passwords: the same answer for every address, a one-use link valid for an hour, by
a real SMTP server on loopback, the new password checked as at sign-up, every session ended."""

from __future__ import annotations

import asyncio
import email
import html
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from quart.typing import TestClientProtocol

from fedicity.accounts import queries as account_queries
from fedicity.accounts import resets
from fedicity.accounts.service import AccountError
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.accounts.helpers import PASSWORD, csrf_in, register
from tests.conftest import FixedKeys
from tests.flows.harness import free_port, running_instance

NEW_PASSWORD = "une autre phrase bien longue"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
_LINK = re.compile(r"https?://\S+/password/reset/\S+")


class Inbox:
    """The handler of a real SMTP server: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server (aiosmtpd) on 127.0.0.1, and its port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


async def _wait_for(inbox: Inbox, count: int) -> None:
    for _ in range(400):
        if len(inbox.messages) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} message(s) expected, {len(inbox.messages)} arrived")


# --- the domain ------------------------------------------------------------------------------


async def test_a_link_is_made_only_for_an_address_with_an_account(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await register(pool, keygen, "camille")
    assert (
        await resets.request_link(pool, "nobody@example.org", "198.51.100.1", clock.now()) is None
    )
    assert await resets.request_link(pool, "pas une adresse", "198.51.100.1", clock.now()) is None
    ticket = await resets.request_link(pool, " Camille@Example.org ", "198.51.100.1", clock.now())
    assert isinstance(ticket, resets.Ticket)
    assert ticket.account.username == "camille"
    assert ticket.expires_at == clock.now() + timedelta(hours=1)
    # Only the token's hash is kept
    async with pool.acquire() as conn:
        stored = await conn.fetch("SELECT token_hash FROM password_resets")
    assert [row["token_hash"] for row in stored] == [resets.token_hash(ticket.token)]
    assert ticket.token.encode() not in stored[0]["token_hash"]


async def test_a_link_works_once_and_ends_every_session(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    account = await register(pool, keygen, "camille")
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at)
               VALUES ($1, $2, $3, $3)""",
            b"s" * 32,
            account.id,
            clock.now(),
        )
    first = await resets.request_link(pool, "camille@example.org", "198.51.100.1", clock.now())
    second = await resets.request_link(pool, "camille@example.org", "198.51.100.1", clock.now())
    assert isinstance(first, resets.Ticket)
    assert isinstance(second, resets.Ticket)
    changed = await resets.reset_password(pool, first.token, NEW_PASSWORD, clock)
    assert changed.id == account.id
    assert changed.session_epoch == account.session_epoch + 1
    async with pool.acquire() as conn:
        live = await conn.fetchval(
            "SELECT count(*) FROM sessions WHERE account_id = $1 AND revoked_at IS NULL",
            account.id,
        )
    assert live == 0
    # The link, and the other one sent before, no longer work
    for ticket in (first, second):
        assert not await resets.link_is_live(pool, ticket.token, clock.now())
        with pytest.raises(resets.ResetError):
            await resets.reset_password(pool, ticket.token, "yet another long phrase", clock)


async def test_a_link_expires_after_an_hour(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await register(pool, keygen, "camille")
    ticket = await resets.request_link(pool, "camille@example.org", "198.51.100.1", clock.now())
    assert isinstance(ticket, resets.Ticket)
    clock.advance(timedelta(minutes=59))
    assert await resets.link_is_live(pool, ticket.token, clock.now())
    clock.advance(timedelta(minutes=2))
    with pytest.raises(resets.ResetError):
        await resets.reset_password(pool, ticket.token, NEW_PASSWORD, clock)


async def test_a_new_password_follows_the_sign_up_rules(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await register(pool, keygen, "camille")
    ticket = await resets.request_link(pool, "camille@example.org", "198.51.100.1", clock.now())
    assert isinstance(ticket, resets.Ticket)
    for weak, code in (("short", "password_too_short"), ("password123", "password_common")):
        with pytest.raises(AccountError) as refused:
            await resets.reset_password(pool, ticket.token, weak, clock)
        assert refused.value.code == code
    # A refused password does not spend the link
    assert await resets.link_is_live(pool, ticket.token, clock.now())


async def test_requests_are_limited_per_address_typed_per_account_and_per_client(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await register(pool, keygen, "camille")
    got = [
        await resets.request_link(pool, "camille@example.org", f"198.51.100.{n}", clock.now())
        for n in range(5)
    ]
    # Three links an hour for an account, then silence (the page says the same)
    assert [isinstance(item, resets.Ticket) for item in got] == [True, True, True, False, False]
    # From one client address, ten requests an hour whatever the address typed, then a 429
    outcomes = [
        await resets.request_link(pool, f"x{n}@example.org", "203.0.113.9", clock.now())
        for n in range(11)
    ]
    assert outcomes[:10] == [None] * 10
    assert isinstance(outcomes[10], resets.Throttled)
    assert outcomes[10].retry_after > 0
    clock.advance(timedelta(hours=1, seconds=1))
    again = await resets.request_link(pool, "camille@example.org", "198.51.100.7", clock.now())
    assert isinstance(again, resets.Ticket)


# --- the pages -------------------------------------------------------------------------------


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


async def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await register(pool, keygen, "camille")
    login_page = html.unescape(await (await client.get("/login")).get_data(as_text=True))
    assert '<a href="/password/forgot">Mot de passe oublié\u00a0?</a>' in login_page
    token = csrf_in(await (await client.get("/password/forgot")).get_data(as_text=True))
    pages = []
    for address in ("camille@example.org", "nobody@example.org"):
        response = await client.post(
            "/password/forgot", form={"csrf_token": token, "email": address}
        )
        assert response.status_code == 200
        page = await response.get_data(as_text=True)
        pages.append(_without_tokens(page).replace(address, "ADDRESS"))
    assert pages[0] == pages[1]
    assert "Si un compte d'ici a cette adresse" in html.unescape(pages[0])


async def test_a_used_expired_or_made_up_link_is_a_clear_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await register(pool, keygen, "camille")
    ticket = await resets.request_link(pool, "camille@example.org", "198.51.100.1", clock.now())
    assert isinstance(ticket, resets.Ticket)
    made_up = await client.get("/password/reset/" + "A" * 43, headers=BROWSER)
    too_short = await client.get("/password/reset/x", headers=BROWSER)
    for response in (made_up, too_short):
        assert response.status_code == 410
        page = html.unescape(await response.get_data(as_text=True))
        assert "Ce lien ne fonctionne plus" in page
        assert 'href="/password/forgot"' in page
    # A program gets a problem document
    answer = await client.get("/password/reset/" + "A" * 43)
    assert answer.status_code == 410
    assert answer.headers["Content-Type"] == "application/problem+json"
    live = await client.get(f"/password/reset/{ticket.token}")
    assert live.status_code == 200
    token = csrf_in(await live.get_data(as_text=True))
    # A mismatch keeps the link alive and says so
    response = await client.post(
        f"/password/reset/{ticket.token}",
        form={"csrf_token": token, "password": NEW_PASSWORD, "password_confirm": "autre"},
    )
    assert response.status_code == 422
    assert "Les deux mots de passe" in html.unescape(await response.get_data(as_text=True))
    # Expired: the same clear page, on GET and on POST
    clock.advance(timedelta(hours=2))
    assert (await client.get(f"/password/reset/{ticket.token}")).status_code == 410
    response = await client.post(
        f"/password/reset/{ticket.token}",
        form={"csrf_token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert response.status_code == 410


async def test_without_a_mail_server_the_link_is_written_to_the_log(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await register(pool, keygen, "camille")
    token = csrf_in(await (await client.get("/password/forgot")).get_data(as_text=True))
    with caplog.at_level(logging.WARNING, logger="fedicity.mail"):
        response = await client.post(
            "/password/forgot", form={"csrf_token": token, "email": "camille@example.org"}
        )
        assert response.status_code == 200
        for _ in range(200):
            if _LINK.search(caplog.text):
                break
            await asyncio.sleep(0.01)
    link = _LINK.search(caplog.text)
    assert link is not None, caplog.text
    assert link.group(0).startswith("http://fedicity.test/password/reset/")
    assert (await client.get(link.group(0).removeprefix("http://fedicity.test"))).status_code == 200


# --- end to end: a real SMTP server, a real HTTP client ---------------------------------------


async def test_forgot_password_by_smtp_then_reset_then_log_in(
    pool: Pool, keygen: FixedKeys, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    await register(pool, keygen, "camille")
    await register(pool, keygen, "alex", locale="en")
    async with (
        running_instance(
            pool,
            tmp_path,
            keygen,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            mail_from="Montreuil <noreply@montreuil.example>",
            instance_name="Montreuil en commun",
        ) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as phone,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as stranger,
    ):
        # Given camille logged in on her phone
        token = csrf_in((await phone.get("/login")).text)
        answer = await phone.post(
            "/login", data={"csrf_token": token, "login": "camille", "password": PASSWORD}
        )
        assert answer.status_code == 303
        # When someone (she, on another device) asks for a link for her address
        token = csrf_in((await stranger.get("/password/forgot")).text)
        answer = await stranger.post(
            "/password/forgot", data={"csrf_token": token, "email": "camille@example.org"}
        )
        assert answer.status_code == 200
        # Then the mail server receives one message, in French, with the link
        await _wait_for(inbox, 1)
        message = inbox.messages[0]
        assert inbox.envelopes[0] == ("noreply@montreuil.example", ["camille@example.org"])
        assert message["Subject"] == "Votre mot de passe sur Montreuil en commun"
        assert message["From"] == "Montreuil <noreply@montreuil.example>"
        text = _text(message)
        assert "Bonjour camille" in text
        assert "dans l'heure" in text
        found = _LINK.search(text)
        assert found is not None
        assert found.group(0).startswith(instance.base)
        link = found.group(0)
        # When she follows it and chooses a new password
        page = await stranger.get(link)
        assert page.status_code == 200
        answer = await stranger.post(
            link,
            data={
                "csrf_token": csrf_in(page.text),
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        # Then she is logged in there, on her feed
        assert answer.status_code == 303
        assert answer.headers["location"] == "/home"
        assert (await stranger.get("/settings")).status_code == 200
        # And her phone's session has ended
        assert (await phone.get("/settings")).status_code == 303
        # And the link is spent: a clear page, no 500
        again = await stranger.get(link)
        assert again.status_code == 410
        assert "Ce lien ne fonctionne plus" in html.unescape(again.text)
        # And the new password opens the account, the old one no longer does
        token = csrf_in((await phone.get("/login")).text)
        old = await phone.post(
            "/login", data={"csrf_token": token, "login": "camille", "password": PASSWORD}
        )
        assert old.status_code == 401
        new = await phone.post(
            "/login",
            data={"csrf_token": token, "login": "camille", "password": NEW_PASSWORD},
        )
        assert new.status_code == 303

        # An account whose language is English gets its message in English
        token = csrf_in((await stranger.get("/password/forgot")).text)
        await stranger.post(
            "/password/forgot", data={"csrf_token": token, "email": "ALEX@example.org"}
        )
        await _wait_for(inbox, 2)
        assert inbox.messages[1]["Subject"] == "Your password on Montreuil en commun"
        assert "Hello alex" in _text(inbox.messages[1])
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, "camille")
    assert account is not None


async def test_an_unreachable_mail_server_does_not_hold_up_or_change_the_answer(
    pool: Pool, keygen: FixedKeys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await register(pool, keygen, "camille")
    async with (
        running_instance(
            pool, tmp_path, keygen, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=2.0
        ) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        token = csrf_in((await http.get("/password/forgot")).text)
        with caplog.at_level(logging.WARNING, logger="fedicity.mail"):
            answer = await http.post(
                "/password/forgot", data={"csrf_token": token, "email": "camille@example.org"}
            )
            assert answer.status_code == 200
            assert answer.elapsed < timedelta(seconds=1.5)
            for _ in range(300):
                if "not sent" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    assert "e-mail to camille@example.org not sent" in caplog.text
