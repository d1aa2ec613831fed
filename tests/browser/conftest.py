"""Browser tests: a real instance on loopback with demo-like data, and one headless Debian
Chromium for the whole session, driven by Playwright (whose own browser builds are never
downloaded)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from fedicity.accounts import queries as account_queries
from fedicity.accounts import resets
from fedicity.actors import queries as actor_queries
from fedicity.cli.demo import DEMO_ADMIN, DEMO_PASSWORD, seed_demo
from fedicity.db.pool import Pool, create_pool
from fedicity.imports import queries as import_queries
from fedicity.moderation import content_queries
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.content import Decision
from fedicity.organizations import queries as organization_queries
from fedicity.urls import Urls
from tests.conftest import FixedKeys, _fresh_database
from tests.flows.harness import running_instance
from tests.media.images import png
from tests.territory_helpers import import_slice

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_PASSWORD = "browser-admin-password-long"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 360, "height": 800}
# A word and an address with no break opportunity: they once made a post's page 3106 px wide.
LONG_WORD = "Anticonstitutionnellement" * 12
LONG_URL = "https://example.org/" + "chemin-tres-long/" * 20 + "?q=" + "x" * 80
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NOTE = re.compile(r'href="[^"]*?(/notes/[^"#/]+)"')


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt when missing and we may; else skip, loudly."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing and cannot be installed here "
            "(needs root and apt-get); run `apt-get install chromium`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed:\n{done.stdout[-2000:]}{done.stderr}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


@dataclass(frozen=True)
class Site:
    """The running instance and the paths of its main pages."""

    base: str
    pages: dict[str, str]
    anonymous: frozenset[str]


def _csrf(page_html: str) -> str:
    match = _CSRF.search(page_html)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


async def _logged_in(client: httpx.AsyncClient, login: str, password: str) -> str:
    """Log the client in; return a CSRF token of its session."""
    token = _csrf((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"csrf_token": token, "login": login, "password": password}
    )
    assert response.status_code == 303, response.text
    return _csrf((await client.get("/home")).text)


async def _seed(base: str) -> dict[str, str]:
    """Write through the real forms what the main pages show; return their paths."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _logged_in(client, "camille", DEMO_PASSWORD)
        for text in (
            f"Un mot sans fin : {LONG_WORD} #x",
            f"Le compte rendu est en ligne : {LONG_URL} #x",
        ):
            response = await client.post(
                "/notes",
                data={"csrf_token": token, "text": text, "territory": "93048"},
            )
            assert response.status_code == 303, response.text
            assert "error" not in response.headers["Location"], response.headers["Location"]
        response = await client.post(
            "/events",
            data={
                "csrf_token": token,
                "title": "Fête de quartier de la Croix-de-Chavaux",
                "description": f"Musique, jeux et repas partagé. Programme : {LONG_URL}",
                "starts_at": "2031-06-21T14:30",
                "ends_at": "2031-06-21T22:00",
                "timezone": "Europe/Paris",
                "place_name": "Place de la Croix-de-Chavaux",
                "territory": "93048",
                "capacity": "50",
                "join_mode": "free",
            },
            # A banner far wider than a phone: it once made an event's page 825 px wide.
            files={"image_file": ("banniere.png", png(1600, 400), "image/png")},
        )
        assert response.status_code == 303, response.text
        event = response.headers["Location"]
        token = _csrf((await client.get("/proposals/new")).text)
        response = await client.post(
            "/proposals",
            data={
                "csrf_token": token,
                "title": "Un jardin partagé rue de Paris",
                "text": f"Planter des arbres fruitiers. Voir {LONG_URL}",
                "territory": "93048",
                "tags": "jardin",
            },
        )
        assert response.status_code == 303, response.text
        proposal = response.headers["Location"]
        response = await client.post(
            proposal + "/state", data={"csrf_token": token, "action": "voting", "days": "7"}
        )
        assert response.status_code == 303, response.text
        # A point of interest with a photo far wider than a phone and a long address in its text.
        token = _csrf((await client.get("/places/new")).text)
        response = await client.post(
            "/places/new",
            data={
                "csrf_token": token,
                "kind": "shared_library",
                "name": "Boîte à livres de la place Jean-Jaurès",
                "description": f"Prenez, déposez. Voir {LONG_URL}",
                "latitude": "48.8622",
                "longitude": "2.4420",
                "territory": "93048",
                "street": "Place Jean-Jaurès",
            },
            files={"photos": ("boite.png", png(1600, 400), "image/png")},
        )
        assert response.status_code == 303, response.text
        place = response.headers["Location"]
        notes = _NOTE.findall((await client.get("/@camille")).text)
        assert notes, "no post link on camille's profile"
        token = _csrf((await client.get("/listings/new")).text)
        response = await client.post(
            "/listings",
            data={
                "csrf_token": token,
                "kind": "classified",
                "section": "for_sale",
                "category": "vehicles",
                "title": "Vélo cargo électrique, très peu servi",
                "description": f"Très bon état {LONG_WORD}. Photos : {LONG_URL}",
                "price": "1250",
                "currency": "G1",
                "territory": "93048",
            },
        )
        assert response.status_code == 303, response.text
        listing = response.headers["Location"]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # The browser's own account writes one too, so that its feed has a long address.
        token = await _logged_in(client, DEMO_ADMIN, ADMIN_PASSWORD)
        response = await client.post(
            "/notes", data={"csrf_token": token, "text": f"Ordre du jour : {LONG_URL}"}
        )
        assert response.status_code == 303, response.text
        # And organises a full event with a waiting list, so that its attendees page has people
        # in each list.
        response = await client.post(
            "/events",
            data={
                "csrf_token": token,
                "title": "Atelier réparation de vélos",
                "starts_at": "2031-06-14T10:00",
                "ends_at": "2031-06-14T12:00",
                "timezone": "Europe/Paris",
                "place_name": "Garage solidaire, rue de Paris",
                "territory": "93048",
                "capacity": "1",
                "waiting_list": "on",
                "join_mode": "free",
            },
        )
        assert response.status_code == 303, response.text
        workshop = response.headers["Location"]
        # And starts a project in Montreuil, carried by no organisation.
        response = await client.post(
            "/projects",
            data={
                "csrf_token": token,
                "username": "jardin_partage",
                "display_name": "Jardin partagé des Murs à pêches",
                "summary": f"Un potager ouvert à tous : {LONG_URL}",
                "maturity": "development",
                "starts_on": "2031-03-01",
                "license": LONG_URL,
                "territory": "93048",
            },
        )
        assert response.status_code == 303, response.text
        project = response.headers["Location"]
        follow_ups = await _follow_ups(client, token)
    for citizen in ("camille", "yanis"):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            token = await _logged_in(client, citizen, DEMO_PASSWORD)
            response = await client.post(workshop + "/participate", data={"csrf_token": token})
            assert response.status_code == 303, response.text
    reports = await _report(base, notes[0])
    return {
        "feed": "/home",
        "events": "/events",
        "event": event,
        "event_new": "/events/new",
        "events_month": "/events?view=month&month=2031-06",
        "event_attendees": workshop + "/participants",
        "proposal": proposal,
        "proposal_new": "/proposals/new",
        "profile": "/@camille",
        "organization": "/organizations/mairie",
        "projects": "/projects",
        "project_new": "/projects/new",
        "project": project,
        "territory": "/territoires/commune/93048",
        "settings": "/settings",
        "admin": "/admin",
        "login": "/login",
        "signup": "/signup",
        "post": notes[0],
        "tag": "/tags/x",
        "map": "/map",
        "place": place,
        "place_new": "/places/new",
        "territory_places": "/territoires/commune/93048/places",
        "listings": "/listings",
        "listing": listing,
        "listing_new": "/listings/new",
        "opendata": "/opendata",
        "search": "/search?q=f%C3%AAte",
        # A visitor sees the remote follow form on an actor's page.
        "profile_visitor": "/@camille",
        **follow_ups,
        **reports,
    }


