"""A waiting list as citizens live it, in a real browser on a phone and on a desktop: the
organiser opens an event for one person with a waiting list, a second citizen takes the place, a
third joins the line, the second leaves, and the third takes part and is told. Screenshots of the
pages met on the way (FEDICITY_SCREENSHOTS_DIR keeps them) show what citizens see."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from fedicity.cli.demo import DEMO_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE, Site

TIMEOUT_MS = 15_000


@asynccontextmanager
async def _citizen(
    browser: Browser, site: Site, username: str, viewport: ViewportSize
) -> AsyncIterator[Page]:
    """A page in a browser session of its own, logged in as a demo citizen (French UI)."""
    context = await browser.new_context(base_url=site.base, viewport=viewport, locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        await page.goto("/login")
        await page.fill("input[name=login]", username)
        await page.fill("input[name=password]", DEMO_PASSWORD)
        async with page.expect_navigation():
            await page.click("main form button[type=submit]")
        assert "/login" not in page.url, f"{username} could not log in"
        yield page
    finally:
        await context.close()


async def _fits(page: Page, viewport: ViewportSize) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} is {width} px wide"


async def _shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_waiting_list_from_the_organisers_form_to_the_promoted_citizens_notification(
    viewport: ViewportSize, site: Site, browser: Browser, tmp_path: Path
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    folder = Path(os.environ.get("FEDICITY_SCREENSHOTS_DIR") or tmp_path)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    title = f"Atelier couture ({kind})"
    async with (
        _citizen(browser, site, "camille", viewport) as camille,
        _citizen(browser, site, "yanis", viewport) as yanis,
        _citizen(browser, site, "lea", viewport) as lea,
    ):
        # Camille finds « Un événement » in the header's « Créer » menu and opens it for one
        # person, with a waiting list
        await camille.goto("/home")
        await camille.get_by_text("Créer", exact=True).click()
        await camille.get_by_role("link", name="Un événement").click()
        await camille.get_by_label("Titre").fill(title)
        await camille.get_by_label("Début").fill("2031-07-05T14:30")
        await camille.get_by_label("Fin", exact=True).fill("2031-07-05T17:00")
        await camille.get_by_label("Nom du lieu").fill("Maison de quartier")
        await camille.get_by_label("Capacité").fill("1")
        await camille.get_by_label("Une fois complet, tenir une liste d'attente").check()
        async with camille.expect_navigation():
            await camille.get_by_role("button", name="Publier l'événement").click()
        event = camille.url
        assert "/events/" in event
        await expect(camille.locator("p.when")).to_contain_text("14:30")
        await expect(camille.locator("p.when")).to_contain_text("(heure de Paris)")

        # Yanis takes the place
        await yanis.goto(event)
        async with yanis.expect_navigation():
            await yanis.get_by_role("button", name="Participer").click()
        await expect(yanis.get_by_text("Vous participez.")).to_be_visible()

        # Léa finds it full and joins the waiting list
        await lea.goto(event)
        await expect(lea.get_by_text("Cet événement est complet.")).to_be_visible()
        await _fits(lea, viewport)
        await _shot(lea, folder, f"waiting-list-1-full-{kind}")
        async with lea.expect_navigation():
            await lea.get_by_role("button", name="Rejoindre la liste d'attente").click()
        await expect(lea.locator(".participation")).to_contain_text("en position 1")
        await _fits(lea, viewport)
        await _shot(lea, folder, f"waiting-list-2-in-line-{kind}")

        # Camille sees who comes and who waits, by name
        await camille.goto(event + "/participants")
        going = camille.locator(".attendee-list.accepted")
        waiting = camille.locator(".attendee-list.waiting")
        await expect(going).to_contain_text("Yanis Benali")
        await expect(waiting).to_contain_text("Léa Dubois")
        await expect(waiting).to_contain_text("en position 1")
        await _fits(camille, viewport)
        await _shot(camille, folder, f"waiting-list-3-attendees-{kind}")

        # Yanis leaves
        await yanis.goto(event)
        async with yanis.expect_navigation():
            await yanis.get_by_role("button", name="Quitter").click()
        await expect(yanis.get_by_text("Vous avez quitté cet événement.")).to_be_visible()

        # Léa now takes part, and her notifications say why
        await lea.goto(event)
        await expect(lea.get_by_text("Vous participez.")).to_be_visible()
        await expect(lea.locator("a.notifications-link")).to_contain_text("Notifications (")
        await lea.locator("a.notifications-link").click()
        promoted = lea.locator("li.notification", has_text="Une place s'est libérée")
        await expect(promoted.first).to_be_visible()
        await expect(promoted.first).to_contain_text("Camille Martin")
        await _fits(lea, viewport)
        await _shot(lea, folder, f"waiting-list-4-notified-{kind}")
        async with lea.expect_navigation():
            await promoted.first.locator("a").click()
        assert lea.url == event

        # And the agenda's month view, reached from the list, shows the event on its day
        await lea.goto("/events")
        async with lea.expect_navigation():
            await lea.get_by_role("link", name="Mois", exact=True).click()
        assert "view=month" in lea.url
        async with lea.expect_navigation():
            await lea.get_by_role("link", name="Mois suivant").click()
        await lea.goto("/events?view=month&month=2031-07")
        await expect(lea.get_by_role("heading", name="Agenda · juillet 2031")).to_be_visible()
        day = lea.locator("td.has-events", has_text=title)
        await expect(day).to_be_visible()
        await expect(day).to_contain_text("14:30")
        await expect(day.get_by_role("link", name=title)).to_have_attribute("href", event)
        await _fits(lea, viewport)
        await _shot(lea, folder, f"waiting-list-5-month-{kind}")
