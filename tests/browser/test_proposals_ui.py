"""A proposal as citizens live it, in Chromium on a phone and on a desktop: one writes it (in
Markdown) from the header's "Create" menu and opens the vote; two citizens vote by clicking the
labels of the options; the author closes the vote and everyone sees the result. The pages fit the
screen, axe finds nothing serious, and screenshots of the open and the closed proposal are kept
(`make screenshots`: FEDICITY_SCREENSHOTS_DIR)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, ViewportSize, expect

from fedicity.cli.demo import DEMO_PASSWORD
from tests.browser.conftest import DESKTOP, NARROW, PHONE, Site

AXE = Axe()
BLOCKING = {"serious", "critical"}


async def _logged_in(browser: Browser, site: Site, username: str, viewport: ViewportSize) -> Page:
    """A page of a new browser session logged in as a demo citizen."""
    context = await browser.new_context(base_url=site.base, viewport=viewport, locale="fr-FR")
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"{username} could not log in"
    return page


@pytest.fixture
async def sessions(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Page, Page, Page]]:
    """Yanis (the author), Léa and Camille, each in a browser session of their own."""
    viewport: ViewportSize = request.param
    pages = [
        await _logged_in(browser, site, name, viewport) for name in ("yanis", "lea", "camille")
    ]
    try:
        yield pages[0], pages[1], pages[2]
    finally:
        for page in pages:
            await page.context.close()


async def _fits_and_is_accessible(page: Page, what: str) -> None:
    """No wider than the screen (and than a 360 px phone), no serious axe violation."""
    viewport = page.viewport_size
    assert viewport is not None
    for width in (viewport["width"], NARROW["width"]):
        await page.set_viewport_size({"width": width, "height": viewport["height"]})
        scroll = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{what} is {scroll} px wide on a {width} px screen"
    await page.set_viewport_size(viewport)
    results = await AXE.run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{what}: " + "; ".join(
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in blocking
    )


async def _screenshot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("FEDICITY_SCREENSHOTS_DIR") or tmp_path)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def _vote_by_label(page: Page, url: str, option: str) -> None:
    """Open the proposal and vote by clicking the option's label text (not the radio)."""
    await page.goto(url)
    form = page.locator("form.vote-form")
    choice = form.locator("label.choice", has_text=re.compile(rf"^\s*{option}\s*$"))
    await choice.locator("span").click()
    await expect(choice.locator("input")).to_be_checked()
    async with page.expect_navigation():
        await form.get_by_role("button").click()
    await expect(page.locator(".my-vote")).to_contain_text(option)


