"""A new citizen's first hour, in Chromium on a phone and on a desktop, through the header and the
forms only: she signs up and lands on her feed; posts; follows and unfollows a neighbour, likes
and unlikes and answers her post; organises an event placed on the map, which two neighbours try
to join until it is full; writes a proposal, opens the vote, and two neighbours vote; she reads a
notification for each thing her neighbours did, and search finds her event."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from fedicity.cli.demo import DEMO_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE, Site

TIMEOUT_MS = 15_000
PASSWORD = "un mot de passe pour la journée"


@asynccontextmanager
async def _session(
    browser: Browser, site: Site, viewport: ViewportSize, login: str | None = None
) -> AsyncIterator[Page]:
    """A page in a browser session of its own (French UI), logged in as a demo citizen if named."""
    context = await browser.new_context(base_url=site.base, viewport=viewport, locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        if login is not None:
            await page.goto("/login")
            await page.fill("input[name=login]", login)
            await page.fill("input[name=password]", DEMO_PASSWORD)
            async with page.expect_navigation():
                await page.click("main form button[type=submit]")
            assert "/login" not in page.url, f"{login} could not log in"
        yield page
    finally:
        await context.close()


async def _fits(page: Page) -> None:
    viewport = page.viewport_size
    assert viewport is not None
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} is {width} px wide"


async def _submit(page: Page, button: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=button, exact=True).click()


async def _followed(page: Page) -> None:
    """Wait until the follow is accepted (the Accept travels through the queues), reloading."""
    state = page.locator(".follow-state")
    for _ in range(40):
        if await state.count() and "Vous suivez" in (await state.inner_text()):
            return
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(state).to_have_text("Vous suivez ce compte.")


async def _from_header(page: Page, link: str) -> None:
    """Open one of the header's "Créer" entries, as a citizen finds them."""
    await page.goto("/home")
    await page.locator("details.create-menu summary").click()
    async with page.expect_navigation():
        await page.get_by_role("link", name=link).click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_new_citizens_first_hour(
    viewport: ViewportSize, site: Site, browser: Browser
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    nour = f"nour_{kind}"
    async with (
        _session(browser, site, viewport) as me,
        _session(browser, site, viewport, "camille") as camille,
        _session(browser, site, viewport, "yanis") as yanis,
    ):
        # She signs up from the header and lands on her feed
        await me.goto("/")
        async with me.expect_navigation():
            await me.get_by_role("link", name="S'inscrire").click()
        await me.fill("input[name=username]", nour)
        await me.get_by_label("Nom affiché").fill(f"Nour Haddad {kind}")
        await me.fill("input[name=password]", PASSWORD)
        await me.fill("input[name=password_confirm]", PASSWORD)
        await _submit(me, "S'inscrire")
        assert me.url.endswith("/home"), me.url
        await _fits(me)

        # She posts from the composer
        await me.get_by_label("Que se passe-t-il sur votre territoire ?").fill(
            f"Bonjour le quartier, je viens d'arriver ({kind}) !"
        )
        await _submit(me, "Publier")
        mine = me.locator("article.post", has_text=f"je viens d'arriver ({kind})")
        await expect(mine).to_have_count(1)

        # She follows Camille from her profile, then unfollows her, then follows her again
        await me.goto("/@camille")
        await _submit(me, "Suivre")
        await _followed(me)
        await _submit(me, "Ne plus suivre")
        await expect(me.get_by_role("button", name="Suivre", exact=True)).to_be_visible()
        await _submit(me, "Suivre")
        await _followed(me)

        # She likes Camille's latest post and takes it back, then answers it (the post is
        # found again by its id after each page load)
        post_id = await me.locator("article.post").first.get_attribute("id")
        assert post_id is not None
        post = me.locator(f"article#{post_id}")
        async with me.expect_navigation():
            await post.locator("button.like").click()
        await expect(post.locator("button.like")).to_have_attribute("aria-pressed", "true")
        await expect(post.locator(".like-count")).to_have_text(re.compile(r"[1-9]"))
        async with me.expect_navigation():
            await post.locator("button.like").click()
        await expect(post.locator("button.like")).to_have_attribute("aria-pressed", "false")
        async with me.expect_navigation():
            await post.get_by_role("link", name="Répondre").click()
        await expect(me.locator(".replying")).to_contain_text("Camille Martin")
        await me.get_by_label("Que se passe-t-il sur votre territoire ?").fill(
            f"Merci pour l'info ! ({kind})"
        )
        await _submit(me, "Publier")

        # Her neighbour Camille follows her back, likes her post and answers it
        await camille.goto(f"/@{nour}")
        await _submit(camille, "Suivre")
        welcome = camille.locator("article.post", has_text=f"je viens d'arriver ({kind})")
        async with camille.expect_navigation():
            await welcome.locator("button.like").click()
        welcome = camille.locator("article.post", has_text=f"je viens d'arriver ({kind})")
        async with camille.expect_navigation():
            await welcome.get_by_role("link", name="Répondre").click()
        await camille.get_by_label("Que se passe-t-il sur votre territoire ?").fill(
            f"Bienvenue Nour ! ({kind})"
        )
        await _submit(camille, "Publier")

        # She organises an event for one person, placed by clicking the map
        title = f"Pique-nique de bienvenue ({kind})"
        await _from_header(me, "Un événement")
        await me.get_by_label("Titre").fill(title)
        await me.get_by_label("Début").fill("2031-09-06T14:30")
        await me.get_by_label("Fin", exact=True).fill("2031-09-06T17:00")
        await me.get_by_label("Nom du lieu").fill("Parc des Beaumonts")
        await me.get_by_label("Capacité").fill("1")
        picker = me.locator(".picker-map")
        await me.wait_for_selector(".picker-map[data-ready]", state="attached")
        await picker.scroll_into_view_if_needed()
        box = await picker.bounding_box()
        assert box is not None
        await picker.click(position={"x": box["width"] / 2 + 25, "y": box["height"] / 2 - 15})
        assert await me.locator("input[name=latitude]").input_value() != ""
        assert await me.locator("input[name=longitude]").input_value() != ""
        await _submit(me, "Publier l'événement")
        event = me.url
        assert "/events/" in event
        await expect(me.locator("p.when")).to_contain_text("14:30")
        await _fits(me)

        # Camille takes the one place; Yanis finds the event full
        await camille.goto(event)
        await _submit(camille, "Participer")
        await yanis.goto(event)
        await expect(yanis.get_by_text("Cet événement est complet.")).to_be_visible()
        await expect(yanis.get_by_role("button", name="Participer", exact=True)).to_have_count(0)

        # She writes a proposal with a nominal vote and opens the vote
        await _from_header(me, "Une proposition")
        await me.get_by_label("Titre").fill(f"Des tables au parc ({kind})")
        await me.get_by_label("Texte").fill("Trois **tables** de pique-nique près des jeux.")
        await me.locator("label.choice", has_text="Vote nominatif").click()
        await _submit(me, "Enregistrer comme brouillon")
        proposal = me.url
        await _submit(me, "Ouvrir le vote")

        # Camille and Yanis vote
        for voter, option in ((camille, "Pour"), (yanis, "Contre")):
            await voter.goto(proposal)
            form = voter.locator("form.vote-form")
            await form.locator("label.choice", has_text=re.compile(rf"^\s*{option}\s*$")).click()
            async with voter.expect_navigation():
                await form.get_by_role("button").click()
            await expect(voter.locator(".my-vote")).to_contain_text(option)

        # She sees the count and who voted
        await me.goto(proposal)
        rows = me.locator("ul.tally li")
        await expect(rows.nth(0)).to_contain_text("1 vote")
        await expect(rows.nth(1)).to_contain_text("1 vote")
        await expect(me.locator("ul.voters")).to_contain_text("Camille Martin")
        await _fits(me)

        # Her notifications say what each neighbour did
        await me.goto("/home")
        await expect(me.locator("a.notifications-link")).to_contain_text(re.compile(r"\(\d+\)"))
        async with me.expect_navigation():
            await me.locator("a.notifications-link").click()
        notifications = me.locator("ol.notifications")
        for sentence in (
            "Camille Martin vous suit",
            "Camille Martin a aimé votre publication",
            "Camille Martin a répondu à votre publication",
            "Camille Martin a répondu à votre événement",
            "Camille Martin a voté sur votre proposition",
            "Yanis",
        ):
            await expect(notifications).to_contain_text(sentence)
        await _fits(me)

        # And the header's search finds her event
        field = me.locator("header form[role=search] input[name=q]")
        await field.fill("pique-nique bienvenue")
        async with me.expect_navigation():
            await field.press("Enter")
        await expect(me.get_by_role("link", name=title)).to_be_visible()
        await _fits(me)
