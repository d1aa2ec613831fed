"""No main page is wider than a small phone: long words, URLs, banners, tables and forms fit
in 360 px."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

from tests.browser.conftest import NARROW, Site, open_page

MAIN_PAGES = [
    "feed",
    "events",
    "event",
    "event_new",
    "events_month",
    "event_attendees",
    "place",
    "place_new",
    "proposal",
    "proposal_new",
    "room",
    "resolution",
    "action",
    "action_new",
    "dashboard",
    "profile",
    "organization",
    "projects",
    "project",
    "project_new",
    "need",
    "need_new",
    "territory",
    "settings",
    "admin",
    "admin_dashboard",
    "admin_domains",
    "about_federation",
    "admin_content",
    "admin_imports",
    "admin_imports_files",
    "login",
    "signup",
    "post",
    "tag",
    "map",
    "listings",
    "listing",
    "listing_new",
    "opendata",
    "search",
    "profile_visitor",
    "forgot",
    "reset",
    "account_delete",
    "blocks",
    "block_actor",
    "report_form",
    "reports",
    "report",
    "report_mine",
]

# The elements that stick out on the right, to say what to fix when the page is too wide.
_OVERFLOWING = """(limit) => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > limit + 0.5)
  .slice(0, 8)
  .map(e => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''} `
            + `right=${Math.round(e.getBoundingClientRect().right)}`)"""


@pytest.mark.parametrize("name", MAIN_PAGES)
async def test_main_page_fits_360_px(
    name: str, site: Site, member_context: BrowserContext, visitor_context: BrowserContext
) -> None:
    page = await open_page(site, name, member_context, visitor_context, NARROW)
    width = await page.evaluate("document.documentElement.scrollWidth")
    culprits = await page.evaluate(_OVERFLOWING, NARROW["width"])
    assert width <= NARROW["width"], f"{site.pages[name]} is {width} px wide: {culprits}"
