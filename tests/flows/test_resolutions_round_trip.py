"""Ours -> ActivityStreams -> ours for what follows a vote: a resolution and an action published
by instance A reach instance B's inbox signed, go through B's worker and are stored and shown
there (beside the remote proposal), the action's changes and removal too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import actions, drafts, lifecycle, phases, rooms, votes
from fedicity.proposals import followup_queries as follow_ups
from fedicity.proposals.service import Env
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, eventually, running_instance


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def test_a_resolution_and_an_action_go_from_one_fedicity_to_another(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        running_instance(pool, tmp_path / "a", keygen, clock=clock) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
        httpx.AsyncClient(base_url=b.base, timeout=30) as http_b,
    ):
        env = Env(urls=a.urls, clock=clock, keygen=keygen)
        # Given camille, admin of the association velo on A, its room, and bea on B who follows
        # camille and velo
        camille = await _citizen(a, "camille", keygen)
        bea = await _citizen(b, "bea", keygen)
        async with a.pool.acquire() as conn:
            velo = await actor_service.create_organization(
                conn, "velo", organization_kind="association", keygen=keygen
            )
            await organization_queries.upsert_membership(
                conn,
                organization_id=velo.id,
                member_uri=a.urls.actor("camille"),
                state="accepted",
                role="admin",
                activity_uri=None,
                invited_by=None,
                now=clock.now(),
            )
            room = await rooms.create_room(
                conn, actor=camille, name="Pistes", description="", env=env, organization=velo
            )
        for followed in (a.urls.actor("camille"), a.urls.actor("velo")):
            assert not isinstance(await b.federation.directory.actor(followed), str)
            async with b.pool.acquire() as conn:
                await follows.follow(conn, actor=bea, target=followed, urls=b.urls, clock=b.clock)

        async def both_accepted() -> bool:
            async with b.pool.acquire() as conn:
                found = [
                    await follow_queries.select_follow(conn, b.urls.actor("bea"), uri)
                    for uri in (a.urls.actor("camille"), a.urls.actor("velo"))
                ]
            return all(f is not None and f.state == "accepted" for f in found)

        await eventually(both_accepted, within=20)

        # When camille's proposal in the room is voted and its vote's end passes on A
        async with a.pool.acquire() as conn:
            proposal = await lifecycle.open_voting(
                conn,
                actor=camille,
                proposal=await drafts.create_draft(
                    conn, actor=camille, title="Une piste", text="Rue Haute.", env=env, room=room
                ),
                ends=clock.now() + timedelta(minutes=5),
                env=env,
            )
            await votes.vote_locally(
                conn, actor=camille, proposal=proposal, options=["Pour"], env=env
            )
            clock.advance(timedelta(minutes=6))
            assert await phases.advance_due(conn, env) == 1
            ours = await follow_ups.select_resolution_of(conn, proposal.uri)
        assert ours is not None

        # Then B stores the resolution as A published it, beside the remote proposal
        async def resolution_arrived() -> bool:
            async with b.pool.acquire() as conn:
                return await follow_ups.select_resolution_of(conn, proposal.uri) is not None

        await eventually(resolution_arrived, within=20)
        async with b.pool.acquire() as conn:
            theirs = await follow_ups.select_resolution_of(conn, proposal.uri)
        assert theirs is not None
        assert theirs.uri == ours.uri
        assert not theirs.local
        assert (theirs.adopted, theirs.outcome) == (True, "adopted")
        assert theirs.tally == {"Pour": 1, "Contre": 0, "Abstention": 0}
        assert theirs.title == "Une piste"
        assert theirs.room_uri == room.uri
        assert theirs.attributed_to == a.urls.actor("velo")
        assert "Rue Haute." in theirs.content_html

        # When an action follows the resolution, taken by camille and moved on
        async with a.pool.acquire() as conn:
            task = await actions.create(
                conn,
                actor=camille,
                room=room,
                fields=actions.TaskFields(
                    "Écrire au maire", "Un **courrier**.", ends=clock.now() + timedelta(days=9)
                ),
                env=env,
                resolution=ours,
            )
            # (A's clock moves on between changes, as it would: B keeps the newest copy)
            clock.advance(timedelta(seconds=1))
            task = await actions.take(conn, actor=camille, task=task, env=env)
            clock.advance(timedelta(seconds=1))
            task = await actions.set_status(
                conn, actor=camille, task=task, status="in_progress", env=env
            )

        # Then B keeps the action with its last status and who took it
        async def moved_on() -> bool:
            async with b.pool.acquire() as conn:
                found = await follow_ups.select_task(conn, task.uri)
            return found is not None and found.status == "in_progress"

        await eventually(moved_on, within=20)
        async with b.pool.acquire() as conn:
            stored = await follow_ups.select_task(conn, task.uri)
        assert stored is not None
        assert not stored.local
        assert stored.assignees == (a.urls.actor("camille"),)
        assert stored.room_uri == room.uri
        assert stored.title == "Écrire au maire"
        assert "<strong>courrier</strong>" in stored.description_html
        assert stored.ends == task.ends
        assert stored.resolution_uri == ours.uri
        # ... and shows the proposal's resolution on its proposals' page
        page = (await http_b.get("/proposals")).text
        assert "Une piste" in page
        assert "Résolution : Une piste" in page
        assert "Adoptée" in page
        assert "Écrire au maire" in page
        assert "En cours" in page

        # When the action is removed on A, B removes it too
        async with a.pool.acquire() as conn:
            await actions.remove(conn, actor=camille, task=task, env=env)

        async def removed() -> bool:
            async with b.pool.acquire() as conn:
                return await follow_ups.select_task(conn, task.uri) is None

        await eventually(removed, within=20)
