"""French by default, English on request, and a French catalog that covers every UI string."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from quart import Response
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "fedicity" / "web" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
KEYWORDS: dict[str, None] = {"gettext": None, "lazy": None, "_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
PASSWORD = "long enough"


async def _text(response: Response) -> str:
    return html.unescape(await response.get_data(as_text=True))


def _lang_cookies(response: Response) -> list[str]:
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lang=")]


async def _language_of(response: Response) -> str:
    """fr or en, judged from the page's lang attribute and its login link."""
    text = await _text(response)
    match = re.search(r'<html lang="(\w+)">', text)
    assert match is not None
    if match.group(1) == "fr":
        assert "Se connecter" in text or "Se déconnecter" in text
        assert "Log in" not in text
    else:
        assert "Log in" in text or "Log out" in text
        assert "Se connecter" not in text
    return match.group(1)


async def _register(pool: Pool, keygen: FixedKeys, username: str, locale: str | None) -> None:
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username=username, password=PASSWORD, keygen=keygen, locale=locale
        )


async def _log_in(client: TestClientProtocol, username: str) -> None:
    page = await (await client.get("/login")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    response = await client.post(
        "/login", form={"csrf_token": match.group(1), "login": username, "password": PASSWORD}
    )
    assert response.status_code == 303


async def test_french_is_the_default(client: TestClientProtocol) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert await _language_of(response) == "fr"
    assert "Se connecter" in await _text(response)
    assert "S'inscrire" in await _text(response)


async def test_accept_language_picks_the_language(client: TestClientProtocol) -> None:
    cases = [
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("en-US", "en"),
        ("de,en;q=0.5,fr;q=0.4", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en;q=0.5,fr", "fr"),
        ("de", "fr"),
        ("*", "fr"),
    ]
    for accept_language, expected in cases:
        response = await client.get("/", headers={"Accept-Language": accept_language})
        assert await _language_of(response) == expected, accept_language


async def test_lang_parameter_sets_a_cookie_that_sticks(client: TestClientProtocol) -> None:
    # When a visitor clicks "English"
    response = await client.get("/?lang=en")
    # Then the page is English and a long-lived lang cookie is set
    assert await _language_of(response) == "en"
    (cookie,) = _lang_cookies(response)
    assert cookie.startswith("lang=en;")
    assert "Max-Age=" in cookie
    # And later pages stay English without the parameter, even for a French browser
    later = await client.get("/login", headers={"Accept-Language": "fr"})
    assert await _language_of(later) == "en"
    # When she switches back
    assert await _language_of(await client.get("/?lang=fr")) == "fr"
    assert await _language_of(await client.get("/", headers={"Accept-Language": "en"})) == "fr"


async def test_unknown_lang_values_are_ignored(client: TestClientProtocol) -> None:
    for value in ("de", "EN", "", "en-GB", "english"):
        response = await client.get("/", query_string={"lang": value})
        assert await _language_of(response) == "fr", value
        assert _lang_cookies(response) == [], value


@pytest.mark.parametrize(("account_locale", "other"), [("en", "fr"), ("fr", "en")])
async def test_a_logged_in_accounts_locale_wins_over_cookie_and_browser(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    account_locale: str,
    other: str,
) -> None:
    # Given a citizen who chose a language, logged in
    await _register(pool, keygen, "camille", account_locale)
    await _log_in(client, "camille")
    # When her browser and a cookie ask for the other language
    client.set_cookie("fedicity.test", "lang", other)
    response = await client.get("/", headers={"Accept-Language": other})
    # Then her own choice wins
    assert await _language_of(response) == account_locale


@pytest.mark.parametrize(("account_locale", "other"), [("en", "fr"), ("fr", "en")])
async def test_the_language_link_changes_a_logged_in_accounts_language(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    account_locale: str,
    other: str,
) -> None:
    # Given a citizen who saved a language in her settings, logged in
    await _register(pool, keygen, "camille", account_locale)
    await _log_in(client, "camille")
    # When she follows the header's link to the other language
    response = await client.get(f"/?lang={other}", headers={"Accept-Language": account_locale})
    # Then the page is in that language, and it stays so on her next pages (her account's choice)
    assert await _language_of(response) == other
    client.set_cookie("fedicity.test", "lang", account_locale)
    assert await _language_of(await client.get("/")) == other
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT locale FROM accounts") == other


async def test_error_pages_are_translated(client: TestClientProtocol) -> None:
    browser = {"Accept": "text/html"}
    french = await _text(await client.get("/actors/nobody", headers=browser))
    english = await _text(
        await client.get("/actors/nobody", headers={**browser, "Accept-Language": "en"})
    )
    assert "Introuvable" in french
    assert "Not found" in english


def _extracted_messages() -> dict[str, set[str]]:
    """Every msgid the code and templates use, with the files using it."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")  # type: ignore[no-untyped-call]
    found: dict[str, set[str]] = {}
    for filename, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgids = message if isinstance(message, tuple) else (message,)
        for msgid in msgids:
            if msgid:
                found.setdefault(msgid, set()).add(filename)
    return found


def test_extraction_sees_templates_and_code() -> None:
    # Guards the catalog test below against passing because nothing was extracted.
    messages = _extracted_messages()
    assert len(messages) >= 40
    assert "Log in" in messages  # a template string
    assert "This username is reserved." in messages  # a lazy() string in Python
    files = set().union(*messages.values())
    assert any(name.endswith(".html") for name in files)
    assert any(name.endswith(".py") for name in files)


def test_every_ui_string_has_a_french_translation() -> None:
    # Given every message the UI can show, extracted as `make messages` does
    messages = _extracted_messages()
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    # Then each has a non-empty, non-fuzzy French translation
    missing = []
    for msgid, files in sorted(messages.items()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{msgid!r} (used in {', '.join(sorted(files))})")
    assert not missing, "untranslated:\n" + "\n".join(missing)


def _texts(value: object) -> list[str]:
    """A catalog entry's id or string as a list (plural entries hold several)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [item for item in items if isinstance(item, str)]


def test_placeholders_match_between_english_and_french() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    mismatched = []
    for entry in catalog:
        if not entry.id or not entry.string:
            continue
        expected = set().union(*(PLACEHOLDER.findall(text) for text in _texts(entry.id)))
        for text in _texts(entry.string):
            if set(PLACEHOLDER.findall(text)) != expected:
                mismatched.append(f"{entry.id!r} -> {text!r}")
    assert not mismatched, "placeholders differ:\n" + "\n".join(mismatched)


def test_placeholder_check_would_catch_a_mistranslation() -> None:
    # The regex used above sees a dropped or renamed placeholder.
    assert PLACEHOLDER.findall("Le réseau de %(territory)s") == ["territory"]
    assert PLACEHOLDER.findall("Le réseau de %(territoire)s") != ["territory"]
    assert PLACEHOLDER.findall("Le réseau de territoire") == []
