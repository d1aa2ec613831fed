"""Phone and desktop screenshots of every main page: `make screenshots` keeps them in
screenshots/ (FEDICITY_SCREENSHOTS_DIR); a plain test run takes them in a temporary folder."""

from __future__ import annotations

import asyncio
import os
import struct
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, ViewportSize

from tests.browser.conftest import DESKTOP, PHONE, Site, open_page
from tests.browser.test_layout import MAIN_PAGES


def _png_width(path: Path) -> int:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width: int = struct.unpack(">I", data[16:20])[0]
    return width


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_screenshots_of_the_main_pages(
    viewport: ViewportSize,
    site: Site,
    member_context: BrowserContext,
    visitor_context: BrowserContext,
    tmp_path: Path,
) -> None:
    folder = Path(os.environ.get("FEDICITY_SCREENSHOTS_DIR") or tmp_path)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    kind = "phone" if viewport is PHONE else "desktop"
    for name in MAIN_PAGES:
        page = await open_page(site, name, member_context, visitor_context, viewport)
        path = folder / f"{name}-{kind}.png"
        await page.screenshot(path=str(path), full_page=True)
        # A full-page shot is as wide as the page: wider than the screen means it overflows.
        assert await asyncio.to_thread(_png_width, path) == viewport["width"], (
            f"{name} ({kind}) is wider than the screen"
        )
