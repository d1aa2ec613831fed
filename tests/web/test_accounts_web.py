"""Sign-up, login, logout, settings and the admin's registration switch, through HTML forms."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from quart import Quart, Response
from quart.typing import TestClientProtocol

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.accounts.models import Account
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys

BASE = "http://fedicity.test"
PASSWORD = "correct horse"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


async def _page(response: Response) -> str:
    """A response's HTML with entities decoded, for searching French text."""
    return html.unescape(await response.get_data(as_text=True))


async def _csrf(client: TestClientProtocol, path: str = "/login") -> str:
    """The CSRF token of the session, read from a form's hidden input."""
    response = await client.get(path)
    assert response.status_code == 200, path
    match = _CSRF.search(await response.get_data(as_text=True))
    assert match is not None, f"no csrf_token input on {path}"
    return match.group(1)


async def _register(
    pool: Pool, keygen: FixedKeys, username: str, *, is_admin: bool = False
) -> Account:
    async with pool.acquire() as conn:
        return await accounts.register(
            conn,
            username=username,
            password=PASSWORD,
            keygen=keygen,
            email=f"{username}@example.org",
            is_admin=is_admin,
        )


async def _log_in(client: TestClientProtocol, login: str, password: str = PASSWORD) -> None:
    token = await _csrf(client)
    response = await client.post(
        "/login", form={"csrf_token": token, "login": login, "password": password}
    )
    assert response.status_code == 303


async def _logged_in(client: TestClientProtocol) -> bool:
    """Whether /settings opens (it redirects to /login when logged out)."""
    response = await client.get("/settings")
    assert response.status_code in {200, 303}
    return response.status_code == 200


async def _account_count(pool: Pool) -> int:
    async with pool.acquire() as conn:
        return await account_queries.count_accounts(conn)


