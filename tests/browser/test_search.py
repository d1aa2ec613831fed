"""A citizen finds an event from the search field in the header, on a phone and on a desktop,
and opens it."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, ViewportSize

from tests.browser.conftest import DESKTOP, PHONE, Site

TITLE = "Fête de quartier de la Croix-de-Chavaux"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_search_from_the_header_finds_the_event(
    viewport: ViewportSize, site: Site, member_context: BrowserContext
) -> None:
    page = await member_context.new_page()
    try:
        await page.set_viewport_size(viewport)
        await page.goto("/home")
        # The header's search field is on screen, without scrolling sideways
        field = page.get_by_role("search", name="Recherche sur le site").get_by_role("searchbox")
        await field.scroll_into_view_if_needed()
        box = await field.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= viewport["width"]
        # When the citizen types words of the event, in other forms than its title's, and sends
        await field.fill("fetes chavaux")
        async with page.expect_navigation():
            await field.press("Enter")
        # Then the search page lists it among the events, with its local time
        assert "/search?q=fetes+chavaux" in page.url
        events = page.locator("section", has=page.get_by_role("heading", name="Événements"))
        link = events.get_by_role("link", name=TITLE)
        await link.wait_for()
        assert "14:30" in await events.inner_text()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        # And the result opens the event's page
        async with page.expect_navigation():
            await link.click()
        assert page.url == site.base + site.pages["event"]
        assert await page.get_by_role("heading", level=1).inner_text() == TITLE
    finally:
        await page.close()
