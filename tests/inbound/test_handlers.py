"""Inbound activities through the real inbox and worker, checked by their effects in the database.

Each activity is POSTed signed to the inbox (as a peer would), then the worker processes the
mailbox once (fedicity.workers.inbox.process_batch). Remote actors are seeded on `.invalid` hosts
(RFC 6761: never resolvable, so nothing leaves this machine); Move targets are served by a real
HTTP server on 127.0.0.1, which the app may fetch from (allow_private_addresses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follow_service
from fedicity.posts import queries as post_queries
from fedicity.posts import service as post_service
from fedicity.settings import Settings
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import actor_document, post_signed, seed_remote_actor
from tests.peer import Peer

BASE = "http://fedicity.test"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS_CONTEXT + "#Public"
CAMILLE = BASE + "/actors/camille"
DOMINIQUE = BASE + "/actors/dominique"
REMOTE = "https://social.invalid"
REMOTE_SHARED_INBOX = REMOTE + "/inbox"
ALICE = REMOTE + "/users/alice"
BOB = REMOTE + "/users/bob"
KEY_A, KEY_B, KEY_C = fixed_keypairs()[3:6]
KEYS = {ALICE: KEY_A, BOB: KEY_B}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test instance, allowed to fetch Move targets from the loopback peer."""
    return dataclasses.replace(settings, allow_private_addresses=True)


@dataclass(frozen=True)
class Processed:
    """What the worker recorded for one inbound activity."""

    state: str
    detail: str | None


@dataclass
class Inbox:
    """Deliver signed activities to the app's inbox and run the worker over them."""

    app: Quart
    client: TestClientProtocol
    pool: Pool
    clock: FrozenClock

    async def receive(
        self, activity: dict[str, Any], *, signer: str = ALICE, path: str = "/inbox"
    ) -> Processed:
        """POST `activity` signed by `signer`'s key, process the mailbox, return the row's fate."""
        response = await post_signed(
            self.client,
            path,
            activity,
            key_id=signer + "#main-key",
            keypair=KEYS[signer],
            now=self.clock.now(),
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        app_state: AppState = self.app.extensions["fedicity"]
        async with self.pool.acquire() as conn:
            # A type nothing handles is stored already ignored, for the worker to skip.
            waiting = await conn.fetchval(
                "SELECT count(*) FROM inbox_items WHERE state = 'pending'"
            )
        handled = await process_batch(
            self.pool, directory=app_state.fed.directory, urls=app_state.urls, clock=self.clock
        )
        assert handled == waiting
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1",
                activity["id"],
            )
        assert row is not None
        return Processed(row["state"], row["last_error"])


@pytest.fixture
async def inbox(app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock) -> Inbox:
    """The inbox, with Alice and Bob of social.invalid known with their keys."""
    for uri, keypair in KEYS.items():
        await seed_remote_actor(pool, uri, keypair, clock.now())
    return Inbox(app, client, pool, clock)


async def _person(pool: Pool, keygen: FixedKeys, username: str) -> Actor:
    async with pool.acquire() as conn:
        return await actor_service.create_person(conn, username, keygen=keygen)


@pytest.fixture
async def camille(pool: Pool, keygen: FixedKeys) -> Actor:
    """A local citizen."""
    return await _person(pool, keygen, "camille")


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    """A fresh peer on 127.0.0.1."""
    started = Peer()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def follow_state(pool: Pool, follower: str, followee: str) -> str | None:
    """The follow's state ('pending', 'accepted'), or None when there is none."""
    async with pool.acquire() as conn:
        found = await follow_queries.select_follow(conn, follower, followee)
    return None if found is None else found.state


async def add_follow(pool: Pool, clock: FrozenClock, follower: str, followee: str) -> None:
    """An accepted follow, as if it had been agreed earlier."""
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=follower,
            followee=followee,
            activity_uri=f"{follower}#follows/{followee.rsplit('/', 1)[-1]}",
            accepted=True,
            now=clock.now(),
        )


async def queued(pool: Pool) -> list[tuple[str, str, dict[str, Any]]]:
    """Every queued delivery: (activity type, target inbox, activity)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT o.type, d.inbox, o.raw FROM deliveries d
                 JOIN outbox_activities o ON o.id = d.activity_id ORDER BY d.id"""
        )
    return [(row["type"], row["inbox"], row["raw"]) for row in rows]


