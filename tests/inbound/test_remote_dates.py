"""Remote objects dated at the edges of the calendar are stored or refused, never retried.

A Note, an Event or a Question dated year 1 (with an offset east of UTC it has no UTC equivalent)
or year 9999/10000 is delivered signed to the inbox and processed by the worker: the row ends
`done` (the date dropped: a missing `published` is the moment we received it) or `ignored` with a
reason (an Event needs a start), never `pending` for a retry nor `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.follows import queries as follow_queries
from fedicity.posts import queries as post_queries
from fedicity.proposals import queries as proposal_queries
from fedicity.workers.inbox import process_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

BASE = "http://fedicity.test"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS_CONTEXT + "#Public"
CAMILLE = BASE + "/actors/camille"
ALICE = "https://social.invalid/users/alice"
KEY = fixed_keypairs()[3]

# Each has no moment in UTC that Python (and so the database driver) can hold, or no year at all.
EDGES = [
    "0001-01-01T00:30:00+01:00",  # year 1 east of UTC: before datetime.min once in UTC
    "0001-01-01T00:00:00Z",  # year 1 in UTC: any zone west of it overflows on display
    "9999-12-31T23:30:00-05:00",  # year 9999 west of UTC: after datetime.max once in UTC
    "10000-01-01T00:00:00Z",  # year 10000: no datetime at all
]


@dataclass
class Inbox:
    """Deliver signed activities from Alice to the app's inbox and run the worker over them."""

    app: Quart
    client: TestClientProtocol
    pool: Pool
    clock: FrozenClock

    async def receive(self, activity: dict[str, Any]) -> tuple[str, str | None]:
        """POST `activity` signed by Alice, process the mailbox once, return (state, reason)."""
        response = await post_signed(
            self.client,
            "/inbox",
            activity,
            key_id=ALICE + "#main-key",
            keypair=KEY,
            now=self.clock.now(),
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        state = self.app.extensions["fedicity"]
        await process_batch(
            self.pool, directory=state.fed.directory, urls=state.urls, clock=self.clock
        )
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, attempts, last_error FROM inbox_items WHERE activity_uri = $1",
                activity["id"],
            )
        assert row is not None
        # Settled on the first try: never left pending for a retry, which would fail the same way.
        assert row["state"] in {"done", "ignored"}, row["last_error"]
        assert row["attempts"] == 1
        return row["state"], row["last_error"]


@pytest.fixture
async def inbox(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> Inbox:
    """The inbox, with Alice of social.invalid known, and Camille here following her."""
    await seed_remote_actor(pool, ALICE, KEY, clock.now())
    async with pool.acquire() as conn:
        await actor_service.create_person(conn, "camille", keygen=keygen)
        await follow_queries.upsert_follow(
            conn,
            follower=CAMILLE,
            followee=ALICE,
            activity_uri=CAMILLE + "#follows/alice",
            accepted=True,
            now=clock.now(),
        )
    return Inbox(app, client, pool, clock)


def _create(number: int, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{ALICE}#create/{number}",
        "type": "Create",
        "actor": ALICE,
        "to": [PUBLIC],
        "object": document,
    }


@pytest.mark.parametrize("moment", EDGES)
async def test_a_note_dated_at_the_edge_is_stored_with_the_date_dropped(
    inbox: Inbox, pool: Pool, clock: FrozenClock, moment: str
) -> None:
    # Given a public Note from Alice, published and updated at an impossible moment
    note: dict[str, Any] = {
        "id": "https://social.invalid/notes/1",
        "type": "Note",
        "attributedTo": ALICE,
        "content": "<p>Bonjour</p>",
        "to": [PUBLIC, CAMILLE],
        "published": moment,
        "updated": moment,
    }
    # When it is delivered and processed
    state, reason = await inbox.receive(_create(1, note))
    # Then it is stored, dated when it reached us, with no edit date
    assert state == "done", reason
    async with pool.acquire() as conn:
        post = await post_queries.select_post(conn, note["id"])
    assert post is not None
    assert post.published == clock.now()
    assert post.updated is None


@pytest.mark.parametrize("moment", EDGES)
async def test_an_event_starting_at_the_edge_is_ignored_with_a_reason(
    inbox: Inbox, pool: Pool, moment: str
) -> None:
    # Given a public Event from Alice starting at an impossible moment
    event: dict[str, Any] = {
        "id": "https://social.invalid/events/1",
        "type": "Event",
        "name": "Réunion",
        "attributedTo": ALICE,
        "startTime": moment,
        "to": [PUBLIC],
    }
    # When it is delivered and processed
    state, reason = await inbox.receive(_create(2, event))
    # Then it is ignored, saying why, and nothing is kept
    assert (state, reason) == ("ignored", "the event has no valid startTime")
    async with pool.acquire() as conn:
        assert await event_queries.select_event(conn, event["id"]) is None


@pytest.mark.parametrize("moment", EDGES)
async def test_an_event_with_other_dates_at_the_edge_is_stored_without_them(
    inbox: Inbox, pool: Pool, clock: FrozenClock, moment: str
) -> None:
    # Given a public Event from Alice with a sound start, but published, ended and updated at
    # an impossible moment
    event: dict[str, Any] = {
        "id": "https://social.invalid/events/2",
        "type": "Event",
        "name": "Réunion",
        "attributedTo": ALICE,
        "startTime": "2026-05-02T10:00:00+02:00",
        "endTime": moment,
        "published": moment,
        "updated": moment,
        "to": [PUBLIC],
    }
    # When it is delivered and processed
    state, reason = await inbox.receive(_create(3, event))
    # Then it is stored with its start, and without the impossible dates
    assert state == "done", reason
    async with pool.acquire() as conn:
        stored = await event_queries.select_event(conn, event["id"])
    assert stored is not None
    assert stored.starts_at.isoformat() == "2026-05-02T08:00:00+00:00"
    assert stored.ends_at is None
    assert stored.published == clock.now()
    assert stored.updated is None


@pytest.mark.parametrize("moment", EDGES)
async def test_a_question_dated_at_the_edge_is_stored_with_the_dates_dropped(
    inbox: Inbox, pool: Pool, clock: FrozenClock, moment: str
) -> None:
    # Given a Mastodon-shaped poll from Alice, published, ending and updated at an impossible
    # moment
    question: dict[str, Any] = {
        "id": "https://social.invalid/questions/1",
        "type": "Question",
        "attributedTo": ALICE,
        "content": "<p>Un banc ici ?</p>",
        "to": [PUBLIC, CAMILLE],
        "published": moment,
        "updated": moment,
        "endTime": moment,
        "oneOf": [
            {"type": "Note", "name": "Oui", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "Non", "replies": {"type": "Collection", "totalItems": 1}},
        ],
    }
    # When it is delivered and processed
    state, reason = await inbox.receive(_create(4, question))
    # Then it is kept, as a post and as a proposal, dated when it reached us, with no end
    assert state == "done", reason
    async with pool.acquire() as conn:
        post = await post_queries.select_post(conn, question["id"])
        proposal = await proposal_queries.select_proposal(conn, question["id"])
    assert post is not None
    assert post.published == clock.now()
    assert proposal is not None
    assert proposal.published == clock.now()
    assert proposal.voting_ends is None
    assert proposal.updated is None
    assert proposal.remote_tallies == {"Oui": 3, "Non": 1}
