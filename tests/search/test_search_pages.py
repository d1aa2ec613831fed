"""/search through the web app as a browser uses it: the header's field, results by kind with
names, local pages and local times, pages of one kind, the empty state, and hostile queries
answered with the form and a message (never a 500)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.peer import running_peer
from tests.search import helpers
from tests.search.helpers import URLS

PASSWORD = "correct horse battery staple"
KEY = fixed_keypairs()[1]
BROWSER = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_MORE = re.compile(r'<a rel="next" href="([^"]+)">')


async def page(client: TestClientProtocol, path: str, status: int = 200, **args: str) -> str:
    """A page's HTML, which must answer `status`."""
    response = await client.get(path, query_string=args or None, headers=BROWSER)
    text = await response.get_data(as_text=True)
    assert response.status_code == status, (path, args, text[:500])
    return text


async def log_in(client: TestClientProtocol, pool: Pool, keygen: FixedKeys) -> str:
    """Camille, logged in; her CSRF token."""
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, display_name="Camille"
        )
    token = _CSRF.search(await page(client, "/login"))
    assert token is not None
    response = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    assert response.status_code == 303
    token = _CSRF.search(await page(client, "/settings"))
    assert token is not None
    return token.group(1)


async def test_the_header_has_a_search_field_that_leads_to_the_page(
    client: TestClientProtocol,
) -> None:
    home = await page(client, "/")
    assert '<form method="get" action="/search" role="search"' in home
    assert 'name="q"' in home
    # With nothing typed, the page says what can be searched, in French by default
    empty = await page(client, "/search")
    assert "<h1>Rechercher</h1>" in empty
    assert "des événements, par leur titre, leur description ou leur lieu" in empty
    assert "@nom@serveur.example" in empty
    # ... and in English
    assert "events, by title, description or place" in await page(client, "/search", lang="en")


