"""/admin/imports/files over the test client: admins only (a citizen gets 403, a form without its
token 400), upload -> mapping and dry run -> mapping changed -> apply; the organisation page then
shows its provenance and contacts; commune centres uploaded make the map centre on the commune
and the "near me" API find what was written there."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart import Quart
from quart.datastructures import FileStorage
from quart.typing import TestClientProtocol

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.imports import queries
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.web.app import create_app
from tests.conftest import FixedKeys
from tests.imports.test_centres import post_in_montreuil
from tests.imports.test_organizations_csv import slice_without_centres
from tests.web.test_accounts_web import _csrf, _log_in, _register

BROWSER = {"Accept": "text/html"}
PAGE = "/admin/imports/files"
NEAR = "/api/near?lat=48.8638&lon=2.4485&radius_km=1"
RNA = (
    "id;titre;objet;adrs_codeinsee;siteweb;courriel\n"
    "W931000001;AMAP des Chavaux;Paniers;93048;https://amap.example;contact@amap.example\n"
    "W931000002;<script>alert(1)</script>;x;93048;javascript:alert(1);\n"
).encode("cp1252")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """An app serving Montreuil, whose communes have no centres yet."""
    await slice_without_centres(pool, tmp_path)
    serving = dataclasses.replace(settings, territory_level="commune", territory_code="93048")
    assert await prepare_serving(pool, serving) is not None
    application = create_app(serving, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


def upload(data: bytes, name: str, kind: str, token: str) -> dict[str, object]:
    """The upload form's fields."""
    return {
        "form": {"csrf_token": token, "kind": kind},
        "files": {"file": FileStorage(io.BytesIO(data), name, content_type="text/csv")},
    }


def hidden(html: str, name: str) -> str:
    """A hidden input's value."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


async def test_admin_flow_for_organisations_and_centres(
    app: Quart, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    citizen: TestClientProtocol = app.test_client()
    await _register(pool, keygen, "camille")
    await _log_in(citizen, "camille")
    assert (await citizen.get(PAGE, headers=BROWSER)).status_code == 403
    token = await _csrf(citizen, "/settings")
    denied = await citizen.post(PAGE, **upload(RNA, "rna.csv", "organizations", token))
    assert denied.status_code == 403

    await _register(pool, keygen, "maire", is_admin=True)
    admin: TestClientProtocol = app.test_client()
    await _log_in(admin, "maire")
    token = await _csrf(admin, PAGE)
    no_token = await admin.post(PAGE, **upload(RNA, "rna.csv", "organizations", "x"))
    assert no_token.status_code == 400

    preview = await admin.post(PAGE, **upload(RNA, "../../rna.csv", "organizations", token))
    assert preview.status_code == 200
    html = await preview.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "2 created" in html or "2 créé" in html
    # The note saying why the website was dropped, in the reader's language.
    assert "site web &#39;javascript:alert(1)&#39; écarté : pas une adresse http(s)" in html
    assert "<option selected>titre</option>" in html
    digest, label = hidden(html, "digest"), hidden(html, "label")
    assert label == "rna.csv"
    async with pool.acquire() as conn:
        assert await queries.select_local_organizations(conn) == []

    # The admin drops the description from the mapping and previews again.
    form = {
        "csrf_token": token,
        "kind": "organizations",
        "digest": digest,
        "label": label,
        "map_name": "titre",
        "map_official_id": "id",
        "map_commune": "adrs_codeinsee",
        "map_website": "siteweb",
        "map_email": "courriel",
        "action": "preview",
    }
    again = await admin.post(f"{PAGE}/run", form=form)
    assert again.status_code == 200
    assert "<option selected>objet</option>" not in await again.get_data(as_text=True)
    bad = await admin.post(f"{PAGE}/run", form={**form, "map_name": "absent"})
    assert bad.status_code == 400
    assert "absent" in await bad.get_data(as_text=True)
    assert (
        await admin.post(f"{PAGE}/run", form={**form, "digest": "../../etc"})
    ).status_code == 400

    applied = await admin.post(f"{PAGE}/run", form={**form, "action": "apply"})
    assert applied.status_code == 200
    async with pool.acquire() as conn:
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
        entry = await conn.fetchrow("SELECT action, actor_name FROM audit_log")
    assert set(orgs) == {"AMAP des Chavaux", "<script>alert(1)</script>"}
    assert orgs["AMAP des Chavaux"]["summary"] == ""
    assert entry is not None
    assert (entry["action"], entry["actor_name"]) == ("import.organizations", "maire")
    # Applied: the stored upload is gone, so applying it twice by replaying the form cannot.
    assert (await admin.post(f"{PAGE}/run", form={**form, "action": "apply"})).status_code == 404

    page = await admin.get(
        f"/organizations/{orgs['AMAP des Chavaux']['username']}", headers=BROWSER
    )
    text = await page.get_data(as_text=True)
    assert "rna.csv" in text
    assert "ligne 2" in text or "line 2" in text
    assert 'href="https://amap.example"' in text
    assert "contact@amap.example" in text

    # Commune centres: the map starts empty, then centres on Montreuil; a post written there
    # before is found by the radius API.
    async with pool.acquire() as conn:
        await post_in_montreuil(conn, "Marché", clock.now())
    assert (await (await admin.get(NEAR)).get_json())["items"] == []
    assert 'data-center=""' in await (await admin.get("/map", headers=BROWSER)).get_data(
        as_text=True
    )
    centres = b'codgeo;geo_point_2d\n93048;"48.8638, 2.4485"\n'
    preview = await admin.post(PAGE, **upload(centres, "centres.csv", "centres", token))
    assert preview.status_code == 200
    html = await preview.get_data(as_text=True)
    form = {
        "csrf_token": token,
        "kind": "centres",
        "digest": hidden(html, "digest"),
        "label": hidden(html, "label"),
        "action": "apply",
    }
    assert (await admin.post(f"{PAGE}/run", form=form)).status_code == 200
    map_page = await admin.get("/map", headers=BROWSER)
    assert 'data-center="48.863800,2.448500"' in await map_page.get_data(as_text=True)
    near = await (await admin.get(NEAR)).get_json()
    assert [i["url"] for i in near["items"]] == ["http://fedicity.test/posts/1"]