@pytest.mark.parametrize(
    ("sessions", "ballot"),
    [(PHONE, "secret"), (DESKTOP, "nominal")],
    ids=["phone-secret", "desktop-nominal"],
    indirect=["sessions"],
)
async def test_write_open_vote_by_label_close_and_read_the_result(
    sessions: tuple[Page, Page, Page], ballot: str, site: Site, tmp_path: Path
) -> None:
    author, lea, camille = sessions
    kind = "phone" if author.viewport_size == PHONE else "desktop"
    title = f"Des bancs place de la République ({kind})"

    # Given Yanis, who finds "A proposal" in the header's Create menu
    await author.goto("/home")
    await author.locator("details.create-menu summary").click()
    async with author.expect_navigation():
        await author.get_by_role("link", name="Une proposition").click()
    assert author.url.endswith("/proposals/new")

    # When he writes it in Markdown, with the ballot of this run, and saves it
    await author.get_by_label("Titre").fill(title)
    await author.get_by_label("Texte").fill(
        "Installer **six bancs** à l'ombre :\n\n- trois près de la fontaine\n"
        "- trois sous les platanes\n\n> Pour que chacun puisse s'asseoir."
    )
    label = "Vote nominatif" if ballot == "nominal" else "Scrutin secret"
    await author.locator("label.choice", has_text=label).click()
    async with author.expect_navigation():
        await author.get_by_role("button", name="Enregistrer comme brouillon").click()
    url = author.url
    assert "/proposals/" in url
    # Then the text is rendered from its Markdown
    content = author.locator(".proposal .content")
    await expect(content.locator("strong")).to_have_text("six bancs")
    await expect(content.locator("li")).to_have_count(2)
    await expect(content.locator("blockquote")).to_contain_text("chacun puisse")

    # When he opens the vote
    async with author.expect_navigation():
        await author.get_by_role("button", name="Ouvrir le vote").click()
    await expect(author.locator("form.vote-form legend")).to_have_text("Votre vote (un seul choix)")

    # And Léa and Camille vote by clicking the words of the options (Léa changes her mind)
    await _vote_by_label(lea, url, "Contre")
    await _vote_by_label(lea, url, "Pour")
    await _vote_by_label(camille, url, "Abstention")

    # Then the live count shows each option's votes, share and bar
    await author.reload()
    rows = author.locator("ul.tally li")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0)).to_contain_text("1 vote · 50")
    await expect(rows.nth(1)).to_contain_text("0 vote · 0")
    await expect(rows.nth(2)).to_contain_text("1 vote · 50")
    assert await rows.nth(0).locator("meter").get_attribute("value") == "1"
    await expect(author.locator(".outcome")).to_contain_text("Si le vote se terminait maintenant")
    voters = author.locator(".vote-section")
    if ballot == "secret":
        # A secret ballot names nobody: only counts, and each voter's own choice to them
        await expect(voters).not_to_contain_text("Léa Dubois")
        await expect(voters).not_to_contain_text("Camille Martin")
        await lea.goto(url)
        await expect(lea.locator(".my-vote")).to_have_text("Vous avez voté : Pour")
        await expect(lea.locator(".vote-section")).not_to_contain_text("Camille Martin")
    else:
        await expect(voters.locator("ul.voters")).to_contain_text("Léa Dubois")
        await expect(voters.locator("ul.voters")).to_contain_text("Camille Martin")
    await _fits_and_is_accessible(author, f"the open proposal ({kind})")
    await _fits_and_is_accessible(lea, f"the open proposal as a voter ({kind})")
    await _screenshot(author, f"proposal-open-{kind}", tmp_path)
    await _screenshot(lea, f"proposal-voted-{kind}", tmp_path)

    # When Yanis closes the vote (and confirms)
    await author.locator("details.confirm summary", has_text="Clore le vote maintenant").click()
    async with author.expect_navigation():
        await author.get_by_role("button", name="Oui, clore le vote").click()

    # Then everyone reads the result in words, with the rule that made it
    for page in (author, lea):
        await page.goto(url)
        outcome = page.locator(".outcome")
        await expect(outcome.locator("strong")).to_have_text("Adoptée")
        await expect(outcome).to_contain_text("100 % des votes pour ou contre sont pour")
        await expect(outcome).to_contain_text("Les abstentions ne sont pas comptées")
        await expect(page.locator("form.vote-form")).to_have_count(0)
    await _fits_and_is_accessible(author, f"the closed proposal ({kind})")
    await _screenshot(author, f"proposal-closed-{kind}", tmp_path)
    await camille.goto(url)
    await expect(camille.locator(".my-vote")).to_have_text("Vous avez voté : Abstention")
    await _screenshot(camille, f"proposal-closed-voter-{kind}", tmp_path)


@pytest.mark.parametrize("sessions", [PHONE], ids=["phone"], indirect=True)
async def test_a_refused_form_keeps_what_was_typed(
    sessions: tuple[Page, Page, Page], site: Site, tmp_path: Path
) -> None:
    author, _, _ = sessions
    await author.goto("/proposals/new")
    await author.get_by_label("Texte").fill("Un texte **long** que l'on ne veut pas retaper.")
    await author.get_by_label("Titre").fill("Un titre")
    await author.locator("label.choice", has_text="Vote nominatif").click()
    await author.get_by_label("Où (code INSEE ou code postal d'une commune)").fill("99999")
    async with author.expect_navigation():
        await author.get_by_role("button", name="Enregistrer comme brouillon").click()
    # The place is refused by its field, and nothing typed is lost
    where = author.get_by_label("Où (code INSEE ou code postal d'une commune)")
    await expect(where).to_have_attribute("aria-invalid", "true")
    await expect(author.locator("#f-territory-error")).to_be_visible()
    await expect(author.get_by_label("Texte")).to_have_value(
        "Un texte **long** que l'on ne veut pas retaper."
    )
    await expect(author.get_by_label("Titre")).to_have_value("Un titre")
    await expect(
        author.get_by_label("Vote nominatif (les votant·es sont affiché·es par leur nom)")
    ).to_be_checked()
    await _fits_and_is_accessible(author, "the refused proposal form")
    await _screenshot(author, "proposal-form-refused-phone", tmp_path)