async def test_results_are_grouped_by_kind_with_names_times_and_local_pages(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen, an association, a remote account, an event at 14:30 Paris time,
    # a proposal and posts, all about the market
    camille = await helpers.person(pool, keygen, "camille", "Camille Marché")
    await helpers.organization(pool, keygen, "amap", "AMAP du marché")
    await helpers.remote_actor(
        pool, KEY, "https://social.example/users/alice", "alice", "Alice du Marché"
    )
    me = URLS.actor("camille")
    starts = datetime(2026, 6, 13, 12, 30, tzinfo=UTC)
    event = await helpers.event(
        pool,
        "Grand marché de printemps",
        organizer=me,
        local=camille,
        starts_at=starts,
        place="Place du marché",
    )
    remote_event = await helpers.event(
        pool,
        "Marché des créateurs",
        organizer="https://agenda.example/users/crea",
    )
    proposal = await helpers.proposal(pool, "Un marché bio le dimanche", author=camille)
    note = await helpers.post(pool, "Le marché est <b>ouvert</b> demain", author=me, local=camille)
    # When a visitor searches for markets
    text = await page(client, "/search", q="marchés")
    # Then each kind has its section, people by name and handle, linked to their page
    for heading in ("Personnes et organisations", "Événements", "Propositions", "Publications"):
        assert f">{heading}</h2>" in text, heading
    assert f'<a href="{URLS.profile("camille")}">Camille Marché</a>' in text
    assert "@camille@fedicity.test" in text
    assert f'<a href="{URLS.organization_page("amap")}">AMAP du marché</a>' in text
    assert "Alice du Marché" in text
    # ... the event linked to its page, at its local time with its zone named
    assert f'<a href="{event.uri}">Grand marché de printemps</a>' in text
    assert "14:30" in text
    assert "(heure de Paris)" in text
    assert "Place du marché, Montreuil" in text
    # ... a remote event linked to its original, marked as remote
    assert f'<a href="{remote_event.uri}">Marché des créateurs</a>' in text
    # ... the proposal and the post linked to their pages, the post as text
    assert f'<a href="/proposals/{proposal.token}">Un marché bio le dimanche</a>' in text
    assert f'<a href="{note.uri}">' in text
    assert "Le marché est ouvert demain" in text
    assert "<b>ouvert</b>" not in text


async def test_more_results_of_one_kind_come_page_by_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    camille = await helpers.person(pool, keygen, "camille")
    me = URLS.actor("camille")
    for number in range(27):
        await helpers.event(pool, f"Randonnée n°{number}", organizer=me, local=camille)
    # The overview shows five, and a link to more events
    overview = await page(client, "/search", q="randonnée")
    assert overview.count("Randonnée n°") == 5
    assert 'href="/search?q=randonn%C3%A9e&amp;kind=events"' in overview
    # The events' page shows twenty, then the seven others after its cursor
    first = await page(client, "/search", q="randonnée", kind="events")
    assert first.count("Randonnée n°") == 20
    more = _MORE.search(first)
    assert more is not None
    second = await page(client, html.unescape(more.group(1)))
    assert second.count("Randonnée n°") == 7
    assert _MORE.search(second) is None
    shown = re.findall(r"Randonnée n°(\d+)", first + second)
    assert sorted(map(int, shown)) == list(range(27))
    # A cursor we never gave, an unknown kind, a cursor without a kind: 400
    await page(client, "/search", 400, q="randonnée", kind="events", after="x")
    await page(client, "/search", 400, q="randonnée", kind="events", after="1-2-3")
    await page(client, "/search", 400, q="randonnée", kind="everything")
    await page(client, "/search", 400, q="randonnée", after="12-3")


async def test_hostile_queries_get_the_form_and_a_message(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # A 10 KB query: the form again with the limit said by the field
    text = await page(client, "/search", 422, q="vélo " * 2048)
    assert "Une recherche compte au plus 500 caractères." in text
    assert 'aria-describedby="search-error"' in text
    # Only punctuation: asked for a word
    text = await page(client, "/search", 422, q="?!… -- «»")
    assert "Tapez au moins un mot" in text
    # A NUL character: refused before anything runs
    await page(client, "/search", 400, q="vélo\u0000")
    # HTML and script are shown as typed, never run
    text = await page(client, "/search", q='<script>alert(1)</script> "x')
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Rien trouvé pour" in text
    # A javascript: address is no address to look up; words of it are searched
    text = await page(client, "/search", q="javascript:alert(1)")
    assert 'href="javascript' not in text
    # Stop words only: said so
    text = await page(client, "/search", q="de la du")
    assert "mots très courants" in text
    # A program gets a problem document with the reason
    response = await client.get("/search", query_string={"q": "?!"})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert (await response.get_json())["reason"] == "no_words"


async def test_a_handle_or_address_of_ours_leads_to_its_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await helpers.person(pool, keygen, "camille", "Camille")
    await helpers.organization(pool, keygen, "amap", "AMAP")
    # Our own handles lead to the profile, the organisation's page
    for typed, target in (
        ("@camille@fedicity.test", URLS.profile("camille")),
        ("camille@fedicity.test", URLS.profile("camille")),
        ("amap@fedicity.test", URLS.organization_page("amap")),
        ("http://fedicity.test/@camille", "http://fedicity.test/@camille"),
        # A path that would leave our host stays on it
        ("http://fedicity.test//evil.example/x", "http://fedicity.test/evil.example/x"),
    ):
        response = await client.get("/search", query_string={"q": typed})
        assert response.status_code == 303, typed
        assert response.headers["Location"] == target, typed
    # A handle nobody has here: said so
    text = await page(client, "/search", 404, q="nobody@fedicity.test")
    assert "Personne ici n&#39;a cet identifiant." in text


async def test_anonymous_visitors_are_asked_to_log_in_to_look_up_elsewhere(
    client: TestClientProtocol,
) -> None:
    text = await page(client, "/search", q="@dana@social.example")
    assert "Connectez-vous pour chercher des comptes" in text
    assert "/login?next=" in text
    text = await page(client, "/search", q="https://social.example/@dana/1")
    assert "Connectez-vous pour chercher des comptes" in text


async def test_remote_follow_form_is_on_every_actor_page_for_visitors(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await helpers.person(pool, keygen, "dominique", "Dominique")
    await helpers.organization(pool, keygen, "amap", "AMAP")
    for path, account in (("/@dominique", "dominique"), ("/organizations/amap", "amap")):
        text = await page(client, path)
        assert 'action="/remote-follow"' in text, path
        assert f'name="account" value="{account}"' in text, path
        assert "Suivre depuis votre propre serveur" in text, path
    # A logged-in citizen follows from here: no remote follow form
    await log_in(client, pool, keygen)
    assert 'action="/remote-follow"' not in await page(client, "/@dominique")
    # The form's page names the account; an unknown account is a 404
    text = await page(client, "/remote-follow", account="dominique")
    assert "Suivre Dominique" in text
    await page(client, "/remote-follow", 404, account="nobody")


async def test_private_addresses_are_never_fetched(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an instance with the default address policy, and a server on a private address
    await log_in(client, pool, keygen)
    async with running_peer() as peer:
        peer.serve("/users/dana", {"id": peer.url("/users/dana"), "type": "Person"})
        # When a citizen types its address or a handle on it
        for typed in (peer.url("/users/dana"), f"dana@{peer.host}"):
            response = await client.get(
                "/search", query_string={"q": typed}, headers={**BROWSER, "Sec-Fetch-Site": "none"}
            )
            text = await response.get_data(as_text=True)
            # Then she is told it cannot be looked up from here, and nothing was asked
            assert response.status_code == 422, (typed, text[:300])
            assert "Cette adresse ne peut pas être consultée d&#39;ici." in text
        assert peer.connections == 0
