"""The Mastodon companion poll of an event: published beside the event, answered with the recorded
Mastodon vote reshaped to point at it, each answer mapped to participation under the event's
rules, and the tallies going out as Update(Question)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from typing import Any

from fedicity.events import queries
from fedicity.events import service as events
from fedicity.events.models import CANT, GOING, MAYBE, Event
from tests.events.test_events import (
    ALICE,
    AP,
    BOB,
    URLS,
    Served,
    _input,
    fixture,
    served,
)

__all__ = ["served"]  # the fixture, imported for pytest


def _vote(event: Event, option: str, voter: str = BOB, number: int = 1) -> dict[str, Any]:
    """The recorded Mastodon poll vote, from a seeded actor, on the event's companion poll."""
    create = copy.deepcopy(fixture("mastodon_create_pollvote_1"))
    note = create["object"]
    note.update(
        attributedTo=voter,
        id=f"{voter}#votes/{number}",
        inReplyTo=event.uri + "/poll",
        name=option,
        to=event.organizer_uri,
    )
    create.update(actor=voter, id=f"{voter}#votes/{number}/activity", to=event.organizer_uri)
    return create


async def _state(served: Served, event: Event, actor: str) -> str | None:
    async with served.pool.acquire() as conn:
        found = await queries.select_participation(conn, event.id, actor)
    return found.state if found else None


def _totals(question: dict[str, Any]) -> dict[str, int]:
    return {o["name"]: o["replies"]["totalItems"] for o in question["oneOf"]}


async def test_the_poll_is_published_beside_the_event_and_served(served: Served) -> None:
    event = await served.create()
    [create_event] = [a for a in await served.outbox("Create") if a["object"]["type"] == "Event"]
    assert create_event["object"]["companionPoll"] == event.uri + "/poll"
    [create_poll] = [a for a in await served.outbox("Create") if a["object"]["type"] == "Question"]
    question = create_poll["object"]
    assert question["id"] == event.uri + "/poll"
    assert question["attributedTo"] == URLS.actor("camille")
    assert _totals(question) == {GOING: 0, MAYBE: 0, CANT: 0}
    assert question["endTime"] == "2026-03-14T09:00:00Z"
    assert event.uri in question["content"]
    response = await served.client.get(
        event.uri.removeprefix(URLS.base) + "/poll", headers={"Accept": AP}
    )
    assert response.status_code == 200
    assert (await response.get_json())["type"] == "Question"


async def test_going_maybe_and_cannot_map_to_participation(served: Served) -> None:
    event = await served.create()
    assert await served.receive(_vote(event, GOING)) == ("done", "accepted")
    assert await _state(served, event, BOB) == "accepted"
    assert await served.count(event) == 1
    update = (await served.outbox("Update"))[-1]
    assert update["object"]["id"] == event.uri + "/poll"
    assert _totals(update["object"]) == {GOING: 1, MAYBE: 0, CANT: 0}
    assert "Update" in await served.queued_to("https://social.invalid/inbox")  # the voter
    # "Peut-être" frees the place and counts the voter as interested.
    assert (await served.receive(_vote(event, MAYBE, number=2)))[0] == "done"
    assert await _state(served, event, BOB) == "interested"
    assert await served.count(event) == 0
    # "Je ne peux pas" is a Leave, counted among those who cannot come.
    assert (await served.receive(_vote(event, CANT, voter=ALICE)))[0] == "done"
    assert await _state(served, event, ALICE) == "left"
    update = (await served.outbox("Update"))[-1]
    assert _totals(update["object"]) == {GOING: 0, MAYBE: 1, CANT: 1}
    assert update["object"]["votersCount"] == 2
    async with served.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0  # answers are not posts


async def test_going_on_a_full_event_is_not_counted_and_explained(served: Served) -> None:
    event = await served.create(dataclasses.replace(_input(), capacity=1))
    assert (await served.receive(_vote(event, GOING, voter=ALICE)))[0] == "done"
    state, detail = await served.receive(_vote(event, GOING))
    assert state == "done"
    assert "full" in detail
    assert await _state(served, event, BOB) == "rejected"
    assert await served.count(event) == 1
    notes = [a for a in await served.outbox("Create") if a["object"]["type"] == "Note"]
    [note] = notes
    assert note["to"] == [BOB]
    assert note["object"]["tag"][0]["href"] == BOB
    assert "complet" in note["object"]["content"]
    assert "Create" in await served.queued_to("https://social.invalid/inbox")
    update = (await served.outbox("Update"))[-1]
    assert _totals(update["object"])[GOING] == 1


async def test_going_on_a_restricted_event_waits_without_a_place(served: Served) -> None:
    event = await served.create(dataclasses.replace(_input(), join_mode="restricted"))
    state, detail = await served.receive(_vote(event, GOING))
    assert (state, detail) == ("done", "pending: the organiser approves each participant")
    assert await _state(served, event, BOB) == "pending"
    assert await served.count(event) == 0


async def test_votes_that_break_a_rule_are_ignored(served: Served) -> None:
    event = await served.create()
    state, detail = await served.receive(_vote(event, "Bof"))
    assert (state, detail) == ("ignored", "this is not one of the poll's options")
    forged = _vote(event, GOING, number=2)
    forged["object"]["attributedTo"] = ALICE
    assert (await served.receive(forged))[0] == "ignored"
    assert await _state(served, event, ALICE) is None
    served.clock.advance(timedelta(days=80))  # the event has started
    state, detail = await served.receive(_vote(event, GOING, number=3))
    assert (state, detail) == ("ignored", "the poll ended when the event started")
    assert await served.count(event) == 0


async def test_cancelled_event_closes_the_poll_and_refuses_going(served: Served) -> None:
    event = await served.create()
    async with served.pool.acquire() as conn:
        event = await events.cancel_event(
            conn,
            actor=served.camille,
            event=event,
            place=None,
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    polls = [a for a in await served.outbox("Update") if a["object"]["type"] == "Question"]
    assert "closed" in polls[-1]["object"]
    state, detail = await served.receive(_vote(event, GOING))
    assert (state, detail) == ("done", "rejected: the event is cancelled")
    assert await served.count(event) == 0
    async with served.pool.acquire() as conn:
        await events.delete_event(
            conn, actor=served.camille, event=event, urls=URLS, clock=served.clock
        )
    deletes = [a["object"]["id"] for a in await served.outbox("Delete")]
    assert deletes == [event.uri, event.uri + "/poll"]
