"""axe-core (from the axe-playwright-python package) finds no serious or critical violation on
any main page, on a phone and on a desktop."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import BrowserContext, ViewportSize

from tests.browser.conftest import DESKTOP, PHONE, Site, open_page
from tests.browser.test_layout import MAIN_PAGES

AXE = Axe()
BLOCKING = {"serious", "critical"}


def _described(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", MAIN_PAGES)
async def test_main_page_has_no_serious_accessibility_violation(
    name: str,
    viewport: ViewportSize,
    site: Site,
    member_context: BrowserContext,
    visitor_context: BrowserContext,
) -> None:
    page = await open_page(site, name, member_context, visitor_context, viewport)
    results = await AXE.run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{site.pages[name]}: " + "; ".join(map(_described, blocking))
