"""Every main page speaks one language: the French UI shows no English UI string, the English UI
no French one. The catalog says what each string is in both languages, so a page in one language
that shows a string in the words of the other has missed a translation (or bypassed `_`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po

from fedicity.cli.demo import DEMO_ADMIN
from fedicity.db.pool import Pool
from tests.browser.conftest import ADMIN_PASSWORD, Site
from tests.browser.test_layout import MAIN_PAGES

CATALOG = (
    Path(__file__).resolve().parents[2]
    / "fedicity"
    / "web"
    / "translations"
    / "fr"
    / "LC_MESSAGES"
    / "messages.po"
)
# Pages beyond the main ones that a citizen reaches from the header.
MORE_PAGES = {
    "proposals": "/proposals",
    "organizations": "/organizations",
    "notifications": "/notifications",
    "organization_new": "/organizations/new",
    "follow_requests": "/follow-requests",
    "front": "/",
}
# Attributes whose words a person reads or hears.
_READ_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# English words that never belong in a French sentence of ours.
_ENGLISH = re.compile(
    r"\b(the|your|you|and|with|this|these|those|of|to|is|are|was|has|have|not|yet|here|"
    r"there|an|no one|nobody|nothing|sign|log|post|posts|event|events|people)\b",
    re.IGNORECASE,
)
# French dates on an English page (and the reverse) are as wrong as a French sentence.
_FRENCH_DATES = re.compile(
    r"\b(janvier|février|avril|juillet|août|septembre|octobre|novembre|décembre|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\b",
    re.IGNORECASE,
)
_ENGLISH_DATES = re.compile(
    r"\b(January|February|April|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
_URL = re.compile(r"\S+://\S+|@\S+@\S+|#\S+")


class _Texts(HTMLParser):
    """The text nodes and read attributes of a page's <main>, <header> and <footer>."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0
        self._user = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("script", "style", "textarea"):
            self._skip += 1
        # What people wrote (posts, descriptions, names; class "ugc" where nothing else says
        # so) is theirs, in their language.
        elif self._user or {"content", "summary", "description", "person", "ugc"} & set(classes):
            self._user += 1
        for name, value in attrs:
            if name in _READ_ATTRIBUTES and value and not self._user:
                self.texts.append(value)
            if name == "value" and tag == "button" and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "textarea"):
            self._skip = max(0, self._skip - 1)
        elif self._user:
            self._user -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip and not self._user:
            self.texts.append(text)


def _texts(page: str) -> list[str]:
    parser = _Texts()
    parser.feed(page)
    return parser.texts


def _pattern(message: str) -> re.Pattern[str]:
    """A catalog string as a pattern of the text it becomes, its placeholders filled."""
    parts = _PLACEHOLDER.split(message)
    literal = [re.escape(re.sub(r"\s+", " ", p)) for p in parts[::2]]
    return re.compile(".+?".join(literal))


def _catalog() -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
    """The English and the French of every string the two languages write differently."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    english, french = [], []
    for message in catalog:
        if not message.id or not message.string or isinstance(message.id, tuple):
            continue
        source, translated = str(message.id), str(message.string)
        if source == translated or len(source) < 4:
            continue
        english.append(_pattern(source))
        french.append(_pattern(translated))
    same = {p.pattern for p in english} & {p.pattern for p in french}
    return (
        [p for p in english if p.pattern not in same],
        [p for p in french if p.pattern not in same],
    )


def _other_language(texts: list[str], patterns: list[re.Pattern[str]]) -> Iterator[str]:
    for text in texts:
        for pattern in patterns:
            if pattern.fullmatch(text):
                yield f"{text!r} (catalog: {pattern.pattern!r})"
                break


async def _client(site: Site) -> httpx.AsyncClient:
    """The browser tests' member (the demo admin, who sees every main page), logged in."""
    client = httpx.AsyncClient(base_url=site.base, timeout=30, headers={"Accept": "text/html"})
    page = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "login": DEMO_ADMIN, "password": ADMIN_PASSWORD},
    )
    assert response.status_code == 303, response.text[:500]
    return client


@pytest.mark.parametrize("locale", ["fr", "en"])
async def test_every_main_page_speaks_one_language(
    locale: str, site: Site, browser_pool: Pool
) -> None:
    english, french = _catalog()
    foreign = french if locale == "en" else english
    # The member's saved language decides; the other browser tests' is put back afterwards.
    async with browser_pool.acquire() as conn:
        saved = await conn.fetchval(
            """SELECT a.locale FROM accounts a JOIN actors r ON r.id = a.actor_id
                WHERE r.username = $1""",
            DEMO_ADMIN,
        )
        await conn.execute(
            """UPDATE accounts SET locale = $2
                WHERE actor_id = (SELECT id FROM actors WHERE username = $1)""",
            DEMO_ADMIN,
            locale,
        )
    client = await _client(site)
    visitor = httpx.AsyncClient(
        base_url=site.base, timeout=30, headers={"Accept": "text/html", "Accept-Language": locale}
    )
    found: dict[str, list[str]] = {}
    try:
        pages = {name: site.pages[name] for name in MAIN_PAGES} | MORE_PAGES
        for name, path in pages.items():
            who = visitor if name in site.anonymous else client
            response = await who.get(path)
            assert response.status_code == 200, (name, path, response.status_code)
            assert f'<html lang="{locale}">' in response.text, (name, path)
            texts = _texts(response.text)
            wrong = list(_other_language(texts, foreign))
            if locale == "fr":
                wrong += [
                    f"{text!r} (English words)"
                    for text in texts
                    if _ENGLISH.search(_URL.sub(" ", text)) and text not in ("Mastodon",)
                ]
            dates = _ENGLISH_DATES if locale == "fr" else _FRENCH_DATES
            wrong += [f"{text!r} (a date)" for text in texts if dates.search(text)]
            if wrong:
                found[f"{name} ({path})"] = wrong
    finally:
        await client.aclose()
        await visitor.aclose()
        async with browser_pool.acquire() as conn:
            await conn.execute(
                """UPDATE accounts SET locale = $2
                    WHERE actor_id = (SELECT id FROM actors WHERE username = $1)""",
                DEMO_ADMIN,
                saved,
            )
    assert not found, "\n".join(f"{page}: {', '.join(texts)}" for page, texts in found.items())
