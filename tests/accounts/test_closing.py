"""Closing an account: confirmed with the password, refused while one alone runs an
organisation, a signed Delete of the actor delivered to every server that knows it, a
tombstone here (410), nothing left of what the person made, the handle never given again."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from fedicity.accounts import queries as account_queries
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.media.service import file_path
from tests.accounts.helpers import (
    PASSWORD,
    assert_signed_by,
    csrf_in,
    log_in,
    picture,
    register,
    remote_follower,
)
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.peer import Peer, running_peer

AP = {"Accept": "application/activity+json"}


def _deletes(peer: Peer) -> list[dict[str, object]]:
    return [doc for doc in peer.received_json() if doc.get("type") == "Delete"]


async def _count(pool: Pool, sql: str, *args: object) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval(sql, *args)
    return value


async def test_closing_an_account_tells_every_server_and_leaves_a_tombstone(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as followers_server,
        running_peer() as followed_server,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as other,
    ):
        me = instance.urls.actor("camille")
        await register(pool, keygen, "camille", display_name="Camille")
        await register(pool, keygen, "dominique")
        # Given a follower on one server and someone she follows on another
        await remote_follower(pool, followers_server, "ana", fixed_keypairs()[-1], me)
        followed = await remote_follower(
            pool, followed_server, "bruno", fixed_keypairs()[-2], "http://elsewhere/x"
        )
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO follows (follower, followee, state, accepted_at)
                   VALUES ($1, $2, 'accepted', now())""",
                me,
                followed,
            )
        # And dominique's open organisation and event, which camille joined
        token = await log_in(other, "dominique")
        answer = await other.post(
            "/organizations",
            data={
                "csrf_token": token,
                "username": "jardin",
                "kind": "association",
                "display_name": "Jardin partagé",
                "membership_mode": "open",
            },
        )
        assert answer.status_code == 303, answer.text
        answer = await other.post(
            "/events",
            data={
                "csrf_token": token,
                "title": "Plantation",
                "starts_at": "2031-04-01T10:00",
                "ends_at": "2031-04-01T12:00",
                "timezone": "Europe/Paris",
                "place_name": "Jardin",
                "join_mode": "free",
            },
        )
        assert answer.status_code == 303, answer.text
        event = answer.headers["location"]
        token = await log_in(http, "camille")
        assert (
            await http.post("/organizations/jardin/join", data={"csrf_token": token})
        ).status_code == 303
        assert (
            await http.post(event + "/participate", data={"csrf_token": token})
        ).status_code == 303
        # And her post, and her avatar
        answer = await http.post("/notes", data={"csrf_token": token, "text": "Au revoir bientôt"})
        assert answer.status_code == 303
        answer = await http.post(
            "/settings",
            data={"csrf_token": token, "display_name": "Camille", "summary": ""},
            files={"avatar": ("moi.png", picture(300, 300, "JPEG"), "image/jpeg")},
        )
        assert answer.status_code == 303
        async with pool.acquire() as conn:
            actor = await actor_queries.select_actor_by_username(conn, "camille")
            assert actor is not None
            assert actor.avatar_name is not None
            post_uri = await conn.fetchval("SELECT uri FROM posts WHERE author_uri = $1", me)
        avatar_file = file_path(tmp_path, actor.avatar_name)
        assert avatar_file is not None
        assert avatar_file.is_file()
        assert await _count(pool, "SELECT count(*) FROM memberships WHERE member_uri = $1", me) == 1
        assert (
            await _count(pool, "SELECT count(*) FROM event_participations WHERE actor_uri = $1", me)
            == 1
        )
        # And her own lists: a server she blocks and an account she mutes
        async with pool.acquire() as conn:
            await follow_queries.insert_user_domain_block(
                conn, owner_id=actor.id, domain="spam.example", now=datetime.now(UTC)
            )
            await follow_queries.upsert_user_mute(
                conn,
                owner_id=actor.id,
                target=instance.urls.actor("dominique"),
                notifications=True,
                now=datetime.now(UTC),
            )

        # When she opens the confirmation page
        confirm = await http.get("/settings/delete")
        assert confirm.status_code == 200
        assert "nom d'utilisateur ne sera jamais attribué" in html.unescape(confirm.text)
        # And types a wrong password: nothing happens
        answer = await http.post(
            "/settings/delete", data={"csrf_token": token, "password": "pas le bon mot"}
        )
        assert answer.status_code == 422
        assert "Le mot de passe actuel est incorrect" in html.unescape(answer.text)
        assert (await http.get("/settings")).status_code == 200
        # And then her password
        answer = await http.post(
            "/settings/delete", data={"csrf_token": token, "password": PASSWORD}
        )
        assert answer.status_code == 200
        assert "Compte supprimé" in html.unescape(answer.text)

        # Then both servers receive a Delete of her actor, signed with her key
        await eventually(lambda: _both_told(followers_server, followed_server), within=20)
        for server in (followers_server, followed_server):
            post = next(p for p in server.posted if json.loads(p.body)["type"] == "Delete")
            await assert_signed_by(pool, post, server, "camille")
            delete = json.loads(post.body)
            assert delete["actor"] == me
            assert delete["object"] == me
            assert "https://www.w3.org/ns/activitystreams#Public" in delete["to"]
        # And her session has ended
        assert (await http.get("/settings")).status_code == 303
        # And her actor answers 410 with a Tombstone, her pages 410
        gone = await other.get(me, headers=AP)
        assert gone.status_code == 410
        tombstone = gone.json()
        assert tombstone["type"] == "Tombstone"
        assert tombstone["id"] == me
        assert tombstone["formerType"] == "Person"
        assert (await other.get(me)).status_code == 410
        assert (await other.get("/@camille")).status_code == 410
        assert (await other.get(post_uri, headers=AP)).status_code == 410
        # And nothing she made is left: post tombstoned, participation, membership, follows,
        # login, sessions and avatar file gone
        assert (
            await _count(
                pool, "SELECT count(*) FROM posts WHERE author_uri = $1 AND deleted_at IS NULL", me
            )
            == 0
        )
        assert await _count(pool, "SELECT count(*) FROM memberships WHERE member_uri = $1", me) == 0
        for table in ("user_blocks", "user_mutes", "user_domain_blocks", "hidden_boosts"):
            query = f"SELECT count(*) FROM {table} WHERE owner_id = $1"  # noqa: S608 (fixed names)
            assert await _count(pool, query, actor.id) == 0, table
        assert (
            await _count(pool, "SELECT count(*) FROM event_participations WHERE actor_uri = $1", me)
            == 0
        )
        assert (
            await _count(
                pool, "SELECT count(*) FROM follows WHERE follower = $1 OR followee = $1", me
            )
            == 0
        )
        assert (
            await _count(
                pool,
                """SELECT count(*) FROM accounts a JOIN actors t ON t.id = a.actor_id
                    WHERE t.username = 'camille'""",
            )
            == 0
        )
        assert await _count(pool, "SELECT count(*) FROM sessions") >= 1  # dominique's
        assert not avatar_file.exists()
        async with pool.acquire() as conn:
            assert await account_queries.select_account_by_login(conn, "camille") is None
            closed = await actor_queries.select_deleted_actor(conn, "camille")
        assert closed is not None
        assert closed.display_name == ""
        assert closed.avatar_name is None
        # And nobody can take her handle
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as newcomer:
            token = csrf_in((await newcomer.get("/signup")).text)
            answer = await newcomer.post(
                "/signup",
                data={
                    "csrf_token": token,
                    "username": "Camille",
                    "password": "une phrase encore plus longue",
                    "password_confirm": "une phrase encore plus longue",
                },
            )
        assert answer.status_code == 422
        assert "déjà pris" in html.unescape(answer.text)