async def _follow_ups(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Through the forms: a room of the served territory, a proposal in it whose vote is closed
    at once (its resolution), an action following it taken by its author; their pages and the
    dashboard."""
    response = await client.post(
        "/rooms",
        data={
            "csrf_token": token,
            "owner": "territory",
            "territory": "",
            "name": "Mobilités douces et pistes cyclables de la commune",
            "description": f"Les pistes cyclables. Voir {LONG_URL}",
        },
    )
    assert response.status_code == 303, response.text
    room = response.headers["Location"]
    response = await client.post(
        "/proposals",
        data={
            "csrf_token": token,
            "title": "Une piste cyclable rue de Paris",
            "text": f"Peindre la piste. {LONG_WORD}",
            "territory": "93048",
            "room": room.rstrip("/").rsplit("/", 1)[-1],
        },
    )
    assert response.status_code == 303, response.text
    proposal = response.headers["Location"]
    for path, data in (
        ("/state", {"action": "voting", "days": "7"}),
        ("/vote", {"option": "Pour"}),
        ("/state", {"action": "close"}),
    ):
        response = await client.post(proposal + path, data={"csrf_token": token, **data})
        assert response.status_code == 303, response.text
    found = re.search(r'href="[^"]*(/resolutions/[^"/]+)"', (await client.get(proposal)).text)
    assert found is not None, "no resolution linked from the closed proposal"
    resolution = found.group(1)
    response = await client.post(
        room + "/actions",
        data={
            "csrf_token": token,
            "resolution": resolution.rsplit("/", 1)[-1],
            "title": "Acheter la peinture et réserver la voirie pour le marquage",
            "description": f"Le devis : {LONG_URL}",
            "starts": "2031-03-01",
            "ends": "2031-03-31",
        },
    )
    assert response.status_code == 303, response.text
    action = response.headers["Location"]
    response = await client.post(action + "/take", data={"csrf_token": token})
    assert response.status_code == 303, response.text
    return {
        "room": room,
        "resolution": resolution,
        "action": action,
        "action_new": room + "/actions/new",
        "dashboard": "/dashboard",
    }


async def _report(base: str, note: str) -> dict[str, str]:
    """The browser's account reports camille's post through the form: the form, the queue, the
    report's page for the moderators and for its reporter."""
    uri = base + note
    form = f"/report?kind=post&uri={uri}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await _logged_in(client, DEMO_ADMIN, ADMIN_PASSWORD)
        token = _csrf((await client.get(form)).text)
        response = await client.post(
            "/report",
            data={
                "csrf_token": token,
                "kind": "post",
                "uri": uri,
                "category": "violation",
                "comment": f"Un commentaire sans fin : {LONG_WORD} {LONG_URL}",
            },
        )
        assert response.status_code == 303, response.text
        mine = response.headers["Location"].split("?")[0]
    number = mine.rsplit("/", 1)[1]
    return {
        "report_form": form,
        "reports": "/admin/reports",
        "report": f"/admin/reports/{number}",
        "report_mine": mine,
    }


async def _account_pages(pool: Pool) -> dict[str, str]:
    """The forgotten-password pages (a live link minted for the demo admin) and the
    confirmation page of closing an account."""
    token = secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, DEMO_ADMIN)
        assert account is not None
        now = datetime.now(UTC)
        await account_queries.insert_password_reset(
            conn,
            token_hash=resets.token_hash(token),
            account_id=account.id,
            now=now,
            expires_at=now + timedelta(days=1),
        )
    return {
        "forgot": "/password/forgot",
        "reset": f"/password/reset/{token}",
        "account_delete": "/settings/delete",
    }


