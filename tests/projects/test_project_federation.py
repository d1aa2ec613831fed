"""Projects on the wire: a fediverse peer we did not write (bovine, real HTTP on loopback)
follows a project, asks to contribute (refused on approval, then accepted when open), and
receives its wall posts and its events; a second fedicity reads its Group back."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.events import service as events
from fedicity.events.models import Location
from fedicity.events.service import EventInput
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.organizations import memberships, posting
from fedicity.organizations import queries as organization_queries
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.projects import service as projects
from fedicity.projects.models import ProjectFields, RemoteProject
from fedicity.projects.parse import parse_project
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance
from tests.interop.peers import bovine_peer

PASSWORD = "correct horse battery staple"


async def _received(client: httpx.AsyncClient, peer: str) -> list[dict[str, Any]]:
    response = await client.get(f"{peer}/_received")
    entries: list[dict[str, Any]] = response.json()
    return entries


async def _person(pool: Pool, keygen: FixedKeys, name: str) -> Actor:
    async with pool.acquire() as conn:
        account = await accounts.register(conn, username=name, password=PASSWORD, keygen=keygen)
        found = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert found is not None
    return found


def _env(instance: Instance) -> Env:
    return Env(urls=instance.urls, clock=instance.clock)


async def test_bovine_follows_a_project_is_refused_then_accepted_and_receives_its_wall_and_events(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "instance", keygen) as instance,
        bovine_peer(tmp_path) as peer,
        httpx.AsyncClient(timeout=30) as client,
    ):
        camille = await _person(pool, keygen, "camille")
        dominique = await _person(pool, keygen, "dominique")
        async with pool.acquire() as conn:
            project = await projects.create(
                conn,
                creator=camille,
                username="jardin",
                display_name="Jardin partagé",
                membership_mode="approval",
                fields=ProjectFields(maturity="started", license="CC BY-SA 4.0"),
                keygen=keygen,
                env=_env(instance),
                root=None,
            )
        project_uri = instance.urls.actor("jardin")
        buttercup = f"{peer}/actor"

        async def verified(check: Any) -> bool:
            return any(
                entry["verified"] and check(entry["body"])
                for entry in await _received(client, peer)
            )

        # bovine follows the project (its own client fetches our Group and signs the Follow)
        answer = (await client.post(f"{peer}/_follow", json={"target": project_uri})).json()
        assert answer["status"] == 202, answer
        await eventually(
            lambda: verified(lambda b: b["type"] == "Accept" and b["object"]["type"] == "Follow"),
            within=20,
        )

        # It asks to contribute; on approval, an admin refuses: the Reject reaches it, signed
        inbox = instance.urls.actor_inbox("jardin")

        async def join(number: int) -> None:
            sent = await client.post(
                f"{peer}/_send",
                json={
                    "inbox": inbox,
                    "activity": {
                        "@context": "https://www.w3.org/ns/activitystreams",
                        "id": f"{buttercup}/join/{number}",
                        "type": "Join",
                        "actor": buttercup,
                        "object": project_uri,
                    },
                },
            )
            assert sent.json()["status"] == 202, sent.json()

        async def state() -> str | None:
            async with pool.acquire() as conn:
                found = await organization_queries.select_membership(conn, project.id, buttercup)
            return found.state if found is not None else None

        await join(1)

        async def pending() -> bool:
            return await state() == "pending"

        await eventually(pending, within=20)
        async with pool.acquire() as conn:
            await memberships.answer_request(
                conn,
                organization=project,
                by=camille,
                member_uri=buttercup,
                accept=False,
                env=_env(instance),
            )
        await eventually(
            lambda: verified(
                lambda b: b["type"] == "Reject" and b["object"].get("id") == f"{buttercup}/join/1"
            ),
            within=20,
        )
        assert await state() == "rejected"

        # Open, the same request is accepted at once
        async with pool.acquire() as conn:
            await organizations.update_settings(
                conn,
                organization=project,
                by=camille,
                membership_mode="open",
                hide_members=False,
                env=_env(instance),
            )
        await join(2)
        await eventually(
            lambda: verified(lambda b: b["type"] == "Accept" and b["object"]["type"] == "Join"),
            within=20,
        )
        assert await state() == "accepted"

        # A contributor's post on the wall: the project (a Group) announces it to bovine
        async with pool.acquire() as conn:
            await memberships.join(
                conn,
                organization=project,
                member_uri=instance.urls.actor("dominique"),
                env=_env(instance),
            )
            post = await posting.post_on_wall(
                conn,
                organization=project,
                author=dominique,
                text="Premier semis samedi !",
                env=_env(instance),
                local_host=instance.settings.host,
                resolved={},
            )

        def announced_post(body: dict[str, Any]) -> bool:
            inner = body.get("object")
            note = inner.get("object") if isinstance(inner, dict) else None
            return (
                body["type"] == "Announce"
                and body["actor"] == project_uri
                and isinstance(note, dict)
                and note.get("id") == post.uri
            )

        await eventually(lambda: verified(announced_post), within=20)

        # An event organised by the project reaches bovine as Create(Event)
        async with pool.acquire() as conn:
            event = await events.create_event(
                conn,
                actor=project,
                data=EventInput(
                    title="Chantier participatif",
                    starts_at=datetime.now(UTC) + timedelta(days=7),
                    location=Location(place_name="Murs à pêches", locality="Montreuil"),
                ),
                place=None,
                root=None,
                urls=instance.urls,
                clock=instance.clock,
                keygen=keygen,
            )
        await eventually(
            lambda: verified(
                lambda b: (
                    b["type"] == "Create"
                    and b["object"].get("type") == "Event"
                    and b["object"]["id"] == event.uri
                    and b["actor"] == project_uri
                )
            ),
            within=20,
        )

        # Its page shows the contributors, the wall post and the event; its agenda has it
        page = (await client.get(instance.urls.project_page("jardin"))).text
        assert "Premier semis samedi" in page
        assert "Chantier participatif" in page
        assert "@dominique" in page
        agenda = await client.get(instance.urls.actor_agenda("jardin"))
        assert agenda.status_code == 200
        assert "Chantier participatif" in agenda.text


async def test_a_projects_group_goes_to_a_second_instance_and_is_read_back(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
        httpx.AsyncClient(timeout=30) as client,
    ):
        # On A: a project under an organisation and under another project
        camille = await _person(pool, keygen, "camille")
        async with pool.acquire() as conn:
            await organizations.create(
                conn,
                creator=camille,
                username="velo",
                organization_kind="association",
                keygen=keygen,
                env=_env(a),
            )
            await projects.create(
                conn,
                creator=camille,
                username="maison",
                fields=ProjectFields(),
                keygen=keygen,
                env=_env(a),
                root=None,
            )
            fields = ProjectFields(
                maturity="development",
                starts_on=date(2026, 3, 1),
                ends_on=date(2027, 6, 30),
                license="https://www.gnu.org/licenses/agpl-3.0.html",
                parent_organization="velo",
                parent_project="maison",
            )
            jardin = await projects.create(
                conn,
                creator=camille,
                username="jardin",
                display_name="Jardin partagé",
                fields=fields,
                keygen=keygen,
                env=_env(a),
                root=None,
            )
        jardin_uri = a.urls.actor("jardin")

        # On B: alex follows it (B fetches A's Group over HTTP), A accepts
        alex = await _person(pool_b, keygen, "alex")
        async with pool_b.acquire() as conn:
            await b.federation.directory.actor(jardin_uri)
            await follows.follow(conn, actor=alex, target=jardin_uri, urls=b.urls, clock=b.clock)

        async def followed() -> bool:
            async with pool.acquire() as conn:
                return await follow_queries.count_followers(conn, jardin_uri) == 1

        await eventually(followed, within=20)

        # A's admin edits it: Update(Group) goes through B's signed inbox and its worker
        async with pool.acquire() as conn:
            await projects.update(
                conn,
                actor=jardin,
                by=camille,
                fields=dataclasses.replace(fields, maturity="testing"),
                display_name="Jardin partagé des Murs",
                summary="Un potager ouvert.",
                keygen=keygen,
                env=_env(a),
                root=None,
            )

        async def updated() -> RemoteProject | None:
            async with pool_b.acquire() as conn:
                stored = await actor_queries.select_remote_actor(conn, jardin_uri)
            found = parse_project(stored.raw) if stored is not None else None
            return found if found is not None and found.maturity == "testing" else None

        await eventually(updated, within=20)
        read = await updated()
        assert read == RemoteProject(
            uri=jardin_uri,
            maturity="testing",
            starts_on=date(2026, 3, 1),
            ends_on=date(2027, 6, 30),
            license="https://www.gnu.org/licenses/agpl-3.0.html",
            parent_organization_uri=a.urls.actor("velo"),
            parent_project_uri=a.urls.actor("maison"),
            contributors_uri=a.urls.actor_members("jardin"),
            location_name="",
        )
        async with pool_b.acquire() as conn:
            stored = await actor_queries.select_remote_actor(conn, jardin_uri)
        assert stored is not None
        assert stored.display_name == "Jardin partagé des Murs"

        # B shows it as a project: maturity, dates, licence, parents
        page = (await client.get(f"{b.base}/search", params={"q": jardin_uri})).text
        assert "Jardin partagé des Murs" in page
        assert "En test" in page
        assert "2027-06-30" in page
        assert "agpl-3.0" in page
        assert a.urls.actor("maison") in page


def test_a_hostile_project_document_is_read_without_a_crash() -> None:
    base = {"id": "https://remote.example/p/1", "type": "Group", "kind": "Project"}
    assert parse_project({**base, "type": "Person"}) is None
    assert parse_project({**base, "id": "javascript:alert(1)"}) is None
    hostile = parse_project(
        {
            **base,
            "maturity": "legendary",
            "startTime": "99999-01-01T00:00:00Z",
            "endTime": "2020-01-01T00:00:00Z",
            "license": "x\x00" * 10,
            "parentOrganization": "javascript:alert(1)",
            "parentProject": {"id": "https://remote.example/p/0", "nested": [[[[[]]]]]},
            "contributors": ["not", "a", "url"],
            "location": {"name": "L" * 10_000},
        }
    )
    assert hostile is not None
    assert hostile.maturity is None
    assert hostile.starts_on is None
    assert hostile.ends_on == date(2020, 1, 1)
    assert hostile.license == ""
    assert hostile.parent_organization_uri is None
    assert hostile.parent_project_uri == "https://remote.example/p/0"
    assert hostile.contributors_uri is None
    assert len(hostile.location_name) == 200
    backwards = parse_project({**base, "startTime": "2027-01-01", "endTime": "2026-01-01"})
    assert backwards is not None
    assert backwards.ends_on is None
    assert json.dumps(backwards.uri)