def note(
    number: int, *, author: str = ALICE, to: list[str] | None = None, content: str = "<p>Hi</p>"
) -> dict[str, Any]:
    """A Note on social.invalid (addressed to Camille unless told otherwise)."""
    return {
        "id": f"{REMOTE}/notes/{number}",
        "type": "Note",
        "attributedTo": author,
        "content": content,
        "to": [CAMILLE] if to is None else to,
        "published": "2025-12-31T12:00:00Z",
    }


def activity(
    kind: str, object_: Any, *, actor: str = ALICE, name: str = "1", **extra: Any
) -> dict[str, Any]:
    """An activity of `actor` with a unique id."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor}#{kind.lower()}/{name}",
        "type": kind,
        "actor": actor,
        "object": object_,
        **extra,
    }


async def select_post_content(pool: Pool, uri: str) -> str | None:
    """A live post's HTML, or None when it is absent or deleted."""
    async with pool.acquire() as conn:
        post = await post_queries.select_post(conn, uri)
    return None if post is None else post.content_html


# --- follows -----------------------------------------------------------------------------------


async def test_follow_of_local_actor_is_accepted_and_answered(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given Camille, who approves followers automatically
    follow = activity("Follow", CAMILLE)
    # When Alice follows her, at Camille's own inbox
    processed = await inbox.receive(follow, path="/actors/camille/inbox")
    # Then the follow is accepted
    assert processed.state == "done", processed.detail
    assert await follow_state(pool, ALICE, CAMILLE) == "accepted"
    # And one Accept of that Follow, by Camille, is queued to Alice's (shared) inbox
    [(kind, target, accept)] = await queued(pool)
    assert (kind, target) == ("Accept", REMOTE_SHARED_INBOX)
    assert accept["actor"] == CAMILLE
    assert accept["object"]["id"] == follow["id"]
    assert accept["object"]["actor"] == ALICE


async def test_follow_of_actor_approving_by_hand_stays_pending(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given Camille, who approves followers by hand
    async with pool.acquire() as conn:
        await actor_service.update_profile(
            conn,
            camille,
            display_name="",
            summary="",
            manually_approves_followers=True,
            discoverable=True,
        )
    # When Alice follows her
    processed = await inbox.receive(activity("Follow", CAMILLE))
    # Then the request waits, and no Accept is sent
    assert processed.state == "done", processed.detail
    assert await follow_state(pool, ALICE, CAMILLE) == "pending"
    assert await queued(pool) == []


async def test_undo_follow_removes_the_follower(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given Alice and Bob following Camille
    await add_follow(pool, clock, ALICE, CAMILLE)
    await add_follow(pool, clock, BOB, CAMILLE)
    # When Alice undoes her Follow
    undo = activity(
        "Undo", {"id": ALICE + "#follows/1", "type": "Follow", "actor": ALICE, "object": CAMILLE}
    )
    processed = await inbox.receive(undo)
    # Then she no longer follows Camille; Bob still does
    assert processed.state == "done", processed.detail
    assert await follow_state(pool, ALICE, CAMILLE) is None
    assert await follow_state(pool, BOB, CAMILLE) == "accepted"


async def test_undo_naming_the_follow_by_id_only_removes_it(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given Alice following Camille through the Follow she sent
    await inbox.receive(activity("Follow", CAMILLE))
    assert await follow_state(pool, ALICE, CAMILLE) == "accepted"
    async with pool.acquire() as conn:
        follow_id = await conn.fetchval("SELECT activity_uri FROM follows")
    # When she undoes it naming her Follow by its id only
    processed = await inbox.receive(activity("Undo", follow_id))
    # Then the follow is gone; an Undo of an id she never used changes nothing
    assert processed.state == "done", processed.detail
    assert await follow_state(pool, ALICE, CAMILLE) is None
    again = await inbox.receive(activity("Undo", ALICE + "#never-sent", name="2"))
    assert again.state == "ignored"


async def test_accept_of_our_follow_by_its_target_accepts_it(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given Camille's pending follow of Alice
    async with pool.acquire() as conn:
        sent = await follow_service.follow(
            conn,
            actor=camille,
            target=ALICE,
            urls=inbox.app.extensions["fedicity"].urls,
            clock=clock,
        )
    our_follow = {"id": sent["id"], "type": "Follow", "actor": CAMILLE, "object": ALICE}
    # When Bob, who was not asked, sends an Accept of it
    by_bob = await inbox.receive(activity("Accept", our_follow, actor=BOB), signer=BOB)
    # Then nothing changes
    assert by_bob.state == "ignored"
    assert await follow_state(pool, CAMILLE, ALICE) == "pending"
    # When Alice accepts it
    by_alice = await inbox.receive(activity("Accept", our_follow))
    # Then Camille follows Alice
    assert by_alice.state == "done", by_alice.detail
    assert await follow_state(pool, CAMILLE, ALICE) == "accepted"


async def test_reject_of_our_follow_removes_it(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given Camille's pending follow of Alice
    async with pool.acquire() as conn:
        sent = await follow_service.follow(
            conn,
            actor=camille,
            target=ALICE,
            urls=inbox.app.extensions["fedicity"].urls,
            clock=clock,
        )
    # When Alice rejects it, naming the Follow by its id
    processed = await inbox.receive(activity("Reject", sent["id"]))
    # Then the follow is gone
    assert processed.state == "done", processed.detail
    assert await follow_state(pool, CAMILLE, ALICE) is None


# --- posts -------------------------------------------------------------------------------------


async def test_create_note_addressed_to_local_actor_is_stored_sanitised_and_direct(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given a Note from Alice to Camille only, with a script in it
    content = '<p>Hello <span class="h-card">@camille</span><script>alert("x")</script></p>'
    sent = note(1, content=content)
    # When Alice delivers its Create
    processed = await inbox.receive(activity("Create", sent, to=[CAMILLE]))
    # Then it is stored, without the script, as a direct message from Alice
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        post = await post_queries.select_post(conn, sent["id"])
    assert post is not None
    assert post.author_uri == ALICE
    assert post.visibility == "direct"
    assert "Hello" in post.content_html
    assert "<script" not in post.content_html
    assert "alert" not in post.content_html
    assert post.raw is not None
    assert post.raw["content"] == content


async def test_create_note_nobody_here_would_see_is_ignored(inbox: Inbox, pool: Pool) -> None:
    # Given a public Note by Alice, whom nobody here follows, addressed to nobody here
    sent = note(1, to=[PUBLIC])
    # When its Create arrives (a relay, a mistaken delivery)
    processed = await inbox.receive(activity("Create", sent, to=[PUBLIC]))
    # Then it is ignored and not stored
    assert processed.state == "ignored"
    assert await select_post_content(pool, sent["id"]) is None


async def test_create_of_someone_elses_note_is_ignored(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given a Note attributed to Bob, addressed to Camille
    sent = note(1, author=BOB)
    # When Alice sends a Create of it as her own activity
    processed = await inbox.receive(activity("Create", sent))
    # Then it is ignored because its author is not the actor, and not stored
    assert processed.state == "ignored"
    assert processed.detail is not None
    assert "author" in processed.detail
    assert await select_post_content(pool, sent["id"]) is None


async def test_update_of_a_note_by_another_actor_is_ignored(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given Alice's Note to Camille, stored
    await inbox.receive(activity("Create", note(1, content="<p>original</p>")))
    # When Bob sends an Update replacing its content
    forged = note(1, content="<p>forged</p>")
    processed = await inbox.receive(
        activity("Update", forged, actor=BOB, name="forged"), signer=BOB
    )
    # Then it is ignored and the content is unchanged
    assert processed.state == "ignored"
    assert await select_post_content(pool, forged["id"]) == "<p>original</p>"
    # And the same Update from Alice herself is applied
    edited = await inbox.receive(activity("Update", note(1, content="<p>edited</p>")))
    assert edited.state == "done", edited.detail
    assert await select_post_content(pool, forged["id"]) == "<p>edited</p>"


async def test_delete_tombstone_by_author_removes_the_post(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # Given Alice's Note to Camille, stored
    sent = note(1)
    await inbox.receive(activity("Create", sent))
    tombstone = {"id": sent["id"], "type": "Tombstone"}
    # When Bob sends a Delete of it
    by_bob = await inbox.receive(activity("Delete", tombstone, actor=BOB), signer=BOB)
    # Then it stays
    assert by_bob.state == "ignored"
    assert await select_post_content(pool, sent["id"]) is not None
    # When Alice deletes it with a Tombstone
    processed = await inbox.receive(activity("Delete", tombstone))
    # Then it is gone (kept only as a tombstone without content)
    assert processed.state == "done", processed.detail
    assert await select_post_content(pool, sent["id"]) is None
    async with pool.acquire() as conn:
        kept = await post_queries.select_post(conn, sent["id"], include_deleted=True)
    assert kept is not None
    assert kept.deleted_at is not None
    assert kept.content_html == ""


async def test_delete_of_actor_marks_it_deleted_and_removes_its_follows(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given Alice following and followed by Camille, with a post here; Bob follows Camille too
    await add_follow(pool, clock, ALICE, CAMILLE)
    await add_follow(pool, clock, CAMILLE, ALICE)
    await add_follow(pool, clock, BOB, CAMILLE)
    await inbox.receive(activity("Create", note(1)))
    # When Alice deletes her account
    processed = await inbox.receive(activity("Delete", ALICE, to=[PUBLIC]))
    # Then she is marked deleted, without a usable key
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        alice = await actor_queries.select_remote_actor(conn, ALICE)
        follows_of_alice = await conn.fetchval(
            "SELECT count(*) FROM follows WHERE follower = $1 OR followee = $1", ALICE
        )
    assert alice is not None
    assert alice.deleted_at is not None
    assert alice.key_id is None
    # And every follow she was part of is gone, her posts too; Bob's follow stays
    assert follows_of_alice == 0
    assert await select_post_content(pool, note(1)["id"]) is None
    assert await follow_state(pool, BOB, CAMILLE) == "accepted"


# --- interactions, actors, moderation ----------------------------------------------------------


async def test_like_and_undo_like_are_counted(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given a public post by Camille
    async with pool.acquire() as conn:
        post = await post_service.create_note(
            conn,
            actor=camille,
            text="Marché samedi",
            visibility="public",
            urls=inbox.app.extensions["fedicity"].urls,
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )

    async def likes() -> int:
        async with pool.acquire() as conn:
            return await post_queries.count_interactions(conn, post.uri, "like")

    # When Alice and Bob like it
    assert (await inbox.receive(activity("Like", post.uri))).state == "done"
    assert (await inbox.receive(activity("Like", post.uri, actor=BOB), signer=BOB)).state == "done"
    # Then it has two likes
    assert await likes() == 2
    # When Alice undoes her like
    undo = activity(
        "Undo", {"id": ALICE + "#like/1", "type": "Like", "actor": ALICE, "object": post.uri}
    )
    processed = await inbox.receive(undo)
    # Then one like is left
    assert processed.state == "done", processed.detail
    assert await likes() == 1


async def test_update_person_with_new_key_replaces_the_stored_key(
    inbox: Inbox, pool: Pool, clock: FrozenClock
) -> None:
    # Given Alice, known with key A; her server now publishes key C and a new name
    document = {**actor_document(ALICE, KEY_C, username="alice"), "name": "Alice N."}
    # When she sends Update(Person), signed with key A
    processed = await inbox.receive(activity("Update", document, to=[PUBLIC]))
    # Then her stored key and profile are the new ones
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        alice = await actor_queries.select_remote_actor(conn, ALICE)
    assert alice is not None
    assert alice.public_key_pem == KEY_C.public_pem
    assert alice.display_name == "Alice N."
    # And an activity signed with key C is accepted from the cache (her host cannot be reached)
    response = await post_signed(
        inbox.client,
        "/inbox",
        activity("Like", BASE + "/notes/x", name="with-new-key"),
        key_id=ALICE + "#main-key",
        keypair=KEY_C,
        now=clock.now(),
    )
    assert response.status_code == 202, await response.get_data(as_text=True)


async def test_block_of_local_actor_ends_follows_both_ways(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given Alice and Camille following each other, and Bob following Camille
    await add_follow(pool, clock, ALICE, CAMILLE)
    await add_follow(pool, clock, CAMILLE, ALICE)
    await add_follow(pool, clock, BOB, CAMILLE)
    # When Alice blocks Camille
    block = activity("Block", CAMILLE)
    processed = await inbox.receive(block)
    # Then the block is recorded and neither follows the other; Bob's follow stays
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        blocks = await conn.fetch("SELECT activity_uri, blocker, blocked FROM blocks")
    assert [tuple(row) for row in blocks] == [(block["id"], ALICE, CAMILLE)]
    assert await follow_state(pool, ALICE, CAMILLE) is None
    assert await follow_state(pool, CAMILLE, ALICE) is None
    assert await follow_state(pool, BOB, CAMILLE) == "accepted"


async def test_flag_is_stored_as_a_report(inbox: Inbox, pool: Pool, camille: Actor) -> None:
    # Given a report from Alice's server about Camille and one of her posts
    flag = activity(
        "Flag",
        [CAMILLE, BASE + "/notes/abc"],
        content="Spam about a fake town hall",
    )
    # When it arrives
    processed = await inbox.receive(flag)
    # Then the admins have a report with its reason and targets
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        reports = await conn.fetch("SELECT activity_uri, reporter, targets, content FROM reports")
    assert [tuple(row) for row in reports] == [
        (flag["id"], ALICE, [CAMILLE, BASE + "/notes/abc"], "Spam about a fake town hall")
    ]


async def test_a_flag_naming_hundreds_of_objects_keeps_a_reports_worth(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    flag = activity("Flag", [CAMILLE, *(f"{BASE}/notes/{n}" for n in range(500))], content="x")
    processed = await inbox.receive(flag)
    assert processed.state == "done", processed.detail
    async with pool.acquire() as conn:
        targets = await conn.fetchval("SELECT targets FROM reports")
    assert targets == [CAMILLE, *(f"{BASE}/notes/{n}" for n in range(19))]


async def _moves(pool: Pool) -> list[tuple[str, str, bool]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT origin, target, verified FROM moves")
    return [(row["origin"], row["target"], row["verified"]) for row in rows]


async def test_move_to_target_listing_the_origin_migrates_local_followers(
    inbox: Inbox, pool: Pool, clock: FrozenClock, keygen: FixedKeys, camille: Actor, peer: Peer
) -> None:
    # Given Camille and Dominique following Alice, and Alice's new account on a real peer that
    # lists her old one in alsoKnownAs
    await _person(pool, keygen, "dominique")
    await add_follow(pool, clock, CAMILLE, ALICE)
    await add_follow(pool, clock, DOMINIQUE, ALICE)
    target = peer.url("/users/alice")
    peer.serve(
        "/users/alice",
        {**actor_document(target, KEY_C, username="alice"), "alsoKnownAs": [ALICE]},
    )
    # When Alice moves there
    processed = await inbox.receive(activity("Move", ALICE, target=target))
    # Then the target was fetched once, and the move is recorded as verified
    assert processed.state == "done", processed.detail
    assert peer.paths == ["/users/alice"]
    assert await _moves(pool) == [(ALICE, target, True)]
    # And Camille and Dominique now ask to follow the target instead of the origin
    for local in (CAMILLE, DOMINIQUE):
        assert await follow_state(pool, local, ALICE) is None
        assert await follow_state(pool, local, target) == "pending"
    # And a Follow of the target by each of them is queued to the target's inbox
    follows = sorted(
        (raw["actor"], raw["object"], inbox_url)
        for kind, inbox_url, raw in await queued(pool)
        if kind == "Follow"
    )
    shared = peer.url("/inbox")
    assert follows == [(CAMILLE, target, shared), (DOMINIQUE, target, shared)]
    async with pool.acquire() as conn:
        alice = await actor_queries.select_remote_actor(conn, ALICE)
    assert alice is not None
    assert alice.moved_to == target


async def test_move_to_target_not_listing_the_origin_is_not_followed(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor, peer: Peer
) -> None:
    # Given Camille following Alice, and a target that does not claim to be Alice
    await add_follow(pool, clock, CAMILLE, ALICE)
    target = peer.url("/users/impostor")
    peer.serve("/users/impostor", actor_document(target, KEY_C, username="impostor"))
    # When Alice announces a move there
    processed = await inbox.receive(activity("Move", ALICE, target=target))
    # Then the move is recorded unverified and nobody is migrated
    assert processed.state == "ignored"
    assert peer.paths == ["/users/impostor"]
    assert await _moves(pool) == [(ALICE, target, False)]
    assert await follow_state(pool, CAMILLE, ALICE) == "accepted"
    assert await follow_state(pool, CAMILLE, target) is None
    assert await queued(pool) == []


async def test_unknown_activity_type_is_ignored_never_failed(
    inbox: Inbox, pool: Pool, clock: FrozenClock
) -> None:
    # Given a Lemmy moderator's Lock of a post, which fedicity has no handler for
    lock = activity("Lock", REMOTE + "/post/1", to=[PUBLIC], cc=[REMOTE + "/c/town"])
    # When it arrives
    processed = await inbox.receive(lock)
    # Then it is kept as ignored, with why, and not retried
    assert processed == Processed("ignored", "no handler for Lock")
    app_state: AppState = inbox.app.extensions["fedicity"]
    again = await process_batch(
        pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock
    )
    assert again == 0