async def _needs_pages(base: str, pool: Pool) -> dict[str, str]:
    """The demo admin is an admin of the mairie and publishes a need through the form, with a
    long title and a long address: the mairie's page shows it in its needs panel."""
    async with pool.acquire() as conn:
        mairie = await actor_queries.select_actor_by_username(conn, "mairie")
        assert mairie is not None
        await organization_queries.upsert_membership(
            conn,
            organization_id=mairie.id,
            member_uri=Urls(base).actor(DEMO_ADMIN),
            state="accepted",
            role="admin",
            activity_uri=None,
            invited_by=None,
            now=datetime.now(UTC),
        )
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _logged_in(client, DEMO_ADMIN, ADMIN_PASSWORD)
        response = await client.post(
            "/actors/mairie/needs/new",
            data={
                "csrf_token": token,
                "title": "Des bénévoles pour la fête de la Croix-de-Chavaux, montage et démontage",
                "description": f"Rendez-vous à 8 h. Plan d'accès : {LONG_URL}",
                "kind": "volunteering",
                "quantity": "12",
                "starts_on": "2031-06-20",
                "ends_on": "2031-06-22",
            },
        )
        assert response.status_code == 303, response.text
    return {
        "need": response.headers["Location"].split("?")[0],
        "need_new": "/actors/mairie/needs/new",
    }


