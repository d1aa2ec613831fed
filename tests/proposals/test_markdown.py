"""Markdown for long texts (step 7): proposals, comments, amendments, official answers and bios
are rendered by the one renderer event descriptions use (fedicity.textfmt.render_markdown), and
federated as the sanitised HTML plus the Markdown `source` (text/markdown). Hostile Markdown
renders safely and never makes a 500."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.actors.document import actor_to_ap
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.proposals import parse as proposals_parse
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice

PASSWORD = "correct horse battery staple"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
AS_JSON = "application/activity+json"
_CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
MARKDOWN = "Un **jardin** partagé :\n\n- des fraises\n- des [plans](https://example.org/plan)\n"
HOSTILE = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1)) <javascript:alert(1)> [y](data:text/html,<script>1</script>)",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "![x](javascript:alert(1)) ![y](https://example.org/x.png)",
    '<a href="javascript:alert(1)">x</a> <iframe src="https://evil.example"></iframe>',
    "[x]: javascript:alert(1)\n\n[y][x]",
    ">" * 5000 + " profond",
    "\n".join(">" * depth + " ligne" for depth in range(1, 150)),
    "- " * 5000 + "liste",
    "\n".join("  " * depth + "- niveau" for depth in range(120)),
    "1. " * 3000 + "x",
    "a\u0000b <scr\u0000ipt>",
    "*_" * 5000,
    "[" * 10000,
]


def _safe(rendered: str) -> None:
    """No script, no handler, no script-like link, and not deeper than CommonMark's cap."""
    lowered = rendered.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<iframe" not in lowered
    assert not re.search(r"<[^>]+\son\w+\s*=", lowered)
    assert not re.search(r"""href\s*=\s*["']?\s*(javascript|data|vbscript):""", lowered)
    assert "\x00" not in rendered
    depth = deepest = 0
    for tag in re.finditer(r"<(/?)(blockquote|ul|ol)\b", lowered):
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    assert deepest <= 21


