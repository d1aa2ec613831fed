"""Every file a page advertises is served: each `<link rel="alternate">` (and the catalogue link)
of the main pages answers 200 with the type it announced, readable by a program from another
origin (CORS)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.web.test_opendata_pages import AP, URLS, Page, Site, site

__all__ = ["site"]  # the fixture, shared with the pages' tests


async def test_every_advertised_file_is_served_with_its_type(site: Site) -> None:
    event = await site.event(site.velo)
    assert event.token is not None
    pages = [
        "/territoires/commune/93048",
        "/territoires/departement/93",
        f"/events/{event.token}",
        "/@camille",
        "/@velo",
        "/organizations/velo",
        "/events",
        "/proposals",
        "/proposals?state=voting",
        "/organizations",
        "/tags/velo",
        "/map",
        "/opendata",
    ]
    checked: set[str] = set()
    for path in pages:
        page: Page = await site.page(path)
        for link in page.links:
            announced, href = link["type"], link["href"]
            if href in checked:
                continue
            checked.add(href)
            assert href.startswith(URLS.absolute("/")), (path, href)
            parts = urlsplit(href)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            response = await site.client.get(target, headers={"Accept": announced})
            body = await response.get_data()
            assert response.status_code == 200, (path, href, body[:300])
            assert response.content_type.split(";")[0] == announced, (path, href)
            assert body, (path, href)
            if announced != AP:
                assert response.headers.get("Access-Control-Allow-Origin") == "*", href
    # The territory's four kinds, the catalogue and an organiser's agenda were among them.
    kinds = {href.rsplit(".", 1)[-1] for href in checked}
    assert {"rss", "atom", "ics", "geojson", "csv", "jsonld"} <= kinds