async def _dashboard_pages(pool: Pool) -> dict[str, str]:
    """The admin dashboard, with a peer domain of a long name failing and deliveries waiting."""
    now = datetime.now(UTC)
    domain = "federation-" + "tres-long-" * 6 + "nom.example"
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO domain_health (domain, failure_days, last_failure_at, unavailable)
               VALUES ($1, $2, $3, true)""",
            domain,
            [(now - timedelta(days=day)).date() for day in range(7)],
            now,
        )
    return {"admin_dashboard": "/admin/dashboard"}


async def _domain_pages(pool: Pool) -> dict[str, str]:
    """The federation policy pages, with policies whose names and comments are long."""
    long_name = "a-very-long-subdomain-name-without-any-break." * 3 + "example"
    async with pool.acquire() as conn:
        for domain, action, comment, obfuscate in (
            (long_name, "suspend", "Harcèlement_organisé_depuis_des_mois_sans_modération", False),
            ("limited.example", "silence", "Bots " * 40, True),
        ):
            await moderation_queries.upsert_domain_policy(
                conn, domain, action, "", public_comment=comment, obfuscate=obfuscate
            )
    return {"admin_domains": "/admin/domains", "about_federation": "/about/federation"}


async def _content_pages(pool: Pool) -> dict[str, str]:
    """The content rules page, with a held post and a rejection carrying long unbroken text."""
    long_url = "https://spam.example/" + "x" * 120
    async with pool.acquire() as conn:
        for number, decision in enumerate(
            (
                Decision("hold", "new_actor_links", f"links ({long_url})", "Look " + long_url),
                Decision("reject", "keyword", "contains “casino”", "Best casino " + "y" * 90),
            )
        ):
            await content_queries.insert_decision(
                conn,
                decision,
                activity_uri=f"{long_url}/activities/{number}",
                activity_type="Create",
                actor_uri="https://spam.example/users/" + "z" * 60,
                object_uri=f"{long_url}/notes/{number}",
                inbox_item_id=None,
                now=datetime.now(UTC),
            )
    return {"admin_content": "/admin/content"}


async def _imports_pages(pool: Pool) -> dict[str, str]:
    """The imports pages, with the mairie following a calendar of a long address whose last
    fetch failed with a long reason."""
    url = "https://agenda." + "tres-long-" * 8 + "example.org/" + "x" * 80 + ".ics"
    async with pool.acquire() as conn:
        mairie = await conn.fetchval("SELECT id FROM actors WHERE username = 'mairie'")
        source = await import_queries.ensure_source(
            conn, "ical", url, url=url, owner_actor_id=mairie, now=datetime.now(UTC)
        )
        await conn.execute(
            """UPDATE import_sources SET last_error = $2, attempts = 3,
                      next_fetch_at = now() + interval '1 day' WHERE id = $1""",
            source.id,
            "fetch_failed: " + LONG_WORD,
        )
    return {"admin_imports": "/admin/imports", "admin_imports_files": "/admin/imports/files"}


async def _controls_pages(base: str) -> dict[str, str]:
    """The browser's account blocks, mutes, blocks a long domain name and hides boosts, through
    the forms, so that the lists and an actor's choices are shown filled."""
    lea, camille = f"{base}/actors/lea", f"{base}/actors/camille"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _logged_in(client, DEMO_ADMIN, ADMIN_PASSWORD)
        for uri, action in ((lea, "block"), (lea, "mute"), (camille, "hide_boosts")):
            response = await client.post(
                "/settings/blocks/actor",
                data={"csrf_token": token, "uri": uri, "action": action, "notifications": "on"},
            )
            assert response.status_code == 303, response.text
        response = await client.post(
            "/settings/blocks/domain",
            data={"csrf_token": token, "domain": f"un-{LONG_WORD[:50]}.example.org"},
        )
        assert response.status_code == 303, response.text
    return {"blocks": "/settings/blocks", "block_actor": f"/settings/blocks/actor?uri={camille}"}