async def _both_told(*servers: Peer) -> bool:
    return all(_deletes(server) for server in servers)


async def test_the_only_admin_of_an_organisation_must_name_another_first(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        await register(pool, keygen, "dominique")
        token = await log_in(http, "camille")
        answer = await http.post(
            "/organizations",
            data={
                "csrf_token": token,
                "username": "jardin",
                "kind": "association",
                "display_name": "Jardin partagé",
                "membership_mode": "open",
            },
        )
        assert answer.status_code == 303, answer.text
        # The settings page says why, and names the organisation
        page = html.unescape((await http.get("/settings")).text)
        assert "Vous êtes seul·e admin de ces organisations" in page
        assert "Jardin partagé" in page
        assert 'href="/settings/delete"' not in page
        # A POST all the same is refused, with the reason, and nothing is closed
        answer = await http.post(
            "/settings/delete", data={"csrf_token": token, "password": PASSWORD}
        )
        assert answer.status_code == 409
        assert "nommez un·e autre admin" in html.unescape(answer.text)
        assert (await http.get("/settings")).status_code == 200
        # Once dominique is an admin too, camille may go
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as other:
            other_token = await log_in(other, "dominique")
            joined = await other.post(
                "/organizations/jardin/join", data={"csrf_token": other_token}
            )
            assert joined.status_code == 303
        answer = await http.post(
            "/organizations/jardin/role",
            data={"csrf_token": token, "member": instance.urls.actor("dominique"), "role": "admin"},
        )
        assert answer.status_code == 303, answer.text
        answer = await http.post(
            "/settings/delete", data={"csrf_token": token, "password": PASSWORD}
        )
        assert answer.status_code == 200
        assert (await http.get(instance.urls.actor("camille"), headers=AP)).status_code == 410
        # The organisation lives on with its other admin
        assert (await http.get("/organizations/jardin")).status_code == 200


async def test_closing_needs_a_login_and_the_form_token(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        answer = await http.get("/settings/delete")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")
        await log_in(http, "camille")
        answer = await http.post("/settings/delete", data={"password": PASSWORD})
        assert answer.status_code == 400
        assert (await http.get(instance.urls.actor("camille"), headers=AP)).status_code == 200
