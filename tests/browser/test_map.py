"""The map in a real browser, on a phone and on a desktop, with no internet: every request that
leaves the instance (OpenStreetMap's tiles) is refused, and the page must still work. Leaflet
comes from our static files; a marker's popup names what it is and links to it; the place picker
sets an event's coordinates with a click, and the event is then on the map.

`make screenshots` also keeps this test's pictures (map-phone.png, map-desktop.png,
event_form_picker-*.png) in FEDICITY_SCREENSHOTS_DIR."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Route, ViewportSize

from tests.browser.conftest import DESKTOP, PHONE, Site

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
_READY = "#map[data-ready]"


async def _offline_page(
    context: BrowserContext, site: Site, viewport: ViewportSize
) -> tuple[Page, list[str], list[str]]:
    """A page whose requests reach only the instance; (page, served URLs, refused URLs)."""
    page = await context.new_page()
    await page.set_viewport_size(viewport)
    served: list[str] = []
    refused: list[str] = []

    async def only_the_instance(route: Route) -> None:
        url = route.request.url
        if url.startswith(site.base + "/"):
            served.append(url)
            await route.continue_()
        else:
            refused.append(url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_the_instance)
    return page, served, refused


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FEDICITY_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _open_map(page: Page) -> int:
    """Open /map, wait for map.js to draw its markers; return how many it drew."""
    response = await page.goto("/map")
    assert response is not None
    assert response.status == 200
    await page.wait_for_selector(_READY, state="attached", timeout=15_000)
    drawn = await page.get_attribute("#map", "data-ready")
    assert drawn is not None
    return int(drawn)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_the_map_shows_markers_with_popups_without_tiles(
    viewport: ViewportSize, site: Site, visitor_context: BrowserContext, tmp_path: Path
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page, served, refused = await _offline_page(visitor_context, site, viewport)
    try:
        # When a visitor opens the map with no internet
        drawn = await _open_map(page)
        # Then Leaflet came from our static files, and the tiles were asked for elsewhere only
        assert site.base + LEAFLET_JS in served
        assert await page.evaluate("window.L && window.L.version") == "1.9.4"
        assert refused, "no tile was even asked for"
        assert all("tile.openstreetmap.org" in url for url in refused), refused
        # And the markers are drawn anyway: the demo organisations, and what is at the
        # commune's centre (the seeded event, proposal and posts share one pin)
        assert drawn >= 4
        assert await page.locator(".leaflet-marker-icon").count() == drawn
        await page.screenshot(path=str(_shots(tmp_path) / f"map-{kind}.png"), full_page=True)
        # When the visitor clicks the town hall's marker
        await page.locator('.leaflet-marker-icon[title="Mairie de Montreuil"]').click()
        popup = page.locator(".leaflet-popup-content")
        await popup.wait_for()
        # Then its popup says what it is and links to its page
        assert "Organisation" in await popup.inner_text()
        link = popup.locator("a.map-popup-name")
        assert await link.inner_text() == "Mairie de Montreuil"
        assert await link.get_attribute("href") == site.base + "/organizations/mairie"
        # And Leaflet's buttons speak French
        assert await page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoomer"
        close = page.locator(".leaflet-popup-close-button")
        assert await close.get_attribute("aria-label") == "Fermer"
        # And the credit to OpenStreetMap's contributors is on the map
        credit = page.locator(".leaflet-control-attribution a")
        assert "OpenStreetMap" in await credit.inner_text()
        # And the same things are listed under the map, by kind
        assert await page.locator("section.map-list h2").count() >= 3
        await link.click()
        await page.wait_for_url(re.compile(r"/organizations/mairie$"))
    finally:
        await page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_an_event_placed_with_the_picker_is_on_the_map(
    viewport: ViewportSize, site: Site, member_context: BrowserContext, tmp_path: Path
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    title = f"Atelier réparation ({kind})"
    # Each run clicks a place of its own, so that their pins do not overlap.
    dx = 40 if viewport is PHONE else -60
    page, served, _ = await _offline_page(member_context, site, viewport)
    try:
        # Given a citizen on the event form, whose picker map is drawn under the coordinates
        await page.goto("/events/new")
        picker = page.locator(".picker-map")
        await page.wait_for_selector(".picker-map[data-ready]", state="attached")
        assert site.base + "/static/placepicker.js" in served
        latitude, longitude = (
            page.locator("input[name=latitude]"),
            page.locator("input[name=longitude]"),
        )
        assert await latitude.input_value() == ""
        await page.fill("input[name=title]", title)
        await page.fill("input[name=starts_at]", "2031-07-14T10:00")
        await page.fill("input[name=place_name]", "Square Patriarche")
        # When she clicks the map, a little off its centre (the commune's)
        await picker.scroll_into_view_if_needed()
        box = await picker.bounding_box()
        assert box is not None
        await picker.click(position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 - 30})
        # Then both fields hold that point, and a pin marks it
        lat, lon = float(await latitude.input_value()), float(await longitude.input_value())
        assert 48.80 < lat < 48.92, lat
        assert 2.38 < lon < 2.52, lon
        assert (round(lat, 4), round(lon, 4)) != (48.8638, 2.4485)
        pin = picker.locator(".map-pin-picked")
        assert await pin.count() == 1
        await page.screenshot(
            path=str(_shots(tmp_path) / f"event_form_picker-{kind}.png"), full_page=True
        )
        # When she types a point in the fields, the pin goes there (the map centres on it)
        await latitude.fill("48.8600")
        await longitude.fill("2.4400")
        await page.wait_for_timeout(400)
        pin_box, map_box = await pin.bounding_box(), await picker.bounding_box()
        assert pin_box is not None
        assert map_box is not None
        pin_x = pin_box["x"] + pin_box["width"] / 2
        assert abs(pin_x - (map_box["x"] + map_box["width"] / 2)) < 3
        # And clicking again puts the fields back where she clicks
        await picker.click(position={"x": box["width"] / 2 + dx, "y": box["height"] / 2 + 40})
        lat, lon = float(await latitude.input_value()), float(await longitude.input_value())
        assert (lat, lon) != (48.86, 2.44)
        # When she publishes the event
        async with page.expect_navigation():
            await page.locator("main form button").last.click()
        assert re.search(r"/events/[^/]+$", page.url), page.url
        # Then it is on the map, where she put it, with its date in the popup
        await _open_map(page)
        marker = page.locator(f'.leaflet-marker-icon[title*="{title}"]')
        assert await marker.count() == 1
        await marker.click()
        popup = page.locator(".leaflet-popup-content")
        await popup.wait_for()
        text = await popup.inner_text()
        assert title in text
        assert "14 juillet 2031" in text
        await page.wait_for_timeout(500)  # the popup fades in, and the map pans to show it
        await page.screenshot(path=str(_shots(tmp_path) / f"map-popup-{kind}.png"))
    finally:
        await page.close()
