"""Rooms, federated comments with a stance, attachments and the proposal's organisation: each
test tries to break one rule (the instance serves région 11 where a territory is needed)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import queries as follow_queries
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import comments, drafts, lifecycle, queries, rooms
from fedicity.proposals import parse as proposals_parse
from fedicity.proposals import service as proposals
from fedicity.proposals.models import Attachment, Proposal, Room
from fedicity.proposals.service import Env, ProposalError
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FIXTURES, FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.territory_helpers import import_slice
from tests.web.test_paging import flat, walk

URLS = Urls("http://fedicity.test")
RIN = "https://mastodon.sdf.org/users/rinpatch"
KEY = fixed_keypairs()[2]
OTHER = "https://other.example/users/eve"
OTHER_KEY = fixed_keypairs()[3]
PASSWORD = "correct horse battery staple"


def _env(clock: FrozenClock, keygen: FixedKeys, root: Any = None) -> Env:
    return Env(urls=URLS, clock=clock, keygen=keygen, root=root)


async def _citizen(conn: Connection, keygen: FixedKeys, name: str, *, admin: bool = False) -> Actor:
    account = await accounts.register(
        conn, username=name, password=PASSWORD, keygen=keygen, is_admin=admin
    )
    from fedicity.actors import queries as actor_queries

    found = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert found is not None
    return found


async def _member(
    conn: Connection, org: Actor, who: Actor, clock: FrozenClock, role: str = "member"
) -> None:
    await organization_queries.upsert_membership(
        conn,
        organization_id=org.id,
        member_uri=URLS.actor(who.username),
        state="accepted",
        role=role,
        activity_uri=None,
        invited_by=None,
        now=clock.now(),
    )


async def _org(conn: Connection, keygen: FixedKeys, name: str = "asso") -> Actor:
    return await actor_service.create_organization(
        conn, name, organization_kind="association", keygen=keygen
    )


async def _open(
    conn: Connection, clock: FrozenClock, keygen: FixedKeys, author: Actor, **settings: Any
) -> Proposal:
    env = _env(clock, keygen)
    draft = await drafts.create_draft(
        conn, actor=author, title="Un jardin", text="Rue de Paris.", env=env, **settings
    )
    return await lifecycle.open_voting(
        conn, actor=author, proposal=draft, ends=clock.now() + timedelta(days=7), env=env
    )


async def _code(awaitable: Any) -> str:
    with pytest.raises(ProposalError) as refused:
        await awaitable
    return refused.value.code


# -- rooms ---------------------------------------------------------------------------------------


async def test_only_an_organisations_admins_open_and_archive_its_rooms(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        admin = await _citizen(conn, keygen, "camille")
        member = await _citizen(conn, keygen, "dominique")
        org = await _org(conn, keygen)
        await _member(conn, org, admin, clock, "admin")
        await _member(conn, org, member, clock)
        assert (
            await _code(
                rooms.create_room(
                    conn, actor=member, name="Vélo", description="", env=env, organization=org
                )
            )
            == "not_allowed"
        )
        assert (
            await _code(
                rooms.create_room(
                    conn, actor=admin, name="  ", description="", env=env, organization=org
                )
            )
            == "room_name_invalid"
        )
        # A person is not an organisation
        assert (
            await _code(
                rooms.create_room(
                    conn, actor=admin, name="R", description="", env=env, organization=member
                )
            )
            == "room_owner"
        )
        room = await rooms.create_room(
            conn, actor=admin, name="Vélo", description="Pistes", env=env, organization=org
        )
        assert room.open
        assert room.description_html == "<p>Pistes</p>\n"
        assert (
            await _code(rooms.set_status(conn, actor=member, room=room, status="archived", env=env))
            == "not_allowed"
        )
        assert (
            await _code(rooms.set_status(conn, actor=admin, room=room, status="gone", env=env))
            == "room_status_invalid"
        )
        archived = await rooms.set_status(conn, actor=admin, room=room, status="archived", env=env)
        assert archived.status == "archived"
        # An archived room takes no new proposal
        assert (
            await _code(
                drafts.create_draft(conn, actor=admin, title="T", text="", env=env, room=archived)
            )
            == "room_archived"
        )


async def test_territory_rooms_belong_to_instance_admins_and_served_territories(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path, settings: Settings
) -> None:
    await import_slice(pool, tmp_path)
    served = dataclasses.replace(settings, territory_level="region", territory_code="11")
    assert await territory_service.prepare_serving(pool, served) is not None
    async with pool.acquire() as conn:
        root = await territory_queries.select_territory(conn, "region", "11")
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        other = await territory_queries.select_territory(conn, "commune", "93006")
        france = await territory_queries.select_territory(conn, "country", "FR")
        assert other is not None
        assert france is not None
        assert root is not None
        assert montreuil is not None
        env = _env(clock, keygen, root)
        citizen = await _citizen(conn, keygen, "camille")
        boss = await _citizen(conn, keygen, "boss", admin=True)
        assert (
            await _code(
                rooms.create_room(
                    conn, actor=citizen, name="Parcs", description="", env=env, territory=montreuil
                )
            )
            == "not_allowed"
        )
        # Only an organisation's room is for its members
        assert (
            await _code(
                rooms.create_room(
                    conn,
                    actor=boss,
                    name="Parcs",
                    description="",
                    env=env,
                    territory=montreuil,
                    members_only=True,
                )
            )
            == "room_owner"
        )
        # France is above the served région
        assert (
            await _code(
                rooms.create_room(
                    conn, actor=boss, name="P", description="", env=env, territory=france
                )
            )
            == "territory_unknown"
        )
        room = await rooms.create_room(
            conn, actor=boss, name="Parcs", description="", env=env, territory=montreuil
        )
        assert await rooms.may_manage(conn, room, boss, env)
        assert not await rooms.may_manage(conn, room, citizen, env)
        # A proposal in the room is in its territory
        draft = await drafts.create_draft(
            conn, actor=citizen, title="Un banc", text="", env=env, room=room
        )
        assert draft.territory_id == montreuil.id
        assert draft.room_id == room.id
        # A place outside the room's territory is refused
        assert (
            await _code(
                drafts.create_draft(
                    conn, actor=citizen, title="T", text="", env=env, room=room, territory=other
                )
            )
            == "room_territory"
        )
        document = await rooms.document(conn, room, env)
        assert document["type"] == "Room"
        assert document["attributedTo"] == "http://fedicity.test/actors/montreuil"


async def test_a_room_gives_its_organisation_and_members_only_rooms_keep_others_out(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        admin = await _citizen(conn, keygen, "camille")
        member = await _citizen(conn, keygen, "dominique")
        outsider = await _citizen(conn, keygen, "eve")
        org = await _org(conn, keygen)
        other_org = await _org(conn, keygen, "autre")
        await _member(conn, org, admin, clock, "admin")
        await _member(conn, org, member, clock)
        await _member(conn, other_org, member, clock, "admin")
        room = await rooms.create_room(
            conn,
            actor=admin,
            name="Bureau",
            description="",
            env=env,
            organization=org,
            members_only=True,
        )
        # A member (not an admin) writes in the room: the proposal belongs to the organisation
        proposal = await _open(conn, clock, keygen, member, room=room, electorate="members")
        assert proposal.organization_uri == URLS.actor("asso")
        # ... but not in the name of another organisation
        assert (
            await _code(
                drafts.create_draft(
                    conn,
                    actor=member,
                    title="T",
                    text="",
                    env=env,
                    room=room,
                    organization_uri=URLS.actor("autre"),
                )
            )
            == "organization_invalid"
        )
        # Outsiders neither write nor comment in a members-only room
        assert (
            await _code(
                drafts.create_draft(conn, actor=outsider, title="T", text="", env=env, room=room)
            )
            == "room_members_only"
        )
        assert (
            await _code(
                comments.comment(
                    conn, actor=outsider, proposal=proposal, stance="for", text="Oui", env=env
                )
            )
            == "room_members_only"
        )
        assert (
            await _code(
                comments.receive_comment(
                    conn,
                    proposal=proposal,
                    author_uri=RIN,
                    stance="for",
                    content_html="<p>Oui</p>",
                    uri=RIN + "/statuses/1",
                    published=None,
                    env=env,
                )
            )
            == "room_members_only"
        )
        await comments.comment(
            conn, actor=member, proposal=proposal, stance="for", text="Oui", env=env
        )
        document = await proposals.question(conn, proposal, env)
        assert document["room"] == {"id": room.uri, "type": "Room", "name": "Bureau"}
        assert document["context"] == URLS.actor("asso")
        listed = await queries.select_room_proposals(conn, room.id, limit=10)
        assert [p.uri for p in listed] == [proposal.uri]


async def test_the_room_of_a_remote_question_is_read_back_from_its_host_only(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        org = await _org(conn, keygen)
        await _member(conn, org, author, clock, "admin")
        room = await rooms.create_room(
            conn,
            actor=author,
            name="Vélo",
            description="",
            env=_env(clock, keygen),
            organization=org,
        )
        proposal = await _open(conn, clock, keygen, author, room=room)
        document = await proposals.question(conn, proposal, _env(clock, keygen))
    parsed = proposals_parse.from_ap(document, author=proposal.author_uri, now=clock.now())
    assert not isinstance(parsed, str)
    assert (parsed.room_uri, parsed.room_name) == (room.uri, "Vélo")
    forged = {**document, "room": {"id": "https://elsewhere.example/rooms/x", "name": "X"}}
    parsed = proposals_parse.from_ap(forged, author=proposal.author_uri, now=clock.now())
    assert not isinstance(parsed, str)
    assert parsed.room_uri is None


# -- the proposal's organisation -----------------------------------------------------------------


async def test_a_proposal_belongs_only_to_an_organisation_its_author_administers(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        org = await _org(conn, keygen)
        await _member(conn, org, author, clock)  # a member, not an admin
        for uri in (URLS.actor("asso"), "https://asso.example/actors/asso", URLS.actor("camille")):
            assert (
                await _code(
                    drafts.create_draft(
                        conn, actor=author, title="T", text="", env=env, organization_uri=uri
                    )
                )
                == "organization_invalid"
            )
        await _member(conn, org, author, clock, "admin")
        assert [o.username for o in await drafts.admin_organizations(conn, author, URLS)] == [
            "asso"
        ]
        draft = await drafts.create_draft(
            conn,
            actor=author,
            title="T",
            text="",
            env=env,
            organization_uri=URLS.actor("asso"),
            electorate="members",
        )
        assert draft.organization_uri == URLS.actor("asso")


# -- attachments ---------------------------------------------------------------------------------


async def test_attachments_are_named_web_links_at_most_ten(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        for links, code in (
            ([("javascript:alert(1)", "x")], "attachment_invalid"),
            ([("ftp://example.org/plan.pdf", "Plan")], "attachment_invalid"),
            ([("https://", "Plan")], "attachment_invalid"),
            ([("https://example.org/plan.pdf", "  ")], "attachment_invalid"),
            ([(f"https://example.org/{n}", f"L{n}") for n in range(11)], "attachments_too_many"),
        ):
            assert (
                await _code(
                    drafts.create_draft(
                        conn, actor=author, title="T", text="", env=env, attachments=links
                    )
                )
                == code
            )
        proposal = await _open(
            conn,
            clock,
            keygen,
            author,
            attachments=[(f"https://example.org/{n}", f"Lien {n}") for n in range(10)],
        )
        assert len(proposal.attachments) == 10
        document = await proposals.question(conn, proposal, env)
    assert document["attachment"][0] == {
        "type": "Link",
        "href": "https://example.org/0",
        "name": "Lien 0",
    }
    parsed = proposals_parse.from_ap(document, author=proposal.author_uri, now=clock.now())
    assert not isinstance(parsed, str)
    assert parsed.attachments == proposal.attachments
    # From a remote Question: only http(s) Links, at most ten
    remote = {
        **document,
        "attachment": [
            {"type": "Link", "href": "javascript:alert(1)", "name": "x"},
            {"type": "Document", "url": "https://example.org/a.png"},
            *document["attachment"],
            {"type": "Link", "href": "https://example.org/11", "name": "Onze"},
        ],
    }
    parsed = proposals_parse.from_ap(remote, author=proposal.author_uri, now=clock.now())
    assert not isinstance(parsed, str)
    assert len(parsed.attachments) == 10
    assert parsed.attachments[0] == Attachment(href="https://example.org/0", name="Lien 0")


# -- comments ------------------------------------------------------------------------------------


async def test_a_local_comment_goes_out_as_a_note_with_its_stance(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    env = _env(clock, keygen)
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        critic = await _citizen(conn, keygen, "dominique")
        await follow_queries.upsert_follow(
            conn,
            follower=RIN,
            followee=URLS.actor("camille"),
            activity_uri=None,
            accepted=True,
            now=clock.now(),
        )
        draft = await drafts.create_draft(conn, actor=author, title="T", text="", env=env)
        # Not while a draft, nor with an unknown stance
        assert (
            await _code(
                comments.comment(
                    conn, actor=critic, proposal=draft, stance="against", text="Non", env=env
                )
            )
            == "wrong_state"
        )
        proposal = await _open(conn, clock, keygen, author)
        assert (
            await _code(
                comments.comment(
                    conn, actor=critic, proposal=proposal, stance="maybe", text="Non", env=env
                )
            )
            == "stance_invalid"
        )
        comment = await comments.comment(
            conn, actor=critic, proposal=proposal, stance="against", text="Non", env=env
        )
        row = await conn.fetchrow(
            """SELECT o.raw, array_agg(d.inbox) AS inboxes FROM outbox_activities o
                 LEFT JOIN deliveries d ON d.activity_id = o.id
                WHERE o.uri = $1 GROUP BY o.raw""",
            comment.uri + "/activity",
        )
        assert row is not None
        note = row["raw"]["object"]
        assert note["inReplyTo"] == proposal.uri
        assert note["stance"] == "against"
        assert note["cc"] == [URLS.actor_followers("camille"), URLS.actor("camille")]
        assert "https://mastodon.sdf.org/inbox" in row["inboxes"]  # the author's follower
        # The author (local) gets it in their mailbox
        assert await conn.fetchval(
            "SELECT count(*) FROM inbox_items WHERE activity_uri = $1", comment.uri + "/activity"
        )
        document = await proposals.question(conn, proposal, env)
    assert document["replies"]["totalItems"] == 1
    assert document["replies"]["items"][0]["id"] == comment.uri
    assert document["replies"]["items"][0]["stance"] == "against"


def _reply(proposal: Proposal, n: int, **extra: Any) -> dict[str, Any]:
    activity = dict(json.loads((FIXTURES / "inbound" / "mastodon_create_note_1.json").read_text()))
    note = {
        **activity["object"],
        "id": f"{RIN}/statuses/{n}",
        "attributedTo": RIN,
        "inReplyTo": proposal.uri,
        "content": "<p>Bonne idée <script>x</script></p>",
        "tag": [],
        **extra,
    }
    return {**activity, "id": f"{RIN}/statuses/{n}/activity", "actor": RIN, "object": note}


async def _deliver(
    app: Quart,
    client: TestClientProtocol,
    pool: Pool,
    clock: FrozenClock,
    activity: Any,
    *,
    signer: str = RIN,
) -> tuple[str, str]:
    keypair = OTHER_KEY if signer == OTHER else KEY
    response = await post_signed(
        client, "/inbox", activity, key_id=signer + "#main-key", keypair=keypair, now=clock.now()
    )
    assert response.status_code == 202
    app_state: AppState = app.extensions["fedicity"]
    await process_batch(pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, coalesce(last_error, '') AS e FROM inbox_items WHERE activity_uri = $1",
            activity["id"],
        )
    assert row is not None
    return row["state"], row["e"]


async def test_remote_comments_mastodon_replies_are_neutral_and_votes_are_not_comments(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        proposal = await _open(conn, clock, keygen, author)
    # A Mastodon reply (no fc:stance): a neutral comment, sanitized
    assert await _deliver(app, client, pool, clock, _reply(proposal, 1)) == ("done", "")
    # A fedicity comment with its stance; an unknown stance reads as neutral
    assert await _deliver(app, client, pool, clock, _reply(proposal, 2, stance="for")) == (
        "done",
        "",
    )
    assert await _deliver(app, client, pool, clock, _reply(proposal, 3, stance="bof")) == (
        "done",
        "",
    )
    # The same Note again is not a second comment
    again = {**_reply(proposal, 2, stance="for"), "id": f"{RIN}/statuses/2/again"}
    state, detail = await _deliver(app, client, pool, clock, again)
    assert state == "ignored"
    assert "already known" in detail
    # Someone else's Note relayed by RIN is refused
    forged = _reply(proposal, 4, attributedTo="https://mastodon.sdf.org/users/other")
    state, detail = await _deliver(app, client, pool, clock, forged)
    assert state == "ignored"
    assert "author" in detail
    # A Mastodon vote (a name, no content) is a ballot, not a comment
    vote = _reply(proposal, 5, name="Pour", content=None)
    del vote["object"]["content"]
    assert await _deliver(app, client, pool, clock, vote) == ("done", "")
    async with pool.acquire() as conn:
        comments = await queries.select_comments(conn, proposal.id, limit=10)
        assert [(c.stance, c.local) for c in comments] == [
            ("neutral", False),
            ("for", False),
            ("neutral", False),
        ]
        assert "<script>" not in comments[0].content_html
        assert (await queries.tally(conn, proposal.id)).federated == {"Pour": 1}
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0
        update = await conn.fetchval(
            """SELECT raw FROM outbox_activities WHERE type = 'Update'
                ORDER BY id DESC LIMIT 1"""
        )
    assert update["object"]["replies"]["totalItems"] == 3
    # Once closed, comments are refused
    async with pool.acquire() as conn:
        await lifecycle.close(conn, actor=author, proposal=proposal, env=_env(clock, keygen))
    state, detail = await _deliver(app, client, pool, clock, _reply(proposal, 6))
    assert state == "ignored"
    assert "comments are open" in detail
    # The replies collection and a comment's Note are served
    token = proposal.token
    response = await client.get(
        f"/proposals/{token}/replies", headers={"Accept": "application/activity+json"}
    )
    assert json.loads(await response.get_data(as_text=True))["totalItems"] == 3


async def test_rooms_by_room_page_and_json_ld(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        org = await _org(conn, keygen)
        await _member(conn, org, author, clock, "admin")
        room: Room = await rooms.create_room(
            conn,
            actor=author,
            name="Vélo",
            description="",
            env=_env(clock, keygen),
            organization=org,
        )
        await _open(conn, clock, keygen, author, room=room)
        await drafts.create_draft(
            conn,
            actor=author,
            title="Brouillon secret",
            text="",
            env=_env(clock, keygen),
            room=room,
        )
    page = await (
        await client.get(f"/rooms/{room.token}", headers={"Accept": "text/html"})
    ).get_data(as_text=True)
    assert "Un jardin" in page
    assert "Brouillon secret" not in page
    document = json.loads(
        await (
            await client.get(
                f"/rooms/{room.token}", headers={"Accept": "application/activity+json"}
            )
        ).get_data(as_text=True)
    )
    assert document["type"] == "Room"
    assert document["attributedTo"] == URLS.actor("asso")
    assert (await client.get("/rooms/nope")).status_code == 404


def _edit(proposal: Proposal, n: int, number: int, *, actor: str = RIN, **extra: Any) -> Any:
    created = _reply(proposal, n, **extra)
    return {
        **created,
        "id": f"{actor}/edits/{number}",
        "type": "Update",
        "actor": actor,
        "object": {**created["object"], "updated": "2026-01-02T10:00:00Z"},
    }


def _delete(uri: str, number: int, *, actor: str = RIN, tombstone: bool = False) -> Any:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/deletes/{number}",
        "type": "Delete",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": uri, "type": "Tombstone"} if tombstone else uri,
    }


async def _question_updates(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT raw FROM outbox_activities WHERE type = 'Update' ORDER BY id"
        )
    return [row["raw"] for row in rows if row["raw"]["object"]["type"] == "Question"]


async def _replies(client: TestClientProtocol, proposal: Proposal) -> dict[str, Any]:
    response = await client.get(
        f"/proposals/{proposal.token}/replies", headers={"Accept": "application/activity+json"}
    )
    found: dict[str, Any] = json.loads(await response.get_data(as_text=True))
    return found


async def test_a_remote_comment_is_edited_by_its_author_only(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    await seed_remote_actor(pool, OTHER, OTHER_KEY, clock.now())
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        critic = await _citizen(conn, keygen, "dominique")
        proposal = await _open(conn, clock, keygen, author)
        local = await comments.comment(
            conn, actor=critic, proposal=proposal, stance="for", text="Oui", env=_env(clock, keygen)
        )
    assert await _deliver(app, client, pool, clock, _reply(proposal, 1, stance="for")) == (
        "done",
        "",
    )
    before = len(await _question_updates(pool))
    # Rin changes her mind: text (sanitized) and stance replaced, one Update(Question) out
    edit = _edit(proposal, 1, 1, stance="against", content="<p>Non <script>x</script>merci</p>")
    assert await _deliver(app, client, pool, clock, edit) == ("done", "")
    updates = await _question_updates(pool)
    assert len(updates) == before + 1
    [item] = [
        i for i in updates[-1]["object"]["replies"]["items"] if i["id"] == edit["object"]["id"]
    ]
    assert (item["stance"], item["content"]) == ("against", "<p>Non merci</p>")
    async with pool.acquire() as conn:
        comment = await queries.select_comment(conn, edit["object"]["id"])
        assert comment is not None
        assert (comment.stance, comment.content_html, comment.local) == (
            "against",
            "<p>Non merci</p>",
            False,
        )
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0
    replies = await _replies(client, proposal)
    assert replies["totalItems"] == 2
    assert "<p>Non merci</p>" in [i["content"] for i in replies["items"]]
    # The same edit again changes nothing and sends nothing
    state, detail = await _deliver(
        app, client, pool, clock, _edit(proposal, 1, 2, **edit["object"])
    )
    assert (state, "unchanged" in detail) == ("ignored", True)
    # Without fc:stance (a Mastodon edit) the stance reads neutral, as for a new comment
    plain = _edit(proposal, 1, 3, content="<p>Bof</p>")
    assert await _deliver(app, client, pool, clock, plain) == ("done", "")
    # Eve rewrites Rin's comment, as herself or pretending the Note is still Rin's: ignored
    forged = _edit(proposal, 1, 4, actor=OTHER, content="<p>Vendu</p>", stance="for")
    forged_as_own = {**forged, "id": f"{OTHER}/edits/5"}
    forged_as_own["object"] = {**forged["object"], "attributedTo": OTHER}
    for attempt in (forged, forged_as_own):
        state, detail = await _deliver(app, client, pool, clock, attempt, signer=OTHER)
        assert state == "ignored"
        assert "only the comment's author" in detail
    # ... nor Rin a local comment, nor Rin a Note she says is Eve's
    on_local = {**_edit(proposal, 1, 6, content="<p>Vendu</p>"), "id": f"{RIN}/edits/6"}
    on_local["object"] = {**on_local["object"], "id": local.uri, "attributedTo": local.author_uri}
    state, detail = await _deliver(app, client, pool, clock, on_local)
    assert (state, "only the comment's author" in detail) == ("ignored", True)
    # An edit that empties the comment is refused
    empty = _edit(proposal, 1, 7, content="<p> </p>")
    state, detail = await _deliver(app, client, pool, clock, empty)
    assert (state, "comment edit refused" in detail) == ("ignored", True)
    async with pool.acquire() as conn:
        comment = await queries.select_comment(conn, edit["object"]["id"])
        kept = await queries.select_comment(conn, local.uri)
    assert comment is not None
    assert kept is not None
    assert (comment.stance, comment.content_html) == ("neutral", "<p>Bof</p>")
    assert kept.content_html == local.content_html
    assert len(await _question_updates(pool)) == before + 2
    # Once the vote is closed the debate is frozen: edits are refused
    async with pool.acquire() as conn:
        await lifecycle.close(conn, actor=author, proposal=proposal, env=_env(clock, keygen))
    closed = len(await _question_updates(pool))
    late = _edit(proposal, 1, 8, content="<p>Trop tard</p>")
    state, detail = await _deliver(app, client, pool, clock, late)
    assert (state, "comments are open" in detail) == ("ignored", True)
    assert len(await _question_updates(pool)) == closed


async def test_a_remote_comment_is_deleted_by_its_author_only(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    await seed_remote_actor(pool, OTHER, OTHER_KEY, clock.now())
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        critic = await _citizen(conn, keygen, "dominique")
        proposal = await _open(conn, clock, keygen, author)
        local = await comments.comment(
            conn, actor=critic, proposal=proposal, stance="for", text="Oui", env=_env(clock, keygen)
        )
    for n in (1, 2):
        assert await _deliver(app, client, pool, clock, _reply(proposal, n)) == ("done", "")
    evas = {**_reply(proposal, 3), "id": f"{OTHER}/statuses/3/activity", "actor": OTHER}
    evas["object"] = {**evas["object"], "id": f"{OTHER}/statuses/3", "attributedTo": OTHER}
    assert await _deliver(app, client, pool, clock, evas, signer=OTHER) == ("done", "")
    assert (await _replies(client, proposal))["totalItems"] == 4
    before = len(await _question_updates(pool))
    # Eve deletes Rin's comment or the local one: ignored, nothing goes out
    for number, uri in enumerate((f"{RIN}/statuses/1", local.uri)):
        state, detail = await _deliver(
            app, client, pool, clock, _delete(uri, number, actor=OTHER), signer=OTHER
        )
        assert (state, "only the comment's author" in detail) == ("ignored", True)
    assert (await _replies(client, proposal))["totalItems"] == 4
    assert len(await _question_updates(pool)) == before
    # Rin deletes hers, with a Tombstone (Mastodon) and by bare id (GoToSocial): one Update each
    tombstone = _delete(f"{RIN}/statuses/1", 1, tombstone=True)
    assert await _deliver(app, client, pool, clock, tombstone) == ("done", "")
    assert len(await _question_updates(pool)) == before + 1
    assert await _deliver(app, client, pool, clock, _delete(f"{RIN}/statuses/2", 2)) == (
        "done",
        "",
    )
    updates = await _question_updates(pool)
    assert len(updates) == before + 2
    assert updates[-1]["object"]["replies"]["totalItems"] == 2
    replies = await _replies(client, proposal)
    assert replies["totalItems"] == 2
    assert {i["id"] for i in replies["items"]} == {local.uri, f"{OTHER}/statuses/3"}
    # Deleting it again: no comment has that id any more, and no post either
    state, detail = await _deliver(app, client, pool, clock, _delete(f"{RIN}/statuses/1", 3))
    assert (state, "no post" in detail) == ("ignored", True)
    assert len(await _question_updates(pool)) == before + 2
    # An author may take her words back after the vote too
    async with pool.acquire() as conn:
        await lifecycle.close(conn, actor=author, proposal=proposal, env=_env(clock, keygen))
    assert await _deliver(
        app, client, pool, clock, _delete(f"{OTHER}/statuses/3", 4, actor=OTHER), signer=OTHER
    ) == ("done", "")
    assert (await _replies(client, proposal))["totalItems"] == 1


async def test_a_long_debate_is_read_a_page_at_a_time(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given a proposal with 105 comments, several written at the same moment
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        author = await _citizen(conn, keygen, "camille")
        critic = await _citizen(conn, keygen, "dominique")
        proposal = await _open(conn, clock, keygen, author)
        for number in range(105):
            if number % 3 == 0:
                clock.advance(timedelta(seconds=1))
            await comments.comment(
                conn,
                actor=critic,
                proposal=proposal,
                stance="for",
                text=f"item-{number:03d}",
                env=env,
            )
    # When a visitor reads the debate to its end
    pages = await walk(client, proposal.uri)
    # Then every comment is there once, oldest first, a hundred on the first page
    assert [len(page) for page in pages] == [100, 5]
    assert flat(pages) == [f"{n:03d}" for n in range(105)]
