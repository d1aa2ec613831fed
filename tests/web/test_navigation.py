"""The header's navigation, the proposals and organisations index pages, people shown by name and
handle (never by actor URL), and codes in the reader's language."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import RemoteActorData
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import queries as organization_queries
from fedicity.organizations import service as organization_service
from fedicity.organizations.service import Env
from fedicity.posts import service as post_service
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import ProposalData, State
from fedicity.urls import Urls
from fedicity.web.paging import PAGE_SIZE
from tests.conftest import FixedKeys
from tests.web.test_accounts_web import _log_in, _register

BASE = "http://fedicity.test"
URLS = Urls(BASE)
REMOTE = "http://remote.test/actors/zoe"
WHEN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HEADER_LINKS = ("/events", "/proposals", "/organizations")
CITIZEN_LINKS = (
    "/home",
    "/home#compose",
    "/events/new",
    "/proposals/new",
    "/organizations/new",
    f"{BASE}/@camille",
    "/settings",
)


def _outside_hrefs(page: str) -> str:
    """The page's text with every href and hidden input value taken out, and its JSON-LD (data
    for harvesters, which name actors by their ids)."""
    without_data = re.sub(r'<script type="application/ld\+json">.*?</script>', "", page, flags=re.S)
    without_attributes = re.sub(r'(href|value|action|src)="[^"]*"', "", without_data)
    return html.unescape(without_attributes)


async def _text(client: TestClientProtocol, path: str, **headers: str) -> str:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, path
    return await response.get_data(as_text=True)


async def _proposal(
    pool: Pool, number: int, state: State, author: str, *, room_id: int | None = None
) -> None:
    async with pool.acquire() as conn:
        await proposal_queries.upsert_proposal(
            conn,
            ProposalData(
                uri=f"{BASE}/proposals/p{number}",
                token=f"p{number}",
                local_actor_id=None,
                author_uri=author,
                title=f"Proposition {number} ({state})",
                content_html="<p>Texte</p>",
                options=("Pour", "Contre"),
                published=WHEN + timedelta(minutes=number),
                state=state,
                room_id=room_id,
            ),
        )


async def _remote_actor(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await actor_queries.upsert_remote_actor(
            conn,
            RemoteActorData(
                uri=REMOTE,
                domain="remote.test",
                type="Person",
                username="zoe",
                display_name="Zoé Lointaine",
                summary_html="",
                url="http://remote.test/@zoe",
                icon_url=None,
                inbox=f"{REMOTE}/inbox",
                shared_inbox=None,
                followers_uri=None,
                key_id=None,
                public_key_pem=None,
                manually_approves_followers=False,
                also_known_as=(),
                moved_to=None,
                raw={},
                fetched_at=WHEN,
            ),
        )


async def test_a_visitor_finds_the_public_sections_in_the_header(
    client: TestClientProtocol,
) -> None:
    page = await _text(client, "/")
    header = page.split("<main>")[0]
    for path in HEADER_LINKS:
        assert f'href="{path}"' in header, path
    assert 'href="/login"' in header
    assert 'href="/signup"' in header
    # The search field, and no create menu for a visitor.
    assert '<form method="get" action="/search" role="search"' in header
    assert "/proposals/new" not in header


async def test_a_citizen_finds_everything_from_the_header_and_lands_on_the_feed(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "camille")
    token_page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await token_page.get_data(as_text=True))
    assert token is not None
    response = await client.post(
        "/login", form={"csrf_token": token[1], "login": "camille", "password": "correct horse"}
    )
    assert response.headers["Location"] == "/home"
    header = (await _text(client, "/home")).split("<main>")[0]
    for path in (*HEADER_LINKS, *CITIZEN_LINKS):
        assert f'href="{path}"' in header, path
    # The create menu works without JavaScript, the logout is a form, admin is for admins only.
    assert "<details" in header
    assert "<summary>Créer</summary>" in header
    assert 'action="/logout"' in header
    assert 'href="/admin"' not in header


async def test_an_admin_also_finds_the_administration(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _register(pool, keygen, "root_admin", is_admin=True)
    await _log_in(client, "root_admin")
    assert 'href="/admin"' in (await _text(client, "/home")).split("<main>")[0]


async def test_proposals_index_lists_by_state_filters_and_names_authors(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    camille = await _register(pool, keygen, "camille")
    await _remote_actor(pool)
    camille_uri = URLS.actor(camille.username)
    async with pool.acquire() as conn:
        camille_actor = await actor_queries.select_actor_by_username(conn, "camille")
        assert camille_actor is not None
        jardins = await organization_service.create(
            conn,
            creator=camille_actor,
            username="jardins",
            organization_kind="association",
            keygen=keygen,
            env=Env(urls=URLS, clock=clock),
        )
        room = await proposal_queries.insert_room(
            conn,
            token="parc",
            uri=f"{BASE}/rooms/parc",
            name="Le parc",
            description_html="",
            organization_id=jardins.id,
            territory_id=None,
            members_only=False,
            created_by=camille_uri,
            now=clock.now(),
        )
    await _proposal(pool, 1, "closed", camille_uri)
    await _proposal(pool, 2, "amendable", REMOTE, room_id=room.id)
    await _proposal(pool, 3, "voting", camille_uri)
    await _proposal(pool, 4, "draft", camille_uri)

    page = await _text(client, "/proposals")
    order = [page.index(f"Proposition {n}") for n in (3, 2, 1)]
    assert order == sorted(order), "voting, then amendable, then closed"
    assert "Proposition 4" not in page, "drafts are not listed"
    text = _outside_hrefs(page)
    assert "Vote ouvert" in text
    assert "Amendements ouverts" in text
    assert "Close" in text
    assert "camille" in text
    assert "@camille@fedicity.test" in text
    assert "Zoé Lointaine" in text
    assert "@zoe@remote.test" in text
    assert "(distant)" in text
    assert 'href="http://remote.test/@zoe"' in page
    assert "/actors/" not in text

    only_voting = await _text(client, "/proposals?state=voting")
    assert "Proposition 3" in only_voting
    assert "Proposition 1" not in only_voting
    in_room = await _text(client, "/proposals?room=parc")
    assert "Proposition 2" in in_room
    assert "Proposition 3" not in in_room

    english = _outside_hrefs(await _text(client, "/proposals?lang=en"))
    assert "Vote open" in english
    assert "Amendments open" in english
    assert "(remote)" in english

    assert (await client.get("/proposals?state=draft")).status_code == 400
    assert (await client.get("/proposals?state=nope")).status_code == 400
    assert (await client.get("/proposals?after=x")).status_code == 400
    assert (await client.get("/proposals?room=nowhere")).status_code == 404


async def test_proposals_index_pages_with_a_keyset_cursor(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    camille = await _register(pool, keygen, "camille")
    author = URLS.actor(camille.username)
    total = PAGE_SIZE + 5
    for number in range(1, total + 1):
        await _proposal(pool, number, "voting" if number % 2 else "closed", author)
    seen: list[str] = []
    path: str | None = "/proposals"
    pages = 0
    while path is not None:
        page = await _text(client, path)
        seen += re.findall(r"Proposition (\d+) ", page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        path = html.unescape(found[1]) if found else None
        pages += 1
    assert pages == 2
    assert sorted(seen, key=int) == [str(n) for n in range(1, total + 1)], "each exactly once"
    states = ["voting" if int(n) % 2 else "closed" for n in seen]
    assert states == sorted(states, key=lambda s: s != "voting"), "voting first across pages"


async def test_organizations_index_puts_verified_first_and_filters_by_kind(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _register(pool, keygen, "camille")
    env = Env(urls=URLS, clock=clock)
    async with pool.acquire() as conn:
        camille = await actor_queries.select_actor_by_username(conn, "camille")
        assert camille is not None
        made = {}
        for username, kind in (
            ("mairie", "local_government"),
            ("jardins", "association"),
            ("boulangerie", "company"),
        ):
            made[username] = await organization_service.create(
                conn,
                creator=camille,
                username=username,
                organization_kind=kind,
                keygen=keygen,
                env=env,
                display_name=username.capitalize(),
            )
        await organization_queries.set_identifier(
            conn,
            made["mairie"].id,
            kind="SIREN",
            value="219300480",
            verified_at=clock.now(),
            verified_by=None,
        )
    page = await _text(client, "/organizations")
    assert page.index("Mairie") < page.index("Boulangerie") < page.index("Jardins")
    text = _outside_hrefs(page)
    assert "Collectivité" in text
    assert "Entreprise" in text
    assert "Vérifiée" in text
    assert "local_government" not in text
    assert "@mairie@fedicity.test" in text
    english = _outside_hrefs(await _text(client, "/organizations?lang=en"))
    assert "Local government" in english
    assert "Company" in english
    assert "Verified" in english

    associations = await _text(client, "/organizations?kind=association")
    assert "Jardins" in associations
    assert "Mairie" not in associations
    assert (await client.get("/organizations?kind=club")).status_code == 400
    assert (await client.get("/organizations?after=1-")).status_code == 400


async def test_organizations_index_pages_with_a_keyset_cursor(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _register(pool, keygen, "camille")
    env = Env(urls=URLS, clock=clock)
    total = PAGE_SIZE + 3
    async with pool.acquire() as conn:
        camille = await actor_queries.select_actor_by_username(conn, "camille")
        assert camille is not None
        for number in range(total):
            await organization_service.create(
                conn,
                creator=camille,
                username=f"orga{number}",
                organization_kind="collective",
                keygen=keygen,
                env=env,
            )
    first = await _text(client, "/organizations")
    found = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert found is not None
    second = await _text(client, html.unescape(found[1]))
    names = re.findall(r"@(orga\d+)@", first) + re.findall(r"@(orga\d+)@", second)
    assert sorted(names) == sorted(f"orga{n}" for n in range(total))
    assert 'rel="next"' not in second


async def test_the_existing_post_routes_still_answer(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # POST without a session or token is refused as before (CSRF), not 405.
    assert (await client.post("/proposals")).status_code == 400
    assert (await client.post("/organizations")).status_code == 400


async def test_an_organisation_page_names_its_members_and_translates_codes(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _register(pool, keygen, "camille")
    async with pool.acquire() as conn:
        camille = await actor_queries.select_actor_by_username(conn, "camille")
        assert camille is not None
        await organization_service.create(
            conn,
            creator=camille,
            username="mairie",
            organization_kind="local_government",
            keygen=keygen,
            env=Env(urls=URLS, clock=clock),
        )
    text = _outside_hrefs(await _text(client, "/organizations/mairie"))
    assert "Collectivité" in text
    assert "local_government" not in text
    assert "@camille@fedicity.test" in text
    assert "Admin" in text
    assert "/actors/" not in text
    assert "Local government" in _outside_hrefs(
        await _text(client, "/organizations/mairie?lang=en")
    )


async def test_posts_name_their_authors_on_the_profile_the_post_and_the_tag_pages(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given Camille, with a display name, who posted publicly with a hashtag
    account = await _register(pool, keygen, "camille")
    async with pool.acquire() as conn:
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        await actor_service.update_profile(
            conn,
            camille,
            display_name="Camille Martin",
            summary="",
            manually_approves_followers=False,
            discoverable=True,
        )
        post = await post_service.create_note(
            conn,
            actor=camille,
            text="Réunion du jardin #jardin",
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )
    # Then every page showing the post names her, with her handle, not by her actor URL
    for path in ("/@camille", post.uri.removeprefix(BASE), "/tags/jardin"):
        page = _outside_hrefs(await _text(client, path, Accept="text/html"))
        assert "Camille Martin" in page, path
        assert "@camille@fedicity.test" in page, path
        assert "/actors/camille" not in page, path
