"""The content policy pipeline in the inbox worker: activities POSTed signed to the inbox, the
worker run once, and what each decision did to the row, the stored posts and the records.

Notes are the recorded Mastodon ones of tests/fixtures/inbound (sources in its INDEX.md), their
ids and addressing moved to Alice of social.invalid and camille here."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from fedicity.actors.models import Actor
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.inbound import queries as inbound_queries
from fedicity.moderation import content_queries, content_service, domains
from fedicity.moderation.content import ContentPolicyError, PolicyConfig
from fedicity.posts import queries as post_queries
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch, purge_batch
from tests.conftest import FIXTURES
from tests.inbound.test_handlers import (  # noqa: F401  (camille, inbox, peer, settings are fixtures)
    ALICE,
    CAMILLE,
    PUBLIC,
    Inbox,
    camille,
    inbox,
    peer,
    settings,
)
from tests.peer import Peer

ADMIN = AuditActor("root_admin")


def mastodon_note(name: str, number: int, **changes: Any) -> dict[str, Any]:
    """A recorded Mastodon Create(Note), now by Alice to camille, its object changed as asked."""
    recorded = json.loads((FIXTURES / "inbound" / f"{name}.json").read_text())
    activity: dict[str, Any] = copy.deepcopy(recorded)
    note = activity["object"]
    note_id = f"{ALICE}/statuses/{number}"
    activity.update(id=f"{note_id}/activity", actor=ALICE, to=[PUBLIC], cc=[CAMILLE])
    activity.pop("signature", None)
    note.update(id=note_id, attributedTo=ALICE, to=[PUBLIC], cc=[CAMILLE], **changes)
    note["tag"] = [tag for tag in note.get("tag", []) if tag.get("type") != "Mention"]
    note["tag"].append({"type": "Mention", "href": CAMILLE, "name": "@camille"})
    return activity


async def _set(pool: Pool, clock: FrozenClock, config: PolicyConfig) -> None:
    async with pool.acquire() as conn:
        await content_service.save_policy(conn, config, by=ADMIN, reason="test", now=clock.now())


async def _stored(pool: Pool, uri: str) -> bool:
    async with pool.acquire() as conn:
        return await post_queries.select_post(conn, uri) is not None


async def _decisions(pool: Pool) -> list[content_queries.StoredDecision]:
    async with pool.acquire() as conn:
        return await content_queries.select_decisions(conn, limit=50)


async def test_a_flagged_post_is_stored_and_the_flag_recorded(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    # Given a hashtag policy that flags #nsfw
    await _set(pool, clock, PolicyConfig("hashtag", True, "flag", ("nsfw",)))
    # When Mastodon's note tagged #NSFW arrives, published now
    activity = mastodon_note(
        "mastodon_create_note_nsfw_hashtag_1", 1, published=clock.now().isoformat()
    )
    processed = await inbox.receive(activity)
    # Then it is stored as usual, and the flag is recorded for admins
    assert processed.state == "done"
    assert await _stored(pool, activity["object"]["id"])
    [flag] = await _decisions(pool)
    assert (flag.policy, flag.decision, flag.reason) == ("hashtag", "flag", "tagged #nsfw")
    assert flag.activity_uri == activity["id"]
    assert flag.object_uri == activity["object"]["id"]
    assert flag.actor_uri == ALICE
    assert flag.excerpt.startswith("cw")


async def test_a_held_post_rejected_by_an_admin_is_never_stored(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    await _set(pool, clock, PolicyConfig("new_actor_links", True, amount=24))
    activity = mastodon_note(
        "mastodon_create_note_1",
        2,
        published=clock.now().isoformat(),
        content='<p>cheap <a href="https://pills.example/">pills</a></p>',
    )
    processed = await inbox.receive(activity)
    assert processed.state == "held"
    [held] = await _decisions(pool)
    assert held.hold_state == "held"
    # When the admin rejects it
    async with pool.acquire() as conn:
        await content_service.resolve_held(
            conn, held.id, release=False, by=ADMIN, reason="spam", now=clock.now()
        )
        row = await conn.fetchrow("SELECT state, last_error, raw FROM inbox_items")
        audit = await conn.fetchrow("SELECT action, target, reason FROM audit_log ORDER BY id DESC")
    # Then its row ends ignored, keeping only the skeleton, and the post is never stored
    assert row is not None
    assert row["state"] == "ignored"
    assert row["last_error"] == "content policy new_actor_links: rejected by root_admin"
    assert "object" in row["raw"]
    assert "content" not in json.dumps(row["raw"])
    assert not await _stored(pool, activity["object"]["id"])
    [rejected] = await _decisions(pool)
    assert rejected.hold_state == "rejected"
    assert rejected.resolved_by == "root_admin"
    assert audit is not None
    assert tuple(audit) == ("content.reject", activity["id"], "spam")
    # And it cannot be decided twice
    async with pool.acquire() as conn:
        with pytest.raises(ContentPolicyError, match="no such held activity"):
            await content_service.resolve_held(
                conn, held.id, release=True, by=ADMIN, reason="", now=clock.now()
            )


async def test_an_old_post_is_refused_but_its_edit_and_its_deletion_apply(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    # Given a post of 2018 that reached us before the age policy was set
    activity = mastodon_note("mastodon_create_note_1", 3, content="<p>old news</p>")
    assert (await inbox.receive(activity)).state == "done"
    await _set(pool, clock, PolicyConfig("object_age", True, amount=30))
    # When Alice edits it today
    note = dict(activity["object"], content="<p>old news, corrected</p>")
    note["updated"] = clock.now().isoformat()
    update = {
        "@context": activity["@context"],
        "id": f"{note['id']}#updates/1",
        "type": "Update",
        "actor": ALICE,
        "to": [PUBLIC],
        "object": note,
    }
    # Then the edit applies
    assert (await inbox.receive(update)).state == "done"
    async with pool.acquire() as conn:
        post = await post_queries.select_post(conn, note["id"])
    assert post is not None
    assert "corrected" in post.content_html
    # And her Delete of it applies too
    delete = {
        "@context": activity["@context"],
        "id": f"{note['id']}#delete",
        "type": "Delete",
        "actor": ALICE,
        "to": [PUBLIC],
        "object": {"id": note["id"], "type": "Tombstone"},
    }
    assert (await inbox.receive(delete)).state == "done"
    assert not await _stored(pool, note["id"])
    # While a new Create of an object of 2018 is refused
    again = mastodon_note("mastodon_create_note_1", 4)
    processed = await inbox.receive(again)
    assert processed.state == "ignored"
    assert processed.detail is not None
    assert processed.detail.startswith("content policy object_age: published ")
    assert await _decisions(pool) != []


async def test_an_actor_of_an_unknown_type_is_ignored(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    # Given Alice's stored document says she is of a type no actor has (the policy is on by
    # default)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE remote_actors SET type = 'Mystery' WHERE uri = $1", ALICE)
    activity = mastodon_note("mastodon_create_note_1", 5, published=clock.now().isoformat())
    processed = await inbox.receive(activity)
    assert processed == type(processed)(
        "ignored", "content policy actor_type: the actor is a Mystery"
    )
    assert not await _stored(pool, activity["object"]["id"])
    # When an admin turns the policy off, the next activity passes (read for each batch)
    await _set(pool, clock, PolicyConfig("actor_type", False))
    second = mastodon_note("mastodon_create_note_1", 6, published=clock.now().isoformat())
    assert (await inbox.receive(second)).state == "done"


async def test_a_create_carrying_only_its_objects_id_is_judged_on_the_fetched_object(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
    peer: Peer,  # noqa: F811
) -> None:
    await _set(pool, clock, PolicyConfig("keyword", True, "reject", ("lottery",)))
    note = mastodon_note("mastodon_create_note_1", 7, content="<p>You won the LOTTERY</p>")
    note_uri = peer.url("/notes/7")
    peer.serve("/notes/7", dict(note["object"], id=note_uri))
    activity = dict(note, object=note_uri)
    processed = await inbox.receive(activity)
    assert processed.state == "ignored"
    assert processed.detail == "content policy keyword: contains “lottery”"
    assert "/notes/7" in peer.paths


async def test_a_released_post_is_stored_once_its_flags_recorded_once(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    # Given links from new accounts held, and "pills" flagged
    await _set(pool, clock, PolicyConfig("new_actor_links", True, amount=24))
    await _set(pool, clock, PolicyConfig("keyword", True, "flag", ("pills",)))
    activity = mastodon_note(
        "mastodon_create_note_1",
        8,
        published=clock.now().isoformat(),
        content='<p>cheap <a href="https://pills.example/">pills</a></p>',
    )
    assert (await inbox.receive(activity)).state == "held"
    held, flag = sorted(await _decisions(pool), key=lambda d: d.decision, reverse=True)
    assert (held.decision, flag.decision) == ("hold", "flag")
    # When the admin releases it and the worker runs
    async with pool.acquire() as conn:
        await content_service.resolve_held(
            conn, held.id, release=True, by=ADMIN, reason="known", now=clock.now()
        )
    app_state: AppState = inbox.app.extensions["fedicity"]
    assert (
        await process_batch(
            pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock
        )
        == 1
    )
    # Then the post is stored, the hold says released, and nothing more was recorded
    assert await _stored(pool, activity["object"]["id"])
    decisions = await _decisions(pool)
    assert sorted((d.decision, d.hold_state) for d in decisions) == [
        ("flag", None),
        ("hold", "released"),
    ]


async def test_a_held_post_ends_with_its_servers_suspension(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    # Given a post held for review
    await _set(pool, clock, PolicyConfig("new_actor_links", True, amount=24))
    activity = mastodon_note(
        "mastodon_create_note_1",
        3,
        published=clock.now().isoformat(),
        content='<p>cheap <a href="https://pills.example/">pills</a></p>',
    )
    assert (await inbox.receive(activity)).state == "held"
    [held] = await _decisions(pool)
    # When its server is suspended
    async with pool.acquire() as conn:
        effects = await domains.set_policy(
            conn,
            ADMIN,
            domains.checked_entry("social.invalid", "suspend"),
            reason="spam waves",
            now=clock.now(),
        )
        row = await conn.fetchrow("SELECT state, last_error FROM inbox_items")
    # Then the held row ends with the others, its hold says so, and no release can let it in
    assert effects.inbox_items == 1
    assert row is not None
    assert tuple(row) == ("ignored", "refused by policy: the domain is suspended")
    [ended] = await _decisions(pool)
    assert (ended.id, ended.hold_state, ended.resolved_by) == (held.id, "rejected", "system")
    async with pool.acquire() as conn:
        with pytest.raises(ContentPolicyError, match="no such held activity"):
            await content_service.resolve_held(
                conn, held.id, release=True, by=ADMIN, reason="", now=clock.now()
            )
    assert not await _stored(pool, activity["object"]["id"])


async def test_a_pointer_is_fetched_once_and_one_that_cannot_be_is_not_stored_unjudged(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
    peer: Peer,  # noqa: F811
) -> None:
    await _set(pool, clock, PolicyConfig("keyword", True, "reject", ("lottery",)))
    # A clean post carried by its id alone: judged and handled on one fetch
    note = mastodon_note("mastodon_create_note_1", 8, content="<p>Réunion jeudi</p>")
    note_uri = peer.url("/notes/8")
    peer.serve("/notes/8", dict(note["object"], id=note_uri))
    processed = await inbox.receive(dict(note, object=note_uri))
    assert peer.paths.count("/notes/8") == 1
    assert processed.state != "failed", processed.detail
    # One whose object cannot be fetched is not judged blind: it ends ignored, saying why
    missing = peer.url("/notes/9")
    other = mastodon_note("mastodon_create_note_1", 9)
    processed = await inbox.receive(dict(other, object=missing))
    assert processed.state == "ignored"
    assert (processed.detail or "").startswith(f"cannot fetch {missing} to judge it")


async def test_old_decisions_are_purged_but_a_waiting_hold_stays(
    pool: Pool, clock: FrozenClock
) -> None:
    now = clock.now()
    async with pool.acquire() as conn:
        for days, decision, hold in (
            (200, "reject", None),
            (200, "hold", "held"),
            (200, "hold", "released"),
            (10, "flag", None),
        ):
            await conn.execute(
                """INSERT INTO content_decisions (decided_at, policy, decision, reason,
                                                   activity_uri, actor_uri, hold_state)
                   VALUES ($1, 'keyword', $2, 'r', $3, $4, $5)""",
                now - timedelta(days=days),
                decision,
                f"{ALICE}/activities/{days}-{decision}-{hold}",
                ALICE,
                hold,
            )
    purged = await purge_batch(pool, clock=clock, retention=timedelta(days=7))
    kept = [(d.decision, d.hold_state) for d in await _decisions(pool)]
    assert purged == 2
    assert sorted(kept, key=str) == sorted([("hold", "held"), ("flag", None)], key=str)


async def test_a_held_activity_counts_against_its_servers_cap_of_waiting_rows(
    inbox: Inbox,  # noqa: F811
    camille: Actor,  # noqa: F811
    pool: Pool,
    clock: FrozenClock,
) -> None:
    await _set(pool, clock, PolicyConfig("new_actor_links", True, amount=24))
    activity = mastodon_note(
        "mastodon_create_note_1",
        4,
        published=clock.now().isoformat(),
        content='<p>cheap <a href="https://pills.example/">pills</a></p>',
    )
    assert (await inbox.receive(activity)).state == "held"
    async with pool.acquire() as conn:
        origin = await conn.fetchval("SELECT origin_host FROM inbox_items")
        assert origin
        assert await inbound_queries.count_pending_from(conn, origin, limit=10) == 1