@pytest.mark.parametrize("source", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_markdown_renders_safely(source: str) -> None:
    _safe(render_markdown(source))


def test_markdown_is_rendered_and_links_are_kept_only_when_safe() -> None:
    rendered = render_markdown(MARKDOWN)
    assert "<strong>jardin</strong>" in rendered
    assert rendered.count("<li>") == 2
    assert 'href="https://example.org/plan"' in rendered
    assert 'rel="nofollow noopener noreferrer"' in rendered
    assert render_markdown("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>\n"
    assert render_markdown("   \n ") == ""
    # Typed addresses become links; a punycode host is shown as typed, not as a look-alike
    linked = render_markdown("Le plan : https://example.org/plan.pdf, voir xn--80ak6aa92e.com")
    assert '<a href="https://example.org/plan.pdf"' in linked
    assert ">xn--80ak6aa92e.com</a>" in linked
    assert "<a" not in render_markdown("javascript:alert(1) file:///etc/passwd ftp://x.org")


# -- through the forms and the documents ---------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    await import_slice(pool, tmp_path)
    assert await prepare_serving(pool, settings) is not None
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def _text(client: TestClientProtocol, path: str, accept: str = BROWSER) -> str:
    response = await client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, (path, response.status_code)
    return await response.get_data(as_text=True)


async def _logged_in(app: Quart, pool: Pool, keygen: FixedKeys) -> tuple[TestClientProtocol, str]:
    async with pool.acquire() as conn:
        await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
    client = app.test_client()
    token = _CSRF.search(await _text(client, "/login"))
    assert token is not None
    await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    token = _CSRF.search(await _text(client, "/proposals/new"))
    assert token is not None
    return client, token.group(1)


async def _amendable(client: TestClientProtocol, token: str, text: str) -> str:
    """A proposal with this text, open for amendments (and comments); its path."""
    response = await client.post(
        "/proposals", form={"csrf_token": token, "title": "Jardin", "text": text}
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    path: str = response.headers["Location"]
    response = await client.post(
        path + "/state", form={"csrf_token": token, "action": "amendable", "days": "14"}
    )
    assert response.status_code == 303
    return path


async def test_proposal_comment_and_amendment_are_markdown_federated_with_their_source(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client, token = await _logged_in(app, pool, keygen)
    path = await _amendable(client, token, MARKDOWN)
    for where, text in (
        ("/comments", "Oui, *vraiment*."),
        ("/amendments", "Des **poires** aussi."),
    ):
        form = {"csrf_token": token, "text": text, "stance": "for", "action": "propose"}
        response = await client.post(path + where, form=form)
        assert response.status_code == 303, await response.get_data(as_text=True)

    # The page shows the rendered text of each
    page = await _text(client, path)
    assert "<strong>jardin</strong>" in page
    assert "<em>vraiment</em>" in page
    assert "<strong>poires</strong>" in page
    # The Question carries the HTML and the Markdown it came from, as do its comment and
    # amendment (embedded, and the Notes that were sent)
    question = json.loads(await _text(client, path, AS_JSON))
    assert "<strong>jardin</strong>" in question["content"]
    assert question["source"] == {"content": MARKDOWN, "mediaType": "text/markdown"}
    comment = question["replies"]["items"][0]
    assert comment["content"] == "<p>Oui, <em>vraiment</em>.</p>\n"
    assert comment["source"] == {"content": "Oui, *vraiment*.", "mediaType": "text/markdown"}
    amendment = question["amendments"]["items"][0]
    assert amendment["source"] == {"content": "Des **poires** aussi.", "mediaType": "text/markdown"}
    note = json.loads(
        await _text(client, comment["id"].removeprefix("http://fedicity.test"), AS_JSON)
    )
    assert note["source"]["content"] == "Oui, *vraiment*."
    async with pool.acquire() as conn:
        sent = [row["raw"] for row in await conn.fetch("SELECT raw FROM outbox_activities")]
    created = [
        a["object"] for a in sent if a["type"] == "Create" and a["object"]["type"] != "Question"
    ]
    assert {json.dumps(o["source"], sort_keys=True) for o in created} == {
        json.dumps({"content": t, "mediaType": "text/markdown"}, sort_keys=True)
        for t in ("Oui, *vraiment*.", "Des **poires** aussi.")
    }


# Every attack but the NUL one (the request is refused before any form is read: the next test).
FORM_ATTACKS = [source for source in HOSTILE if "\x00" not in source]


@pytest.mark.parametrize("source", FORM_ATTACKS, ids=range(len(FORM_ATTACKS)))
async def test_hostile_markdown_in_every_form_is_safe_and_never_a_500(
    app: Quart, pool: Pool, keygen: FixedKeys, source: str
) -> None:
    client, token = await _logged_in(app, pool, keygen)
    path = await _amendable(client, token, source)
    for where, text in (("/comments", source[:5000]), ("/amendments", source)):
        form = {"csrf_token": token, "text": text, "stance": "against", "action": "propose"}
        response = await client.post(path + where, form=form)
        # Kept (303), or, when nothing of it is text, refused by the field (422): never a 500
        assert response.status_code in (303, 422), (where, response.status_code)
    page = await _text(client, path)
    _safe(page.split('<article class="proposal">', 1)[1].split("</main>", 1)[0])
    question = json.loads(await _text(client, path, AS_JSON))
    _safe(question["content"])
    assert question["source"]["content"] == source


async def test_a_nul_character_is_refused_with_a_400(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client, token = await _logged_in(app, pool, keygen)
    response = await client.post(
        "/proposals", form={"csrf_token": token, "title": "Jardin", "text": "a\u0000b"}
    )
    assert response.status_code == 400
    path = await _amendable(client, token, "texte")
    response = await client.post(
        path + "/comments", form={"csrf_token": token, "text": "a\u0000b", "stance": "for"}
    )
    assert response.status_code == 400


async def test_a_refused_comment_or_amendment_keeps_what_was_typed(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    client, token = await _logged_in(app, pool, keygen)
    path = await _amendable(client, token, "texte")
    # A comment with an unknown stance: the page again, the text kept, the message by the stance
    typed = "Mon avis **détaillé**, que je ne veux pas retaper."
    response = await client.post(
        path + "/comments", form={"csrf_token": token, "text": typed, "stance": "bof"}
    )
    assert response.status_code == 422
    page = html.unescape(await response.get_data(as_text=True))
    assert f">{typed}</textarea>" in page
    assert 'id="comment-stance-error"' in page
    assert 'id="comment-stance" name="stance" aria-invalid="true"' in page
    # An amendment made of nothing but markup that renders to no text
    response = await client.post(
        path + "/amendments",
        form={"csrf_token": token, "text": "![](https://e.org/x.png)", "action": "propose"},
    )
    assert response.status_code == 422
    page = html.unescape(await response.get_data(as_text=True))
    assert ">![](https://e.org/x.png)</textarea>" in page
    assert 'id="amend-text" name="text" aria-invalid="true"' in page
    assert 'id="amend-text-error"' in page


async def test_a_bio_is_markdown_on_the_profile_and_in_the_actor_document(
    app: Quart, pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        actor = await actor_service.create_person(
            conn, "camille", keygen=keygen, summary="**Jardinière**, [AMAP](https://amap.example)"
        )
    document = actor_to_ap(actor, Urls("http://fedicity.test"))
    assert "<strong>Jardinière</strong>" in document["summary"]
    assert 'href="https://amap.example"' in document["summary"]
    page = await _text(app.test_client(), "/@camille")
    assert "<strong>Jardinière</strong>" in page
    async with pool.acquire() as conn:
        hostile = await actor_service.create_person(
            conn, "mallory", keygen=keygen, summary="[x](javascript:alert(1)) <script>x</script>"
        )
    _safe(actor_to_ap(hostile, Urls("http://fedicity.test"))["summary"])
    profile = await _text(app.test_client(), "/@mallory")
    _safe(profile.split('<div class="summary">', 1)[1].split("</div>", 1)[0])


def test_a_remote_text_shows_its_sanitised_content_and_keeps_its_source_unrendered() -> None:
    note: dict[str, Any] = {
        "id": "https://other.example/notes/1",
        "type": "Note",
        "content": '<p>Bien <script>alert(1)</script><a href="javascript:x">ici</a></p>',
        "source": {"content": "Bien **ici**" + "[" * 10000, "mediaType": "text/markdown"},
    }
    shown = proposals_parse.content_of(note)
    _safe(shown)
    assert "Bien" in shown
    assert proposals_parse.source_of(note) == note["source"]["content"]
    for odd in (None, "texte", {"content": "x", "mediaType": "text/html"}, {"content": 3}):
        assert proposals_parse.source_of({**note, "source": odd}) is None
    question = {
        "id": "https://other.example/q/1",
        "type": "Question",
        "name": "Q",
        "content": "<p>Q</p>",
        "oneOf": [{"type": "Note", "name": "A"}, {"type": "Note", "name": "B"}],
        "ballot": "nominal",
        "source": {"content": "*Q*", "mediaType": "text/markdown"},
    }
    parsed = proposals_parse.from_ap(
        question, author="https://other.example/users/a", now=FrozenClock().now()
    )
    assert not isinstance(parsed, str)
    assert (parsed.ballot, parsed.content_source) == ("nominal", "*Q*")
    # Older fedicity servers said anonymousVotes; Mastodon polls say nothing: secret
    for extra, ballot in (({"anonymousVotes": False}, "nominal"), ({}, "secret")):
        older = {k: v for k, v in question.items() if k != "ballot"} | extra
        parsed = proposals_parse.from_ap(
            older, author="https://other.example/users/a", now=FrozenClock().now()
        )
        assert not isinstance(parsed, str)
        assert parsed.ballot == ballot
