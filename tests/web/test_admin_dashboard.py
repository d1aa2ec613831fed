"""/admin/dashboard: what every process left in the database, for admins only, paged by domain."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys
from tests.ops.seeding import HOSTILE, seed
from tests.web.test_accounts_web import _log_in, _register


async def _admin(app: Quart) -> TestClientProtocol:
    client = app.test_client()
    await _log_in(client, "root_admin", "long enough pw")
    return client


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found is not None, element_id
    return found.group(1).strip()


async def test_the_admin_sees_every_figure_worst_domain_first(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    await seed(pool, keygen, tmp_path, clock.now())
    client = await _admin(app)
    response = await client.get("/admin/dashboard")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    # In French by default, first of the admin sections
    assert "<h1>Tableau de bord</h1>" in html
    nav = html.split('class="admin-nav"')[1].split("</nav>")[0]
    assert nav.index("/admin/dashboard") < nav.index('"/admin"')
    assert 'href="/admin/dashboard" aria-current="page"' in nav
    # The queues
    inbox_row = html.split('id="queue-inbox"')[1].split("</tr>")[0]
    assert "Activités reçues" in inbox_row
    assert "30\u00a0secondes" in inbox_row
    delivery_row = html.split('id="queue-delivery"')[1].split("</tr>")[0]
    assert "<span>4</span>" in delivery_row
    assert "<span>3</span>" in delivery_row
    assert "2 minutes" in delivery_row
    # Users (the admin's login just now counts as activity), storage, backlog
    assert _text(html, "accounts") == "3"
    assert _text(html, "active-accounts") == "2"
    assert _text(html, "remote-actors") == "2"
    assert _text(html, "open-reports") == "2"
    assert _text(html, "media-recorded") == "1 fichier, 2\u202fko"
    assert _text(html, "media-disk") == "2 fichiers, 3\u202fko"
    assert _text(html, "database-size").endswith(("Mo", "Go"))
    # Domains, worst first, a hostile name shown as text
    order = [html.index(name) for name in ("down.example", "flaky.example", "busy.example")]
    assert order == sorted(order)
    assert "Indisponible" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert HOSTILE not in html
    # and in English on request
    english = await (await client.get("/admin/dashboard?lang=en")).get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in english
    assert "Unavailable" in english


async def test_domains_are_paged_and_a_bad_page_is_a_400(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    await _register(pool, keygen, "root_admin", is_admin=True)
    now = clock.now()
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO domain_health (domain, failure_days, last_failure_at) VALUES ($1, $2, $3)",
            [
                (f"d{number:02d}.example", [now.date()] * (number % 3), now - timedelta(hours=1))
                for number in range(60)
            ],
        )
    client = app.test_client()
    from tests.web.test_accounts_web import PASSWORD

    await _log_in(client, "root_admin", PASSWORD)
    first = await (await client.get("/admin/dashboard")).get_data(as_text=True)
    assert first.count('<th scope="row" class="wrap">') == 50
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert following is not None
    second_response = await client.get(following.group(1).replace("&amp;", "&").split("#")[0])
    second = await second_response.get_data(as_text=True)
    assert second.count('<th scope="row" class="wrap">') == 10
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    # every domain is on exactly one page
    shown = re.findall(r'class="wrap">(d\d\d\.example)<', first + second)
    assert sorted(shown) == [f"d{number:02d}.example" for number in range(60)]
    for bad in ("abc", "-1", "1e3", "\u0661", "9" * 40):
        refused = await client.get("/admin/dashboard", query_string={"page": bad})
        assert refused.status_code == 400, bad
    far = await client.get("/admin/dashboard?page=99999999")
    assert far.status_code == 200
    assert "Plus aucun domaine." in await far.get_data(as_text=True)


async def test_the_dashboard_is_for_admins_only(app: Quart, pool: Pool, keygen: FixedKeys) -> None:
    from tests.web.test_accounts_web import PASSWORD

    await _register(pool, keygen, "citizen")
    client = app.test_client()
    await _log_in(client, "citizen", PASSWORD)
    assert (await client.get("/admin/dashboard")).status_code == 403
    anonymous = await app.test_client().get("/admin/dashboard")
    assert anonymous.status_code in (302, 303, 401, 403)
