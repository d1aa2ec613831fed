"""Projects through the web: the creation form, the list, the page, the edit form, their actor
document, their place in the territory (located item, announces) and in no organisation list;
and every field attacked."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.projects.parse import parse_project
from fedicity.settings import Settings
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import AppState, create_app
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import actor_document, post_signed, seed_remote_actor
from tests.territory_helpers import import_slice

PASSWORD = "correct horse battery staple"
AP = {"Accept": "application/activity+json"}


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    await client.post(
        "/login", form={"csrf_token": match.group(1), "login": username, "password": PASSWORD}
    )
    page = await (await client.get("/projects/new")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def _outbox(pool: Pool, kind: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT raw FROM outbox_activities WHERE type = $1 ORDER BY id", kind
        )
    return [row["raw"] for row in rows]


async def _announced(pool: Pool) -> list[str]:
    """The ids of what the territories announced (they embed the activity)."""
    return [
        a["object"]["id"] if isinstance(a["object"], dict) else a["object"]
        for a in await _outbox(pool, "Announce")
    ]


def _form(csrf: str, **values: str) -> dict[str, str]:
    base = {
        "csrf_token": csrf,
        "username": "jardin",
        "display_name": "Jardin partagé des Murs à pêches",
        "summary": "Un potager ouvert à tous.",
        "maturity": "started",
        "starts_on": "2026-03-01",
        "ends_on": "2027-06-30",
        "license": "https://creativecommons.org/licenses/by-sa/4.0/",
        "membership_mode": "open",
        "territory": "93048",
        "latitude": "48.8610",
        "longitude": "2.4530",
    }
    return {**base, **values}


async def test_a_project_is_created_listed_located_announced_and_edited_from_the_web(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    await import_slice(pool, tmp_path)
    served = dataclasses.replace(settings, territory_level="epci", territory_code="200057875")
    assert await prepare_serving(pool, served) is not None
    async with pool.acquire() as conn:
        people = []
        for name in ("camille", "dominique"):
            account = await accounts.register(conn, username=name, password=PASSWORD, keygen=keygen)
            people.append(await actor_queries.select_actor_by_id(conn, account.actor_id))
        assert people[0] is not None
        await organizations.create(
            conn,
            creator=people[0],
            username="velo",
            organization_kind="association",
            display_name="Vélo Montreuil",
            keygen=keygen,
            env=Env(urls=Urls(served.base_url), clock=clock),
        )
    app = create_app(served, pool=pool, clock=clock, keygen=keygen)
    async with app.test_app():
        client = app.test_client()
        csrf = await _log_in(client, "camille")

        # Created from the form: its page shows the maturity step bar, dates, licence, owner
        created = await client.post("/projects", form=_form(csrf))
        assert created.status_code == 303, await created.get_data(as_text=True)
        assert created.headers["Location"].endswith("/projects/jardin")
        page = await (await client.get("/projects/jardin")).get_data(as_text=True)
        assert "Jardin partagé des Murs à pêches" in page
        assert 'aria-current="step"' in page
        assert "2026-03-01" in page
        assert "2027-06-30" in page
        assert 'href="https://creativecommons.org/licenses/by-sa/4.0/"' in page
        assert "Montreuil" in page
        assert 'id="needs"' in page
        assert "/actors/jardin/events.ics" in page
        assert "/projects/jardin/edit" in page  # its creator is its admin

        # Listed with /projects, filtered by maturity and territory; never as an organisation
        listed = await (await client.get("/projects")).get_data(as_text=True)
        assert "/projects/jardin" in listed
        assert "/projects/jardin" in await (
            await client.get("/projects?maturity=started&territory=93048")
        ).get_data(as_text=True)
        assert "/projects/jardin" not in await (
            await client.get("/projects?maturity=idea")
        ).get_data(as_text=True)
        assert "/projects/jardin" not in await (
            await client.get("/projects?territory=93006")
        ).get_data(as_text=True)
        assert (await client.get("/projects?maturity=bogus")).status_code == 400
        assert (await client.get("/projects?territory=nowhere-at-all")).status_code == 400
        assert (await client.get("/projects?before=abc")).status_code == 400
        assert "jardin" not in await (await client.get("/organizations")).get_data(as_text=True)
        api_orgs = await (await client.get("/api/v1/organizations")).get_json()
        assert all(item["username"] != "jardin" for item in api_orgs["items"]), api_orgs
        assert (await client.get("/api/v1/organizations/jardin")).status_code == 404
        table = Urls(served.base_url).territory_export("epci", "200057875", "organizations.csv")
        csv_text = await (await client.get(table)).get_data(as_text=True)
        assert "velo" in csv_text
        assert "jardin" not in csv_text
        found = await (await client.get("/search?q=jardin")).get_data(as_text=True)
        assert '<span class="badge">Projet</span>' in found
        redirected = await client.get("/organizations/jardin?notice=saved")
        assert redirected.status_code == 303
        assert redirected.headers["Location"].endswith("/projects/jardin?notice=saved")

        # Its actor document: a Group with kind Project and its fields, readable by Mastodon
        document = await (await client.get("/actors/jardin", headers=AP)).get_json()
        assert document["type"] == "Group"
        assert document["kind"] == "Project"
        assert document["maturity"] == "started"
        assert document["startTime"] == "2026-03-01T00:00:00Z"
        assert document["endTime"] == "2027-06-30T00:00:00Z"
        assert document["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
        assert document["contributors"] == document["members"]
        assert document["location"]["name"] == "Montreuil"
        assert "organizationKind" not in document
        fields = {field["name"]: field["value"] for field in document["attachment"]}
        assert fields["Maturité"] == "Démarré"
        assert fields["Territoire"] == "Montreuil"
        assert document["@context"][-1]["maturity"] == "fc:maturity"

        # On the map and in its GeoJSON, at the place picked
        features = await (await client.get("/map/features.geojson")).get_json()
        projects_on_map = [f for f in features["features"] if f["properties"]["kind"] == "project"]
        assert [f["geometry"]["coordinates"] for f in projects_on_map] == [[2.453, 48.861]]
        assert "Jardin partagé" in await (await client.get("/map")).get_data(as_text=True)

        # Located in Montreuil (the places API) and announced by its territories
        places = await (await client.get("/api/v1/places?type=project")).get_json()
        assert [item["url"] for item in places["items"]] == [
            "http://fedicity.test/projects/jardin"
        ], places
        creates = [a for a in await _outbox(pool, "Create") if a["object"].get("kind") == "Project"]
        assert len(creates) == 1
        assert creates[0]["id"] in await _announced(pool)

        # Edited by its admin: Update(Group) sent, announced again, shown
        csrf = await _log_in(client, "camille")
        edited = await client.post(
            "/projects/jardin/edit",
            form=_form(csrf, maturity="testing", license="CC BY-SA 4.0", ends_on=""),
        )
        assert edited.status_code == 303, await edited.get_data(as_text=True)
        page = await (await client.get("/projects/jardin")).get_data(as_text=True)
        assert "CC BY-SA 4.0" in page
        assert "2027-06-30" not in page
        updates = [a for a in await _outbox(pool, "Update") if a["object"].get("kind") == "Project"]
        assert updates
        assert updates[-1]["object"]["maturity"] == "testing"
        assert "endTime" not in updates[-1]["object"]
        assert updates[-1]["id"] in await _announced(pool)
        document = await (await client.get("/actors/jardin", headers=AP)).get_json()
        assert document["maturity"] == "testing"
        places = await (await client.get("/api/v1/places?type=project")).get_json()
        assert [item["title"] for item in places["items"]] == ["Jardin partagé des Murs à pêches"]
        # Taken out of its territory, it leaves the territory's items
        moved = await client.post(
            "/projects/jardin/edit", form=_form(csrf, maturity="testing", territory="")
        )
        assert moved.status_code == 303
        places = await (await client.get("/api/v1/places?type=project")).get_json()
        assert places["items"] == []

        # Carried by an organisation its creator administers: the organisation owns it, and
        # its page lists it
        carried = await client.post(
            "/projects", form=_form(csrf, username="atelier", parent_organization="velo")
        )
        assert carried.status_code == 303
        page = await (await client.get("/projects/atelier")).get_data(as_text=True)
        assert 'href="http://fedicity.test/organizations/velo"' in page
        assert "Vélo Montreuil" in page
        assert "/projects/atelier" in await (await client.get("/organizations/velo")).get_data(
            as_text=True
        )
        document = await (await client.get("/actors/atelier", headers=AP)).get_json()
        assert document["parentOrganization"] == "http://fedicity.test/actors/velo"

        # A sub-project, then the cycle its parent would make
        assert (
            await client.post(
                "/projects", form=_form(csrf, username="serre", parent_project="jardin")
            )
        ).status_code == 303
        page = await (await client.get("/projects/jardin")).get_data(as_text=True)
        assert "/projects/serre" in page
        cycle = await client.post("/projects/jardin/edit", form=_form(csrf, parent_project="serre"))
        assert cycle.status_code == 422
        assert "sub-projects" in await cycle.get_data(as_text=True) or "sous-projets" in (
            await cycle.get_data(as_text=True)
        )
        itself = await client.post(
            "/projects/jardin/edit", form=_form(csrf, parent_project="jardin")
        )
        assert itself.status_code == 422

        # Hostile input: each a precise refusal, nothing stored
        attacks = {
            "license_url_invalid": {"license": "javascript:alert(1)"},
            "license_url_invalid ": {"license": "JaVa\tScRiPt:alert(1)"},
            "license_too_long": {"license": "x" * 501},
            "project_ends_before_start": {"starts_on": "2026-05-01", "ends_on": "2026-04-30"},
            "project_date_invalid": {"starts_on": "99999-01-01"},
            "project_date_invalid ": {"starts_on": "2026-02-30"},
            "project_date_out_of_range": {"ends_on": "1066-10-14"},
            "display_name_too_long": {"display_name": "N" * 10_000},
            "maturity_invalid": {"maturity": "legendary"},
            "parent_project_unknown": {"parent_project": "nothing_here"},
            "parent_organization_unknown": {"parent_organization": "nothing_here"},
            "territory_unknown": {"territory": "75056"},
            "latitude_invalid": {"latitude": "91", "longitude": "2"},
            "username_invalid": {"username": "U" * 10_000},
        }
        for number, (code, values) in enumerate(attacks.items()):
            refused = await client.post(
                "/projects", form=_form(csrf, **{"username": f"attack{number}", **values})
            )
            assert refused.status_code == 422, (code, refused.status_code)
            body = await refused.get_data(as_text=True)
            # Said by the field it is about (or above the form), what was typed kept
            assert 'aria-invalid="true"' in body or 'role="alert"' in body, code
        nul = await client.post("/projects", form=_form(csrf, username="nul", summary="a\x00b"))
        assert nul.status_code == 400
        async with pool.acquire() as conn:
            count = await conn.fetchval("SELECT count(*) FROM projects")
        assert count == 3

        # Only its admins edit it
        csrf = await _log_in(client, "dominique")
        assert (await client.get("/projects/jardin/edit")).status_code == 403
        not_theirs = await client.post(
            "/projects", form=_form(csrf, username="squat", parent_organization="velo")
        )
        assert not_theirs.status_code == 422
        forbidden = await client.post("/projects/jardin/edit", form=_form(csrf, maturity="idea"))
        assert forbidden.status_code == 403
        assert (await client.get("/projects/nothing_here")).status_code == 404


async def test_a_remote_project_publishing_itself_is_stored_and_shown_others_are_not(
    app: Quart, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    uri = "https://projets.example/actors/ruche"
    keypair = fixed_keypairs()[3]
    await seed_remote_actor(pool, uri, keypair, clock.now())
    group = {
        **actor_document(uri, keypair, username="ruche"),
        "type": "Group",
        "kind": "Project",
        "name": "Ruche collective",
        "maturity": "concept",
        "startTime": "2026-04-01T00:00:00Z",
        "license": "CC0",
    }
    client = app.test_client()
    state: AppState = app.extensions["fedicity"]

    async def receive(activity: dict[str, Any]) -> str:
        response = await post_signed(
            client, "/inbox", activity, key_id=uri + "#main-key", keypair=keypair, now=clock.now()
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        await process_batch(
            pool, directory=state.fed.directory, urls=state.urls, clock=clock, keygen=keygen
        )
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1",
                activity["id"],
            )
        assert row is not None
        return f"{row['state']}: {row['last_error'] or ''}"

    def create(number: int, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{uri}/create/{number}",
            "type": "Create",
            "actor": uri,
            "object": {k: v for k, v in document.items() if k != "@context"},
        }

    # Someone else's Group, or a Group that is no project: not read
    other = {**group, "id": "https://projets.example/actors/autre"}
    assert (await receive(create(1, other))).startswith("ignored")
    assert (await receive(create(2, {**group, "kind": "Club"}))).startswith("ignored")
    # The project's own: stored, and the search page shows it as a project
    assert (await receive(create(3, group))).startswith("done")
    async with pool.acquire() as conn:
        stored = await actor_queries.select_remote_actor(conn, uri)
    assert stored is not None
    read = parse_project(stored.raw)
    assert read is not None
    assert read.maturity == "concept"
    assert read.license == "CC0"
    page = await (await client.get("/search", query_string={"q": uri})).get_data(as_text=True)
    assert "Ruche collective" in page
    assert "Concept" in page
    assert "2026-04-01" in page