@pytest.fixture(scope="session")
async def browser_pool(pg_server_dsn: str) -> AsyncIterator[Pool]:
    """A database of its own: the per-test cleaning of `pool` must not empty the seeded site."""
    created = await create_pool(
        await _fresh_database(pg_server_dsn, "fedicity_browser"), max_size=8
    )
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="session")
async def site(browser_pool: Pool, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """An instance serving Montreuil on loopback, seeded like the demo plus an event with a
    banner, a proposal in its vote and posts with unbreakable words."""
    keygen = FixedKeys()
    await import_slice(browser_pool, tmp_path_factory.mktemp("slice"))
    async with running_instance(
        browser_pool,
        tmp_path_factory.mktemp("site"),
        keygen,
        territory_level="commune",
        territory_code="93048",
        instance_name="Montreuil en commun",
    ) as instance:
        async with browser_pool.acquire() as conn:
            await seed_demo(
                conn, admin_password=ADMIN_PASSWORD, keygen=keygen, settings=instance.settings
            )
        pages = await _seed(instance.base)
        pages.update(await _account_pages(browser_pool))
        pages.update(await _dashboard_pages(browser_pool))
        pages.update(await _needs_pages(instance.base, browser_pool))
        pages.update(await _domain_pages(browser_pool))
        pages.update(await _content_pages(browser_pool))
        pages.update(await _imports_pages(browser_pool))
        pages.update(await _controls_pages(instance.base))
        yield Site(
            instance.base,
            pages,
            frozenset({"login", "signup", "profile_visitor", "forgot", "reset"}),
        )


@pytest.fixture(autouse=True)
async def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Each browser test starts with no login or sign-up counted: every session of every test
    logs in from 127.0.0.1, and twenty logins from one address in five minutes are refused, as
    they should be for a real address."""
    if "site" not in request.fixturenames:
        return
    pool: Pool = request.getfixturevalue("browser_pool")
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM rate_limits")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Debian Chromium for the whole session."""
    executable = ensure_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
async def member_context(browser: Browser, site: Site) -> AsyncIterator[BrowserContext]:
    """A browser session logged in as the demo admin (who also sees /admin)."""
    context = await browser.new_context(base_url=site.base, viewport=NARROW, locale="fr-FR")
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("input[name=login]", DEMO_ADMIN)
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    async with page.expect_navigation():
        await page.click("main form button[type=submit]")
    assert "/login" not in page.url, "the browser could not log in"
    await page.close()
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture(scope="session")
async def visitor_context(browser: Browser, site: Site) -> AsyncIterator[BrowserContext]:
    """A browser session of someone not logged in."""
    context = await browser.new_context(base_url=site.base, viewport=NARROW, locale="fr-FR")
    try:
        yield context
    finally:
        await context.close()


# One tab per browser session, navigated from main page to main page: opening and closing a tab
# per page was most of the time of the tests that visit them all (a tab is a renderer started and
# torn down), and a navigation loads a fresh document anyway.
_tabs: dict[BrowserContext, Page] = {}


async def open_page(
    site: Site,
    name: str,
    member: BrowserContext,
    visitor: BrowserContext,
    viewport: ViewportSize,
) -> Page:
    """The main page `name`, loaded at `viewport` by whoever may see it, checked to be a 200, in
    that session's tab (which the caller leaves open for the next page)."""
    context = visitor if name in site.anonymous else member
    page = _tabs.get(context)
    if page is None or page.is_closed():
        page = _tabs[context] = await context.new_page()
    await page.set_viewport_size(viewport)
    response = await page.goto(site.pages[name])
    assert response is not None
    assert response.status == 200, f"{name}: {site.pages[name]} answered {response.status}"
    return page
