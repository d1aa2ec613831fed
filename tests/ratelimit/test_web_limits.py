"""Rate limits at the door, over real HTTP on loopback: the 11th login attempt in a minute from
one address, publications per account (the form comes back with the text kept), and every other
HTML form per account or address. Each refusal is a 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.posts import queries as post_queries
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, running_instance
from tests.security.account_helpers import BROWSER, csrf, page_text, post_login

PASSWORD = "correct horse battery"


async def _citizen(pool: Pool, keygen: FixedKeys, username: str) -> None:
    async with pool.acquire() as conn:
        await accounts.register(conn, username=username, password=PASSWORD, keygen=keygen)


def _retry_after(response: httpx.Response) -> int:
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


@pytest.fixture
async def instance(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, clock: FrozenClock
) -> AsyncIterator[Instance]:
    """An instance with small publishing and form limits, so tests reach them quickly."""
    await _citizen(pool, keygen, "camille")
    async with running_instance(
        pool,
        tmp_path,
        keygen,
        worker=False,
        clock=clock,
        posts_per_ten_minutes=3,
        posts_per_day=5,
        form_posts_per_minute=8,
    ) as started:
        yield started


async def test_the_11th_login_attempt_in_a_minute_from_one_address_gets_429(
    instance: Instance, clock: FrozenClock
) -> None:
    async with httpx.AsyncClient(base_url=instance.base) as guesser:
        token = await csrf(guesser)
        # Given ten login attempts from one address within a minute, on ten different names
        for n in range(10):
            clock.advance(timedelta(seconds=5))
            response = await post_login(guesser, f"user{n}", "guess", token=token)
            assert response.status_code == 401, n
        # When the eleventh comes, even with the right password
        refused = await post_login(guesser, "camille", PASSWORD, token=token)
        # Then it is a 429 with Retry-After to the end of the minute, the form keeping the name
        assert refused.status_code == 429
        # (the window began with the first attempt, 45 seconds before this one)
        assert _retry_after(refused) == 60 - 45
        assert 'value="camille"' in refused.text
        assert "Trop de tentatives" in page_text(refused)
        # And once the minute has passed, the address may try again
        clock.advance(timedelta(seconds=60))
        assert (await post_login(guesser, "camille", PASSWORD, token=token)).status_code == 303


async def _write(http: httpx.AsyncClient, token: str, text: str) -> httpx.Response:
    return await http.post(
        "/notes",
        data={"csrf_token": token, "text": text, "visibility": "public"},
        headers=BROWSER,
    )


async def _posts_by_camille(instance: Instance) -> int:
    async with instance.pool.acquire() as conn:
        posts = await post_queries.select_author_posts(
            conn, instance.urls.actor("camille"), limit=100
        )
    return len(posts)


async def test_publishing_is_limited_per_account_and_the_text_is_kept(
    instance: Instance, clock: FrozenClock
) -> None:
    async with httpx.AsyncClient(base_url=instance.base) as camille:
        assert (await post_login(camille, "camille", PASSWORD)).status_code == 303
        token = await csrf(camille, "/home")
        # Given three posts in a few minutes (the burst limit set for this instance)
        for n in range(3):
            clock.advance(timedelta(minutes=1))
            assert (await _write(camille, token, f"Post {n}")).status_code == 303
        # When she sends a fourth within the ten minutes
        refused = await _write(camille, token, "Le marché <b>de nuit</b> est reporté")
        # Then it is a 429 with Retry-After to the end of the window, her feed with the text
        # kept in the composer (escaped) and the reason in French
        assert refused.status_code == 429
        assert _retry_after(refused) == 10 * 60 - 2 * 60  # from the first post, 2 min ago
        assert "Le marché &lt;b&gt;de nuit&lt;/b&gt; est reporté" in refused.text
        assert "Vous avez beaucoup publié en peu de temps" in page_text(refused)
        assert await _posts_by_camille(instance) == 3
        # And after the window she publishes again, until the daily limit (5)
        clock.advance(timedelta(minutes=10))
        for n in range(2):
            assert (await _write(camille, token, f"Later {n}")).status_code == 303
        clock.advance(timedelta(minutes=10))
        late = await _write(camille, token, "One too many today")
        assert late.status_code == 429
        assert _retry_after(late) > 10 * 60, "the daily window, not the burst one, refused it"
        assert await _posts_by_camille(instance) == 5


async def test_every_other_html_form_is_limited_and_only_genuine_forms_count(
    instance: Instance,
) -> None:
    async with httpx.AsyncClient(base_url=instance.base) as camille:
        assert (await post_login(camille, "camille", PASSWORD)).status_code == 303
        token = await csrf(camille, "/home")
        # Given forms without their CSRF token (as a page elsewhere would send): refused, uncounted
        for _ in range(10):
            forged = await camille.post("/follow", data={"handle": "x"}, headers=BROWSER)
            assert forged.status_code == 400
        # When she sends eight forms in a minute, then a ninth
        answers = [
            await camille.post(
                "/follow", data={"csrf_token": token, "handle": f"nobody{n}"}, headers=BROWSER
            )
            for n in range(9)
        ]
        # Then the first eight went through to the view, the ninth is a 429 page in French
        assert all(answer.status_code != 429 for answer in answers[:8])
        refused = answers[8]
        assert refused.status_code == 429
        assert 0 < _retry_after(refused) <= 60
        assert refused.headers["content-type"].startswith("text/html")
        assert "Trop de formulaires envoyés" in page_text(refused)
        assert "429 — Trop de requêtes" in page_text(refused)
        # And a program gets a problem document with the same Retry-After
        program = await camille.post(
            "/follow",
            data={"csrf_token": token, "handle": "x"},
            headers={"Accept": "application/json"},
        )
        assert program.status_code == 429
        assert program.json()["reason"] == "rate_limited"
        _retry_after(program)
    async with httpx.AsyncClient(base_url=instance.base) as visitor:
        # And a visitor from the same address is not affected: logged-in forms count per account
        token = await csrf(visitor, "/password/forgot")
        asked = await visitor.post(
            "/password/forgot",
            data={"csrf_token": token, "email": "someone@example.org"},
            headers=BROWSER,
        )
        assert asked.status_code == 200


async def test_every_kind_of_publication_shares_the_limit_and_keeps_what_was_typed(
    instance: Instance, clock: FrozenClock
) -> None:
    async with httpx.AsyncClient(base_url=instance.base) as camille:
        assert (await post_login(camille, "camille", PASSWORD)).status_code == 303
        token = await csrf(camille, "/home")
        # Given a proposal and two posts: the three publications of the burst window
        created = await camille.post(
            "/proposals",
            data={"csrf_token": token, "title": "Un jardin partagé", "text": "Rue de Paris"},
            headers=BROWSER,
        )
        assert created.status_code == 303, created.text
        proposal = created.headers["location"]
        # (opened for amendments and debate: changing its state publishes no text)
        opened = await camille.post(
            f"{proposal}/state",
            data={"csrf_token": token, "action": "amendable", "days": "14"},
            headers=BROWSER,
        )
        assert opened.status_code == 303, opened.text
        for n in range(2):
            assert (await _write(camille, token, f"Post {n}")).status_code == 303
        # When, a minute later (a new window of the forms' own limit), she organises an event,
        # drafts a proposal, creates an organisation, comments and proposes an amendment
        clock.advance(timedelta(seconds=61))
        forms = {
            "/events": {"title": "Fête des voisins", "starts_at": "2026-06-04T18:00"},
            "/proposals": {"title": "Des bancs place Jean-Jaurès", "text": "Trois bancs"},
            "/organizations": {
                "username": "amicale",
                "display_name": "Amicale du quartier",
                "kind": "association",
            },
            f"{proposal}/comments": {"stance": "for", "text": "Je soutiens ce jardin"},
            f"{proposal}/amendments": {"action": "propose", "text": "Ajouter un composteur"},
        }
        for path, fields in forms.items():
            refused = await camille.post(
                path, data={"csrf_token": token, **fields}, headers=BROWSER
            )
            # Then each is a 429 with Retry-After, its form again with what she typed
            assert refused.status_code == 429, (path, refused.status_code)
            _retry_after(refused)
            shown = page_text(refused)
            assert "Vous avez beaucoup publié en peu de temps" in shown, path
            typed = fields.get("text") or fields.get("display_name") or fields["title"]
            assert typed in shown, (path, typed)
    # And nothing was created
    async with instance.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
        assert await conn.fetchval("SELECT count(*) FROM proposals") == 1
        assert await conn.fetchval("SELECT count(*) FROM proposal_comments") == 0
        assert await conn.fetchval("SELECT count(*) FROM proposal_amendments") == 0
        assert await conn.fetchval("SELECT count(*) FROM organizations") == 0


async def test_admins_are_not_held_to_the_forms_limit(
    instance: Instance, keygen: FixedKeys
) -> None:
    async with instance.pool.acquire() as conn:
        await accounts.register(
            conn, username="maire", password=PASSWORD, keygen=keygen, is_admin=True
        )
    async with httpx.AsyncClient(base_url=instance.base) as admin:
        assert (await post_login(admin, "maire", PASSWORD)).status_code == 303
        token = await csrf(admin, "/home")
        # An admin working through a queue sends more forms in a minute than the limit (8 here)
        answers = [
            await admin.post(
                "/follow", data={"csrf_token": token, "handle": f"nobody{n}"}, headers=BROWSER
            )
            for n in range(12)
        ]
        assert [answer.status_code for answer in answers] == [303] * 12