def _signup_form(token: str, username: str = "newbie", **fields: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "username": username,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    form.update(fields)
    return form


async def _close_registration(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await account_queries.update_registration_open(conn, False)


# Sign-up


async def test_signup_form_carries_a_csrf_token_and_the_fields(client: TestClientProtocol) -> None:
    response = await client.get("/signup")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert _CSRF.search(page)
    for field in ("username", "password", "password_confirm", "email", "display_name"):
        assert f'name="{field}"' in page
    # The session cookie that holds the token is HttpOnly and SameSite=Lax
    (cookie,) = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("fedicity_session=")
    ]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


async def test_signup_creates_the_account_and_logs_in(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given the sign-up form's token
    token = await _csrf(client, "/signup")
    # When a visitor signs up
    response = await client.post(
        "/signup",
        form=_signup_form(
            token, "Newbie", email="newbie@example.org", display_name="Nouvelle Venue"
        ),
    )
    # Then she lands on her feed, logged in
    assert response.status_code == 303
    assert response.headers["Location"] == "/home"
    assert await _logged_in(client)
    # And her account and actor exist, with a lower-case username
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, "newbie@example.org")
        assert account is not None
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert account.username == "newbie"
    assert actor is not None
    assert actor.display_name == "Nouvelle Venue"
    assert not account.is_admin
    # And she can log in again later with that password
    other = client.app.test_client()
    await _log_in(other, "newbie")
    assert await _logged_in(other)


async def test_signup_without_the_right_csrf_token_is_refused(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given a visitor with a session (and thus a real token)
    await _csrf(client, "/signup")
    for token in (None, "", "not-the-token"):
        # When the form is posted without it, or with another value
        form = _signup_form(token or "")
        if token is None:
            del form["csrf_token"]
        response = await client.post("/signup", form=form)
        # Then it is refused, and no account is created
        assert response.status_code == 400, token
        assert await _account_count(pool) == 0, token
        assert not await _logged_in(client)


async def test_signup_with_another_sessions_token_is_refused(
    app: Quart, client: TestClientProtocol, pool: Pool
) -> None:
    # Given an attacker's own valid token
    attacker_token = await _csrf(app.test_client(), "/signup")
    # When a victim's browser posts it (CSRF)
    await _csrf(client, "/signup")
    response = await client.post("/signup", form=_signup_form(attacker_token))
    # Then it does not match the victim's session
    assert response.status_code == 400
    assert await _account_count(pool) == 0


async def test_signup_without_any_session_is_refused(
    client: TestClientProtocol, pool: Pool
) -> None:
    response = await client.post("/signup", form=_signup_form("forged"))
    assert response.status_code == 400
    assert await _account_count(pool) == 0


# One rule broken per form, with the French message the form must then show.
INVALID_SIGNUPS: list[tuple[dict[str, str], str]] = [
    ({"password_confirm": "something else"}, "Les deux mots de passe sont différents."),
    ({"username": "admin"}, "Ce nom d'utilisateur est réservé."),
    ({"username": "camille"}, "Ce nom d'utilisateur est déjà pris."),
    ({"username": "CAMILLE"}, "Ce nom d'utilisateur est déjà pris."),
    ({"username": "bad name!"}, "Un nom d'utilisateur a de 1 à 30 caractères"),
    ({"username": ""}, "Un nom d'utilisateur a de 1 à 30 caractères"),
    (
        {"password": "short", "password_confirm": "short"},
        "Un mot de passe a au moins 8 caractères.",
    ),
    # A taken e-mail is not refused: sign-up must not reveal it (tests/security/
    # test_signup_privacy.py).
    ({"password": "password1", "password_confirm": "password1"}, "parmi les plus courants"),
    ({"email": "not an address"}, "Cette adresse e-mail ne semble pas valide."),
    ({"display_name": "x" * 101}, "Un nom a au plus 100 caractères."),
]


async def test_invalid_signup_is_422_with_a_message_and_creates_nothing(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given camille already has an account
    await _register(pool, keygen, "camille")
    token = await _csrf(client, "/signup")
    for fields, message in INVALID_SIGNUPS:
        # When a visitor sends a form breaking one rule
        response = await client.post("/signup", form=_signup_form(token, **fields))
        # Then the form comes back with the reason, in French by default
        assert response.status_code == 422, fields
        page = await _page(response)
        assert message in page, fields
        assert 'role="alert"' in page
        # And nothing was created, nobody is logged in
        assert await _account_count(pool) == 1, fields
        async with pool.acquire() as conn:
            assert await actor_queries.count_actors(conn, "person") == 1, fields
        assert not await _logged_in(client)


async def test_rejected_signup_keeps_what_was_typed_but_not_passwords(
    client: TestClientProtocol,
) -> None:
    token = await _csrf(client, "/signup")
    response = await client.post(
        "/signup",
        form=_signup_form(
            token, "keepme", password_confirm="different", display_name="Léa <b>", email=""
        ),
    )
    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert 'value="keepme"' in page
    assert 'value="Léa &lt;b&gt;"' in page
    assert PASSWORD not in page


async def test_signup_closed_by_the_admin_is_a_403_page(
    client: TestClientProtocol, pool: Pool
) -> None:
    # Given the admin closed registration
    token = await _csrf(client)
    await _close_registration(pool)
    # When a visitor opens the sign-up page
    response = await client.get("/signup")
    # Then a page says registration is closed
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "Les inscriptions sont fermées" in await _page(response)
    # And posting the form anyway creates nothing
    posted = await client.post("/signup", form=_signup_form(token))
    assert posted.status_code == 403
    assert await _account_count(pool) == 0


# Login


async def test_login_with_the_right_password_starts_a_session(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _register(pool, keygen, "camille")
    assert not await _logged_in(client)
    token = await _csrf(client)
    # When she logs in
    response = await client.post(
        "/login", form={"csrf_token": token, "login": "camille", "password": PASSWORD}
    )
    # Then she lands on her feed, with a session that opens her settings
    assert response.status_code == 303
    assert response.headers["Location"] == "/home"
    settings_page = await client.get("/settings")
    assert settings_page.status_code == 200
    assert "@camille" in await settings_page.get_data(as_text=True)


async def test_login_accepts_email_and_any_case(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    for login in ("camille@example.org", "CAMILLE@EXAMPLE.ORG", "CAMILLE", "  camille  "):
        await _log_in(client, login)
        assert await _logged_in(client), login
        token = await _csrf(client, "/settings")
        await client.post("/logout", form={"csrf_token": token})
        assert not await _logged_in(client)


async def test_login_renews_the_csrf_token(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a token seen before logging in (possibly planted: session fixation)
    await _register(pool, keygen, "camille")
    before = await _csrf(client)
    await _log_in(client, "camille")
    # Then the logged-in session has a fresh token, and the old one no longer works
    assert await _csrf(client, "/settings") != before
    response = await client.post("/logout", form={"csrf_token": before})
    assert response.status_code == 400
    assert await _logged_in(client)


async def test_wrong_credentials_are_a_401_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _register(pool, keygen, "camille")
    wrong = [("camille", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD), ("camille", "")]
    for login, password in wrong:
        token = await _csrf(client)
        # When someone logs in with a wrong username or password
        response = await client.post(
            "/login", form={"csrf_token": token, "login": login, "password": password}
        )
        # Then the form comes back, 401, with one message that does not say which was wrong
        assert response.status_code == 401, login
        assert response.mimetype == "text/html"
        page = await _page(response)
        assert "Nom d'utilisateur ou mot de passe incorrect." in page, login
        assert f'value="{login}"' in page
        assert not await _logged_in(client)


async def test_login_form_carries_a_same_site_next(client: TestClientProtocol) -> None:
    page = await (await client.get("/login?next=/settings")).get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/settings">' in page


HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/settings",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "/\n/evil.example",  # browsers drop the line break; a header cannot hold it
    "/\r\n/evil.example",
    "javascript:alert(1)",
    "evil.example",
]


async def test_next_only_allows_same_site_paths(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _register(pool, keygen, "camille")
    for target in HOSTILE_NEXT:
        # When a login link carries a hostile next, the form does not carry it on
        form_page = await client.get("/login", query_string={"next": target})
        page = await form_page.get_data(as_text=True)
        assert '<input type="hidden" name="next" value="/home">' in page, repr(target)
        # And when she logs in with that next posted back anyway
        token = await _csrf(client)
        response = await client.post(
            "/login",
            form={"csrf_token": token, "login": "camille", "password": PASSWORD, "next": target},
        )
        # Then she is sent to her feed on this site, not elsewhere
        assert response.status_code == 303, repr(target)
        assert response.headers["Location"] == "/home", repr(target)


async def test_next_keeps_same_site_paths(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    token = await _csrf(client)
    response = await client.post(
        "/login",
        form={
            "csrf_token": token,
            "login": "camille",
            "password": PASSWORD,
            "next": "/settings?saved=1",
        },
    )
    assert response.headers["Location"] == "/settings?saved=1"


# Logout


async def test_logout_needs_post_with_the_csrf_token(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    # When a link (GET) or a forged form tries to log her out
    assert (await client.get("/logout")).status_code == 405
    assert (await client.post("/logout")).status_code == 400
    assert (await client.post("/logout", form={"csrf_token": "forged"})).status_code == 400
    # Then she is still logged in
    assert await _logged_in(client)
    # When she uses the page's own logout button
    token = await _csrf(client, "/settings")
    response = await client.post("/logout", form={"csrf_token": token})
    # Then she is logged out and sent home
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert not await _logged_in(client)


# Settings


async def test_settings_send_logged_out_visitors_to_login(client: TestClientProtocol) -> None:
    response = await client.get("/settings")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/settings"]


async def test_settings_post_when_logged_out_changes_nothing(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    token = await _csrf(client)
    response = await client.post("/settings", form={"csrf_token": token, "display_name": "X"})
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "camille")
    assert actor is not None
    assert actor.display_name == ""


async def test_settings_update_profile_locale_and_actor_document(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen whose actor document was already served (and cached)
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    ap = {"Accept": "application/activity+json"}
    before = await (await client.get("/actors/camille", headers=ap)).get_json()
    assert before["name"] == "camille"
    assert before["manuallyApprovesFollowers"] is False
    # When she edits her profile and picks English
    token = await _csrf(client, "/settings")
    response = await client.post(
        "/settings",
        form={
            "csrf_token": token,
            "display_name": "  Camille Martin  ",
            "summary": "Jardinière.\n\nBénévole à l'AMAP.",
            "manually_approves_followers": "on",
            "locale": "en",
        },
    )
    # Then she is sent back to her settings, which now speak English
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/settings"
    saved = await client.get(response.headers["Location"])
    assert "Saved." in await _page(saved)
    assert "Log out" in await _page(saved)
    # And the actor document other servers fetch shows the new profile
    after = await (await client.get("/actors/camille", headers=ap)).get_json()
    assert after["name"] == "Camille Martin"
    # The bio is Markdown, rendered as event descriptions and proposals are
    assert after["summary"] == "<p>Jardinière.</p>\n<p>Bénévole à l'AMAP.</p>\n"
    assert after["manuallyApprovesFollowers"] is True
    assert after["discoverable"] is False
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, "camille")
    assert account is not None
    assert account.locale == "en"


async def test_settings_refuse_a_too_long_name(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    token = await _csrf(client, "/settings")
    response = await client.post(
        "/settings", form={"csrf_token": token, "display_name": "x" * 101, "locale": "en"}
    )
    assert response.status_code == 422
    assert "Un nom a au plus 100 caractères." in await _page(response)
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "camille")
        account = await account_queries.select_account_by_login(conn, "camille")
    assert actor is not None
    assert account is not None
    assert actor.display_name == ""
    assert account.locale is None


async def test_password_change_ends_other_sessions(
    app: Quart, client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen logged in on a laptop, and the same session cookie copied to a phone
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    phone = app.test_client()
    assert client.cookie_jar is not None
    assert phone.cookie_jar is not None
    for cookie in client.cookie_jar:
        phone.cookie_jar.set_cookie(cookie)
    assert await _logged_in(phone)
    # When she changes her password on the laptop
    token = await _csrf(client, "/settings")
    response = await client.post(
        "/settings/password",
        form={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "a brand new one",
            "password_confirm": "a brand new one",
        },
    )
    # Then the laptop stays logged in, the old cookie on the phone no longer works
    assert response.status_code == 303
    assert await _logged_in(client)
    assert not await _logged_in(phone)
    # And only the new password logs in
    third = app.test_client()
    token = await _csrf(third)
    refused = await third.post(
        "/login", form={"csrf_token": token, "login": "camille", "password": PASSWORD}
    )
    assert refused.status_code == 401
    await _log_in(third, "camille", "a brand new one")


async def test_refused_password_change_keeps_the_old_password(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    token = await _csrf(client, "/settings")
    refusals = [
        ("wrong one", "new pass 1", "new pass 1", "Le mot de passe actuel est incorrect."),
        (PASSWORD, "new pass 1", "other 12", "Les deux mots de passe sont différents."),
        (PASSWORD, "short", "short", "Un mot de passe a au moins 8 caractères."),
    ]
    for current, new, again, message in refusals:
        # When a password change breaks a rule
        response = await client.post(
            "/settings/password",
            form={
                "csrf_token": token,
                "current_password": current,
                "password": new,
                "password_confirm": again,
            },
        )
        # Then the settings page says why, and nothing changed: same session, same password
        assert response.status_code == 422, message
        assert message in await _page(response)
        assert await _logged_in(client)
        async with pool.acquire() as conn:
            account = await account_queries.select_account_by_login(conn, "camille")
        assert account is not None
        assert account.session_epoch == 0, message
    other = client.app.test_client()
    await _log_in(other, "camille", PASSWORD)


# Administration


async def test_admin_page_sends_logged_out_visitors_to_login(client: TestClientProtocol) -> None:
    response = await client.get("/admin")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"


async def test_admin_page_is_403_for_a_non_admin(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen who is not an admin
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    # When she opens the admin page, or posts its form
    page = await client.get("/admin", headers=BROWSER)
    problem = await client.get("/admin")
    token = await _csrf(client, "/settings")
    posted = await client.post("/admin", form={"csrf_token": token})
    # Then she is refused, and registration stays open
    assert page.status_code == 403
    assert page.mimetype == "text/html"
    assert "Accès refusé" in await _page(page)
    assert problem.status_code == 403
    assert problem.content_type == "application/problem+json"
    assert posted.status_code == 403
    async with pool.acquire() as conn:
        assert await account_queries.select_registration_open(conn) is None


async def test_admin_closes_and_reopens_registration(
    app: Quart, client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in admin and a visitor
    await _register(pool, keygen, "maire", is_admin=True)
    await _register(pool, keygen, "camille")
    await _log_in(client, "maire")
    visitor = app.test_client()
    # The admin page lists the accounts, with the registration box ticked
    admin_page = await client.get("/admin")
    assert admin_page.status_code == 200
    text = await admin_page.get_data(as_text=True)
    assert "@camille" in text
    assert re.search(r'name="registration_open"\s+checked', text)
    # When the admin saves the form with the box unticked
    token = await _csrf(client, "/admin")
    response = await client.post("/admin", form={"csrf_token": token})
    assert response.status_code == 303
    # Then sign-up answers 403 and NodeInfo says registrations are closed
    assert (await visitor.get("/signup")).status_code == 403
    nodeinfo = await (await visitor.get("/nodeinfo/2.1")).get_json(force=True)
    assert nodeinfo["openRegistrations"] is False
    assert not re.search(
        r'name="registration_open"\s+checked',
        await (await client.get("/admin")).get_data(as_text=True),
    )
    # When the admin ticks the box again
    token = await _csrf(client, "/admin")
    response = await client.post("/admin", form={"csrf_token": token, "registration_open": "on"})
    assert response.status_code == 303
    # Then sign-up is open again
    assert (await visitor.get("/signup")).status_code == 200
    nodeinfo = await (await visitor.get("/nodeinfo/2.0")).get_json(force=True)
    assert nodeinfo["openRegistrations"] is True


async def test_a_person_follows_and_stops_a_calendar_from_the_settings_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    await _log_in(client, "camille")
    token = await _csrf(client, "/settings")
    feed = "https://asso.example/agenda.ics"
    response = await client.post(
        "/settings/calendars", form={"csrf_token": token, "url": feed, "format": "ical"}
    )
    assert response.status_code == 303
    page = await _page(await client.get("/settings"))
    assert feed in page
    assert "Suivi" in page
    stop = re.search(r'action="(/settings/calendars/(\d+)/stop)"', page)
    assert stop is not None
    response = await client.post(stop.group(1), form={"csrf_token": token})
    assert response.status_code == 303
    page = await _page(await client.get("/settings"))
    assert "Arrêté" in page
    assert 'action="/settings/calendars/' + stop.group(2) + '/stop"' not in page
