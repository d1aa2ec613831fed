"""Helpers for the account security tests: a browser-like HTTP client against a real server."""

from __future__ import annotations

import html
import re

import httpx

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def page_text(response: httpx.Response) -> str:
    """A response's HTML with entities decoded, for searching French text."""
    return html.unescape(response.text)


async def csrf(
    http: httpx.AsyncClient, path: str = "/login", headers: dict[str, str] | None = None
) -> str:
    """The CSRF token of the client's session, read from a form's hidden input."""
    response = await http.get(path, headers={**BROWSER, **(headers or {})})
    assert response.status_code == 200, (path, response.status_code)
    match = _CSRF.search(response.text)
    assert match is not None, f"no csrf_token input on {path}"
    return match.group(1)


async def post_login(
    http: httpx.AsyncClient,
    login: str,
    password: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST the login form as a browser would."""
    token = token or await csrf(http, headers=headers)
    return await http.post(
        "/login",
        data={"csrf_token": token, "login": login, "password": password},
        headers={**BROWSER, **(headers or {})},
    )


async def logged_in(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> bool:
    """Whether /settings opens (it redirects to /login when logged out)."""
    response = await http.get("/settings", headers={**BROWSER, **(headers or {})})
    assert response.status_code in {200, 303}, response.status_code
    return response.status_code == 200


def copy_cookies(source: httpx.AsyncClient, target: httpx.AsyncClient) -> None:
    """Give `target` every cookie `source` holds (a stolen or copied session)."""
    for cookie in source.cookies.jar:
        target.cookies.jar.set_cookie(cookie)
