"""A citizen's dashboard shows their rooms' open proposals, the votes they may still cast and
the actions they took or nobody took, each with its deadline (and says what to do when empty);
the action form refuses hostile input with a precise status and message, creating nothing. A
resident's rooms are those of their territory and above, where the territory's actor speaks."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import (
    actions,
    drafts,
    followup_queries,
    lifecycle,
    room_follows,
    rooms,
    votes,
)
from fedicity.proposals.models import Room
from fedicity.proposals.service import Env, ProposalError
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.territory_helpers import import_slice

URLS = Urls("http://fedicity.test")
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _citizen(conn: Connection, keygen: FixedKeys, name: str) -> Actor:
    account = await accounts.register(conn, username=name, password=PASSWORD, keygen=keygen)
    found = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert found is not None
    return found


async def _org(
    conn: Connection, keygen: FixedKeys, name: str, admin: Actor, members: list[Actor], env: Env
) -> tuple[Actor, Room]:
    org = await actor_service.create_organization(
        conn, name, organization_kind="association", keygen=keygen
    )
    for who, role in [(admin, "admin"), *((m, "member") for m in members)]:
        await organization_queries.upsert_membership(
            conn,
            organization_id=org.id,
            member_uri=URLS.actor(who.username),
            state="accepted",
            role=role,
            activity_uri=None,
            invited_by=None,
            now=env.clock.now(),
        )
    room = await rooms.create_room(
        conn,
        actor=admin,
        name=f"Salon {name}",
        description="",
        env=env,
        organization=org,
        members_only=True,
    )
    return org, room


async def _vote(
    conn: Connection, who: Actor, room: Room, title: str, env: Env, **extra: Any
) -> Any:
    draft = await drafts.create_draft(
        conn, actor=who, title=title, text="", env=env, room=room, **extra
    )
    return await lifecycle.open_voting(
        conn, actor=who, proposal=draft, ends=env.clock.now() + timedelta(days=3), env=env
    )


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    answer = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": username, "password": PASSWORD}
    )
    assert answer.status_code == 303
    found = _CSRF.search(await (await client.get("/settings")).get_data(as_text=True))
    assert found is not None
    return found.group(1)


async def _text(client: TestClientProtocol, path: str) -> str:
    answer = await client.get(path)
    assert answer.status_code == 200, path
    return await answer.get_data(as_text=True)


async def test_the_dashboard_lists_what_waits_for_me_and_the_action_form_refuses_attacks(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = Env(urls=URLS, clock=clock, keygen=keygen)
    async with pool.acquire() as conn:
        camille = await _citizen(conn, keygen, "camille")
        dominique = await _citizen(conn, keygen, "dominique")
        await _citizen(conn, keygen, "eve")
        # Given dominique, member of velo, and a room of autre, which she is not a member of
        _velo, velo_room = await _org(conn, keygen, "velo", camille, [dominique], env)
        autre, autre_room = await _org(conn, keygen, "autre", camille, [], env)
        open_room = await rooms.create_room(
            conn, actor=camille, name="Ouvert", description="", env=env, organization=autre
        )
        to_cast = await _vote(conn, camille, velo_room, "Vote à exprimer", env)
        already = await _vote(conn, camille, velo_room, "Déjà voté", env)
        await votes.vote_locally(conn, actor=dominique, proposal=already, options=["Pour"], env=env)
        elsewhere = await _vote(conn, camille, open_room, "Ailleurs", env)
        members_only = await _vote(
            conn,
            camille,
            open_room,
            "Réservé aux membres",
            env,
            electorate="members",
            organization_uri=URLS.actor("autre"),
        )
        mine = await actions.create(
            conn,
            actor=camille,
            room=velo_room,
            fields=actions.TaskFields("Ma tâche", ends=clock.now() + timedelta(days=5)),
            env=env,
        )
        await actions.take(conn, actor=dominique, task=mine, env=env)
        await actions.create(
            conn, actor=camille, room=velo_room, fields=actions.TaskFields("Libre"), env=env
        )
        finished = await actions.create(
            conn, actor=camille, room=velo_room, fields=actions.TaskFields("Finie"), env=env
        )
        await actions.set_status(conn, actor=camille, task=finished, status="done", env=env)

    # A visitor is sent to the login page
    assert (await client.get("/dashboard")).status_code == 303
    # Then eve, in no room, is told what to do
    await _log_in(client, "eve")
    empty = await _text(client, "/dashboard")
    assert "Aucun vote ne vous attend" in empty
    assert "Vous ne vous occupez d'aucune action" in empty
    await client.post("/logout", form={"csrf_token": _CSRF.search(empty).group(1)})  # type: ignore[union-attr]

    # When dominique opens her dashboard
    token = await _log_in(client, "dominique")
    board = await _text(client, "/dashboard")
    votes_part, rest = board.split("Les propositions ouvertes de mes espaces", 1)
    proposals_part, rest = rest.split("Les actions dont je m", 1)
    mine_part, untaken_part = rest.split("que personne n", 1)
    # Then the vote she has not cast is there with its end, the one she cast is not
    assert "Vote à exprimer" in votes_part
    assert "Déjà voté" not in votes_part
    assert (to_cast.voting_ends.strftime("%Y-%m-%d")) in votes_part
    # ... both are among her rooms' open proposals; the other organisation's are not
    assert "Vote à exprimer" in proposals_part
    assert "Déjà voté" in proposals_part
    assert "Ailleurs" not in board
    # ... the action she took, with its end; the one nobody took; not the finished one
    assert "Ma tâche" in mine_part
    assert (mine.ends.strftime("%Y-%m-%d") if mine.ends else "") in mine_part
    assert "Libre" in untaken_part
    assert "Ma tâche" not in untaken_part
    assert "Finie" not in board
    # When she follows the other organisation's open room
    async with pool.acquire() as conn:
        await room_follows.follow(conn, room=open_room, actor=dominique, env=env)
    board = await _text(client, "/dashboard")
    votes_part = board.split("Les propositions ouvertes de mes espaces", 1)[0]
    # Then its proposals show, but only the vote she may cast is to cast
    assert "Ailleurs" in votes_part
    assert "Réservé aux membres" not in votes_part
    assert "Réservé aux membres" in board
    assert elsewhere.uri != members_only.uri
    # The main navigation links the dashboard
    assert 'href="http://fedicity.test/dashboard"' in board

    # When she sends hostile input to the action form
    path = f"/rooms/{velo_room.token}/actions"
    good = {"csrf_token": token, "title": "Peindre", "description": "", "starts": "", "ends": ""}
    attacks: list[tuple[dict[str, str], int, str]] = [
        ({"description": "[clic](javascript:alert(1))"}, 422, "adresses web"),
        ({"description": "<a href='JaVaScRiPt:x'>a</a>"}, 422, "adresses web"),
        ({"starts": "2027-05-02", "ends": "2027-05-01"}, 422, "finir avant de commencer"),
        ({"title": "x" * 10_000}, 422, "titre de 200"),
        ({"title": "   "}, 422, "titre de 200"),
        # A NUL anywhere in a form is refused before it reaches the action (400)
        ({"title": "Pein\x00dre"}, 400, ""),
        ({"ends": "99999-01-01"}, 422, "de 1970 à 2200"),
        ({"ends": "1900-01-01"}, 422, "de 1970 à 2200"),
        ({"starts": "demain"}, 422, "de 1970 à 2200"),
    ]
    for change, status, words in attacks:
        answer = await client.post(path, form={**good, **change})
        assert answer.status_code == status, change
        assert words in await answer.get_data(as_text=True), change
    # ... an unknown status, a stranger's members-only room, a resolution that is not one
    answer = await client.post(
        f"/actions/{mine.token}/status", form={"csrf_token": token, "status": "bof"}
    )
    assert answer.status_code == 422
    assert "à faire, en cours, terminée ou abandonnée" in await answer.get_data(as_text=True)
    answer = await client.post(f"/rooms/{autre_room.token}/actions", form=good)
    assert answer.status_code == 403
    answer = await client.post(path, form={**good, "resolution": "nope"})
    assert answer.status_code == 404
    # Then nothing was created and the action kept its status
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM actions") == 3
        assert await conn.fetchval("SELECT status FROM actions WHERE id = $1", mine.id) == "todo"


async def test_a_residents_rooms_are_those_of_their_territory_and_above_and_speak_as_it(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path, settings: Settings
) -> None:
    await import_slice(pool, tmp_path)
    served = dataclasses.replace(settings, territory_level="region", territory_code="11")
    assert await territory_service.prepare_serving(pool, served) is not None
    async with pool.acquire() as conn:
        region = await territory_queries.select_territory(conn, "region", "11")
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        other = await territory_queries.select_territory(conn, "commune", "93006")
        assert region is not None
        assert montreuil is not None
        assert other is not None
        env = Env(urls=URLS, clock=clock, keygen=keygen, root=region)
        account = await accounts.register(
            conn, username="boss", password=PASSWORD, keygen=keygen, is_admin=True
        )
        boss = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert boss is not None
        resident = await _citizen(conn, keygen, "resident")
        await conn.execute(
            "UPDATE actors SET home_territory_id = $1 WHERE id = $2", montreuil.id, resident.id
        )
        made = {
            place.code: await rooms.create_room(
                conn,
                actor=boss,
                name=f"Salon {place.code}",
                description="",
                env=env,
                territory=place,
            )
            for place in (region, montreuil, other)
        }
        # Given a resident of Montreuil: the rooms of Montreuil and of its région are theirs,
        # not another commune's
        mine = await followup_queries.select_my_room_ids(conn, URLS.actor("resident"), montreuil.id)
        assert sorted(mine) == sorted([made["11"].id, made["93048"].id])
        # When a vote closes in Montreuil's room, the resolution speaks as Montreuil's actor and
        # any citizen here may act on it (a territory's room is open to every local account)
        proposal = await _vote(conn, boss, made["93048"], "Un banc place de la mairie", env)
        await votes.vote_locally(conn, actor=resident, proposal=proposal, options=["Pour"], env=env)
        await lifecycle.close(conn, actor=boss, proposal=proposal, env=env)
        resolution = await followup_queries.select_resolution_of(conn, proposal.uri)
        assert resolution is not None
        territory_actor = await actor_queries.select_territory_actor(conn, montreuil.id)
        assert territory_actor is not None
        assert resolution.attributed_to == URLS.actor(territory_actor.username)
        task = await actions.create(
            conn,
            actor=resident,
            room=made["93048"],
            fields=actions.TaskFields("Poser le banc"),
            env=env,
            resolution=resolution,
        )
        assert task.attributed_to == resolution.attributed_to
        created = await conn.fetchrow(
            "SELECT a.raw FROM outbox_activities a WHERE a.type = 'Create' AND a.object_uri = $1",
            task.uri,
        )
        assert created is not None
        assert created["raw"]["actor"] == resolution.attributed_to
        assert created["raw"]["object"]["resolution"] == resolution.uri
        # ... but not in another commune's room from this resolution
        other_room = made["93006"]
        with pytest.raises(ProposalError) as refused:
            await actions.create(
                conn,
                actor=resident,
                room=other_room,
                fields=actions.TaskFields("Ailleurs"),
                env=env,
                resolution=resolution,
            )
        assert refused.value.code == "resolution_unknown"
