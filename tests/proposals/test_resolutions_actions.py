"""What follows a vote, end to end over loopback HTTP: a room followed from a remote server by a
signed Follow, a vote closed by the phase change when the clock passes its end, its resolution
(row, pages, Article) and an action created from it, taken, moved on and done, each change
reaching the room's remote follower as the Page's Create then Updates; the dashboard of a
citizen, and hostile input on the action form."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import drafts, lifecycle, phases, resolutions, rooms, votes
from fedicity.proposals import followup_queries as follow_ups
from fedicity.proposals.models import Room
from fedicity.proposals.service import Env
from tests.accounts.helpers import assert_signed_by, log_in, register
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, running_instance
from tests.follows.helpers import Remote, until
from tests.peer import Peer, running_peer

AS_JSON = {"Accept": "application/activity+json"}


async def _actor(pool: Pool, keygen: FixedKeys, name: str, **extra: object) -> Actor:
    account = await register(pool, keygen, name, **extra)
    async with pool.acquire() as conn:
        found = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert found is not None
    return found


async def _org_room(
    instance: Instance, keygen: FixedKeys, admin: Actor, members: list[Actor]
) -> tuple[Actor, Room]:
    """The association "velo", `admin` its admin and `members` its members, and its room."""
    async with instance.pool.acquire() as conn:
        org = await actor_service.create_organization(
            conn, "velo", organization_kind="association", keygen=keygen
        )
        for who, role in [(admin, "admin"), *((m, "member") for m in members)]:
            await organization_queries.upsert_membership(
                conn,
                organization_id=org.id,
                member_uri=instance.urls.actor(who.username),
                state="accepted",
                role=role,
                activity_uri=None,
                invited_by=None,
                now=instance.clock.now(),
            )
        room = await rooms.create_room(
            conn,
            actor=admin,
            name="Pistes cyclables",
            description="Les pistes de la commune.",
            env=_env(instance),
            organization=org,
        )
    return org, room


def _env(instance: Instance) -> Env:
    return Env(
        urls=instance.urls, clock=instance.clock, keygen=instance.app.extensions["fedicity"].keygen
    )


def _sent(peer: Peer, kind: str, object_type: str | None = None) -> list[dict[str, Any]]:
    """The activities of a type the peer received (with that object type)."""
    found = []
    for _path, body in peer.received:
        doc = json.loads(body)
        embedded = doc.get("object")
        if doc.get("type") == kind and (
            object_type is None
            or (isinstance(embedded, dict) and embedded.get("type") == object_type)
        ):
            found.append(doc)
    return found


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_a_closed_vote_becomes_a_resolution_and_its_action_reaches_the_room_followers(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen, clock=clock) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        # Given camille, admin of the association velo, dominique a member, and velo's room
        camille = await _actor(pool, keygen, "camille")
        dominique = await _actor(pool, keygen, "dominique")
        _org, room = await _org_room(instance, keygen, camille, [dominique])
        org_uri = instance.urls.actor("velo")
        # When ana, on a remote server, follows the room with a signed Follow to velo's inbox
        ana = Remote(peer, "ana", fixed_keypairs()[-1])
        follow_id = await ana.send(instance, {"type": "Follow", "object": room.uri})
        # Then velo answers with a signed Accept of the Follow of the room
        await until(_arrived(lambda: ana.received("Accept")))
        [accept] = ana.received("Accept")
        assert accept["actor"] == org_uri
        assert accept["object"]["id"] == follow_id
        assert accept["object"]["object"] == room.uri
        # The room advertises its followers: how many, not who
        document = (await http.get(room.uri, headers=AS_JSON)).json()
        assert document["followers"] == instance.urls.room_followers(room.uri)
        followers = (await http.get(document["followers"], headers=AS_JSON)).json()
        assert followers["type"] == "OrderedCollection"
        assert followers["totalItems"] == 1
        assert "orderedItems" not in followers
        # When dominique follows the room from its page
        await log_in(http, "dominique")
        page = (await http.get(f"/rooms/{room.token}")).text
        assert "Suivre cet espace" in page
        followed = await http.post(f"/rooms/{room.token}/follow", data={"csrf_token": _csrf(page)})
        assert followed.status_code == 303
        assert "Ne plus suivre cet espace" in (await http.get(f"/rooms/{room.token}")).text

        # When camille opens a vote in the room for five minutes, and both vote for it
        env = _env(instance)
        async with pool.acquire() as conn:
            draft = await drafts.create_draft(
                conn,
                actor=camille,
                title="Une piste rue Haute",
                text="Peindre **la piste**.",
                env=env,
                room=room,
            )
            proposal = await lifecycle.open_voting(
                conn,
                actor=camille,
                proposal=draft,
                ends=clock.now() + timedelta(minutes=5),
                env=env,
            )
            for voter in (camille, dominique):
                await votes.vote_locally(
                    conn, actor=voter, proposal=proposal, options=["Pour"], env=env
                )
        # Then the room's remote follower receives the proposal's Question, its local follower
        # is told
        await until(_arrived(lambda: _sent(peer, "Create", "Question")))
        async with pool.acquire() as conn:
            kinds = await conn.fetch("SELECT kind, object_uri FROM notifications")
        assert ("room_proposal", proposal.uri) in {(r["kind"], r["object_uri"]) for r in kinds}

        # When the clock passes the end of the vote and the phase change runs
        clock.advance(timedelta(minutes=6))
        async with pool.acquire() as conn:
            assert await phases.advance_due(conn, env) == 1
            resolution = await follow_ups.select_resolution_of(conn, proposal.uri)
            # Then the proposal has its one resolution: adopted, the tally, the text as voted
            assert resolution is not None
            assert (resolution.adopted, resolution.outcome) == (True, "adopted")
            assert resolution.tally == {"Pour": 2, "Contre": 0, "Abstention": 0}
            assert resolution.voters == 2
            assert "<strong>la piste</strong>" in resolution.content_html
            assert resolution.attributed_to == org_uri
            assert resolution.room_id == room.id
            # ... and only one, however often the closed proposal is published again
            closed = await resolutions.record(conn, await _proposal(conn, proposal.uri), env)
            assert closed is None
            await lifecycle.archive(
                conn, actor=camille, proposal=await _proposal(conn, proposal.uri), env=env
            )
            assert await conn.fetchval("SELECT count(*) FROM resolutions") == 1
        # The proposal's page links to it; its page says adopted, with the tally
        assert resolution.uri in (await http.get(f"/proposals/{proposal.token}")).text
        shown = (await http.get(f"/resolutions/{resolution.token}")).text
        assert "Adoptée" in shown
        assert "Une piste rue Haute" in shown
        assert "Créer une action" in shown
        article = (await http.get(resolution.uri, headers=AS_JSON)).json()
        assert article["type"] == "Article"
        assert article["kind"] == "Resolution"
        assert article["adopted"] is True
        assert article["tally"] == {"Pour": 2, "Contre": 0, "Abstention": 0}
        assert article["inReplyTo"] == proposal.uri
        assert article["context"] == room.uri
        assert article["attributedTo"] == org_uri
        assert article["name"] == "Résolution : Une piste rue Haute"
        assert "Adoptée" in article["content"]
        # The room's follower receives the Create(Article), signed by velo
        await until(_arrived(lambda: _sent(peer, "Create", "Article")))
        [created] = _sent(peer, "Create", "Article")
        assert created["actor"] == org_uri
        assert created["object"]["id"] == resolution.uri
        assert instance.urls.room_followers(room.uri) in created["cc"]
        posted = next(p for p in peer.posted if b'"Article"' in p.body)
        await assert_signed_by(pool, posted, peer, "velo")
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM notifications WHERE kind = 'room_resolution'"
                )
                == 1
            )

        # When dominique creates an action from the resolution
        form = (
            await http.get(f"/rooms/{room.token}/actions/new?resolution={resolution.token}")
        ).text
        made = await http.post(
            f"/rooms/{room.token}/actions",
            data={
                "csrf_token": _csrf(form),
                "resolution": resolution.token,
                "title": "Acheter la peinture",
                "description": "Voir [le devis](https://example.org/devis).",
                "starts": "2027-03-01",
                "ends": "2027-03-31",
            },
        )
        assert made.status_code == 303, made.text
        action_path = made.headers["location"]
        task = await _task(pool, action_path)
        assert task.resolution_uri == resolution.uri
        # Then the follower receives the Page's Create: to do, nobody on it
        await until(_arrived(lambda: _sent(peer, "Create", "Page")))
        [page_create] = _sent(peer, "Create", "Page")
        assert page_create["object"]["kind"] == "Task"
        assert page_create["object"]["taskStatus"] == "todo"
        assert page_create["object"]["assignedTo"] == []
        assert page_create["object"]["resolution"] == resolution.uri
        assert page_create["object"]["context"] == room.uri
        assert page_create["object"]["endTime"] == "2027-03-31T00:00:00Z"
        assert "Statut : à faire · Assignée à personne" in page_create["object"]["content"]
        # When she takes it, then moves it on, then marks it done
        action_page = (await http.get(action_path)).text
        assert "Je m&#39;en occupe" in action_page or "Je m'en occupe" in action_page
        steps: list[tuple[str, dict[str, str]]] = [
            ("take", {}),
            ("status", {"status": "in_progress"}),
            ("status", {"status": "done"}),
        ]
        for number, (what, data) in enumerate(steps, start=1):
            token = _csrf((await http.get(action_path)).text)
            answer = await http.post(f"{action_path}/{what}", data={"csrf_token": token, **data})
            assert answer.status_code == 303, answer.text
            await until(_arrived(lambda: _sent(peer, "Update", "Page"), number))
        # Then the follower received Create then one Update per change, each with the new state
        updates = [u["object"] for u in _sent(peer, "Update", "Page")]
        me = instance.urls.actor("dominique")
        assert [(u["taskStatus"], u["assignedTo"]) for u in updates] == [
            ("todo", [me]),
            ("in_progress", [me]),
            ("done", [me]),
        ]
        assert "Statut : terminée · Assignée à @dominique" in updates[-1]["content"]
        # The room's page and the resolution's list the action
        assert "Acheter la peinture" in (await http.get(f"/rooms/{room.token}")).text
        assert "Acheter la peinture" in (await http.get(f"/resolutions/{resolution.token}")).text
        # A finished action cannot be taken again: a precise refusal
        token = _csrf((await http.get(action_path)).text)
        await http.post(f"{action_path}/leave", data={"csrf_token": token})
        refused = await http.post(f"{action_path}/take", data={"csrf_token": token})
        assert refused.status_code == 422
        assert "Cette action est terminée." in refused.text
        # When the undo of ana's Follow arrives, the room has no remote follower any more
        await ana.send(
            instance,
            {
                "type": "Undo",
                "object": {"id": follow_id, "type": "Follow", "actor": ana.uri, "object": room.uri},
            },
        )

        async def unfollowed() -> bool:
            async with pool.acquire() as conn:
                return await follow_ups.count_room_followers(conn, room.id) == 1

        await until(unfollowed)


def _arrived(get: Callable[[], list[Any]], count: int = 1) -> Callable[[], Awaitable[bool]]:
    """A predicate for `until`: at least `count` of what `get` reads now."""

    async def check() -> bool:
        return len(get()) >= count

    return check


async def _proposal(conn: Any, uri: str) -> Any:
    from fedicity.proposals import queries

    found = await queries.select_proposal(conn, uri)
    assert found is not None
    return found


async def _task(pool: Pool, path: str) -> Any:
    async with pool.acquire() as conn:
        found = await follow_ups.select_task_by_token(conn, path.rsplit("/", 1)[-1])
    assert found is not None
    return found
