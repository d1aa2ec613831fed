"""The waiting list of a full event and the organiser's attendees: joining the line, the first in
line promoted when a place opens (a participant leaves or is removed, the capacity is raised),
told by a notification here or by the Accept of their Join sent to their real server on loopback;
the last place taken by two people at once; the attendees page."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.activitypub.keys import KeyPair
from fedicity.events import participation, poll, queries
from fedicity.events import service as events
from fedicity.events.models import CANT, Event, Participation
from fedicity.urls import Urls
from fedicity.workers.delivery import deliver_batch
from fedicity.workers.inbox import process_batch
from tests.conftest import fixed_keypairs
from tests.events.test_events import (
    ALICE,
    BASE,
    PASSWORD,
    URLS,
    Served,
    _input,
    _log_in,
    served,
)
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.peer import Peer, running_peer

__all__ = ["served"]  # the fixture, imported for pytest
BROWSER = {"Accept": "text/html"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}


async def _citizens(served: Served, *names: str, locale: str = "en") -> list[str]:
    """Local accounts; their actor ids."""
    async with served.pool.acquire() as conn:
        for name in names:
            await accounts.register(
                conn, username=name, password=PASSWORD, keygen=served.keygen, locale=locale
            )
    return [URLS.actor(name) for name in names]


async def _join_locally(served: Served, event: Event, actor: str) -> str:
    async with served.pool.acquire() as conn:
        return await participation.answer_join(
            conn, event=event, actor_uri=actor, join=None, urls=URLS, clock=served.clock
        )


async def _participation(served: Served, event: Event, actor: str) -> Participation | None:
    async with served.pool.acquire() as conn:
        return await queries.select_participation(conn, event.id, actor)


async def _position(served: Served, event: Event, actor: str) -> int | None:
    found = await _participation(served, event, actor)
    if found is None or found.waiting_rank is None:
        return None
    async with served.pool.acquire() as conn:
        return await queries.waiting_position(conn, event.id, found.waiting_rank)


async def _kinds_of_notifications(served: Served, username: str) -> list[tuple[str, str]]:
    async with served.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT n.kind, n.object_uri FROM notifications n
                 JOIN actors a ON a.id = n.recipient_id
                WHERE a.username = $1 ORDER BY n.id""",
            username,
        )
    return [(row["kind"], row["object_uri"]) for row in rows]


async def test_a_full_event_keeps_a_line_and_the_first_takes_the_place_that_opens(
    served: Served,
) -> None:
    # Given an event for one person with a waiting list, and Dominique who took the place
    event = await served.create(_input(capacity=1, waiting_list=True))
    dominique, lea, noe = await _citizens(served, "dominique", "lea", "noe")
    assert await _join_locally(served, event, dominique) == "accepted"
    # When Léa then Noé ask, they wait in line, in that order, and take no place
    assert await _join_locally(served, event, lea) == "waiting"
    assert await _join_locally(served, event, noe) == "waiting"
    assert await served.count(event) == 1
    assert (await _position(served, event, lea), await _position(served, event, noe)) == (1, 2)
    # And asking again keeps one's place in line
    assert await _join_locally(served, event, lea) == "waiting"
    assert await _position(served, event, lea) == 1
    # When Dominique leaves
    async with served.pool.acquire() as conn:
        assert await participation.leave_event(
            conn, event=event, actor_uri=dominique, urls=URLS, clock=served.clock
        )
    # Then Léa takes the place and is told, and Noé moves up
    found = await _participation(served, event, lea)
    assert found is not None
    assert (found.state, found.waiting_rank) == ("accepted", None)
    assert await served.count(event) == 1
    assert ("waiting_list_promoted", event.uri) in await _kinds_of_notifications(served, "lea")
    assert await _position(served, event, noe) == 1
    # And leaving the line frees nobody's place but takes Noé off it
    async with served.pool.acquire() as conn:
        assert await participation.leave_event(
            conn, event=event, actor_uri=noe, urls=URLS, clock=served.clock
        )
    assert (await _participation(served, event, noe)) is not None
    assert await _position(served, event, noe) is None
    assert await served.count(event) == 1


async def test_without_a_waiting_list_a_full_event_still_refuses(served: Served) -> None:
    event = await served.create(_input(capacity=1))
    dominique, lea = await _citizens(served, "dominique", "lea")
    assert await _join_locally(served, event, dominique) == "accepted"
    assert await _join_locally(served, event, lea) == "rejected"


async def test_raising_the_capacity_gives_the_new_places_to_those_waiting(served: Served) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    people = await _citizens(served, "dominique", "lea", "noe", "sacha")
    for person in people:
        await _join_locally(served, event, person)
    assert await served.count(event) == 1
    # When the organiser makes room for two more
    async with served.pool.acquire() as conn:
        updated = await events.update_event(
            conn,
            actor=served.camille,
            event=event,
            data=dataclasses.replace(events.input_of(event), capacity=3),
            place=await served.montreuil(),
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    # Then the first two in line take them, and the Update says three take part
    assert updated.capacity == 3
    states = [(await _participation(served, event, p)) for p in people]
    assert [s.state if s else None for s in states] == [
        "accepted",
        "accepted",
        "accepted",
        "waiting",
    ]
    [update, _poll_update] = await served.outbox("Update")
    assert update["object"]["participantCount"] == 3
    assert update["object"]["remainingAttendeeCapacity"] == 0
    # And lifting the limit takes everyone in
    async with served.pool.acquire() as conn:
        await events.update_event(
            conn,
            actor=served.camille,
            event=updated,
            data=dataclasses.replace(events.input_of(updated), capacity=None),
            place=None,
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    assert await served.count(event) == 4


async def test_a_cancelled_event_promotes_nobody(served: Served) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    dominique, lea = await _citizens(served, "dominique", "lea")
    await _join_locally(served, event, dominique)
    await _join_locally(served, event, lea)
    async with served.pool.acquire() as conn:
        cancelled = await events.cancel_event(
            conn,
            actor=served.camille,
            event=event,
            place=None,
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
        await participation.leave_event(
            conn, event=cancelled, actor_uri=dominique, urls=URLS, clock=served.clock
        )
    found = await _participation(served, event, lea)
    assert found is not None
    assert found.state == "waiting"
    # Joining again is answered with the cancellation but keeps her in line
    assert await _join_locally(served, cancelled, lea) == "waiting"


async def test_a_restricted_event_approves_into_the_line_when_it_is_full(served: Served) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True, join_mode="restricted"))
    dominique, lea = await _citizens(served, "dominique", "lea")
    assert await _join_locally(served, event, dominique) == "pending"
    assert await _join_locally(served, event, lea) == "pending"
    async with served.pool.acquire() as conn:
        for person in (dominique, lea):
            assert await participation.decide_pending(
                conn, event=event, actor_uri=person, approve=True, urls=URLS, clock=served.clock
            )
    dominique_now = await _participation(served, event, dominique)
    lea_now = await _participation(served, event, lea)
    assert dominique_now is not None
    assert lea_now is not None
    assert (dominique_now.state, lea_now.state) == ("accepted", "waiting")


async def test_a_cannot_come_on_the_companion_poll_frees_the_place_for_the_first_in_line(
    served: Served,
) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    [dominique] = await _citizens(served, "dominique")
    async with served.pool.acquire() as conn:
        await participation.answer_join(
            conn, event=event, actor_uri=ALICE, join=None, urls=URLS, clock=served.clock
        )
    await _join_locally(served, event, dominique)
    async with served.pool.acquire() as conn:
        # Alice (from Mastodon) now answers « Je ne peux pas »
        assert (
            await poll.answer(
                conn, event=event, voter=ALICE, option=CANT, urls=URLS, clock=served.clock
            )
            == "left"
        )
    found = await _participation(served, event, dominique)
    assert found is not None
    assert found.state == "accepted"


# --- the last place, taken by two at once ------------------------------------------------------


async def _csrf(client: TestClientProtocol, path: str) -> str:
    page = await (await client.get(path, headers=BROWSER)).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize("waiting_list", [True, False], ids=["waiting-list", "no-list"])
async def test_the_last_place_taken_by_many_at_once_goes_to_one(
    served: Served, waiting_list: bool
) -> None:
    # Given an event with one place left, and ten citizens logged in, each in their own session
    event = await served.create(_input(capacity=2, waiting_list=waiting_list))
    names = [f"citoyen{n}" for n in range(10)]
    await _citizens(served, "premier", *names)
    await _join_locally(served, event, URLS.actor("premier"))
    path = event.uri.removeprefix(BASE)
    clients = []
    for name in names:
        client = served.app.test_client()
        await _log_in(client, name)
        clients.append((client, await _csrf(client, path)))

    # When they all press « Take part » at the same moment
    async def press(client: TestClientProtocol, csrf: str) -> int:
        response = await client.post(path + "/participate", form={"csrf_token": csrf})
        return response.status_code

    statuses = await asyncio.gather(*(press(client, csrf) for client, csrf in clients))
    assert set(statuses) == {303}
    # Then the event holds exactly its two places
    assert await served.count(event) == 2
    async with served.pool.acquire() as conn:
        counts = await queries.count_by_state(conn, event.id)
        line = await queries.select_participants(conn, event.id, state="waiting", limit=50)
    if waiting_list:
        # And the nine others wait, each with a place in line of their own
        assert counts == {"accepted": 2, "waiting": 9}
        assert len({p.waiting_rank for p in line}) == 9
    else:
        assert counts == {"accepted": 2, "rejected": 9}
    # And the count each Update published never said more than the capacity
    published = [
        u["object"] for u in await served.outbox("Update") if u["object"]["type"] == "Event"
    ]
    assert published
    assert max(u["participantCount"] for u in published) == 2


# --- remote participants: kept waiting, accepted when promoted, rejected when removed ----------


@dataclasses.dataclass
class Remote:
    """A fediverse server on loopback with one actor, known here with her key."""

    peer: Peer
    uri: str
    keypair: KeyPair

    def join(self, event: Event, number: int = 1) -> dict[str, Any]:
        """A Mobilizon-shaped Join of `event` by this actor."""
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.peer.url(f"/join/event/{number}"),
            "type": "Join",
            "actor": self.uri,
            "object": event.uri,
            "participationMessage": None,
        }


@pytest.fixture
async def remote(served: Served) -> AsyncIterator[Remote]:
    """Rémi, on a real server of his own on 127.0.0.1."""
    keypair = fixed_keypairs()[5]
    async with running_peer() as peer:
        uri = peer.publish_actor("remi", keypair)
        await seed_remote_actor(served.pool, uri, keypair, served.clock.now())
        yield Remote(peer, uri, keypair)


async def _receive(served: Served, remote: Remote, activity: dict[str, Any]) -> tuple[str, str]:
    """POST an activity signed by the remote actor to our inbox, run the worker."""
    response = await post_signed(
        served.client,
        "/inbox",
        activity,
        key_id=remote.uri + "#main-key",
        keypair=remote.keypair,
        now=served.clock.now(),
    )
    assert response.status_code == 202, await response.get_data(as_text=True)
    await process_batch(
        served.pool,
        directory=served.state.fed.directory,
        urls=URLS,
        clock=served.clock,
        keygen=served.keygen,
    )
    async with served.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1", activity["id"]
        )
    assert row is not None
    return row["state"], row["last_error"] or ""


async def _deliver(served: Served, urls: Urls = URLS) -> None:
    """Run the delivery worker: our POSTs go to the peers over real HTTP."""
    async with new_delivery_client(allow_private_addresses=True) as client:
        await deliver_batch(served.pool, client, urls=urls, clock=served.clock)


def _answers(remote: Remote) -> list[dict[str, Any]]:
    return [a for a in remote.peer.received_json() if a.get("type") in ("Accept", "Reject")]


async def test_a_remote_join_of_a_full_event_waits_and_is_accepted_on_its_server_when_promoted(
    served: Served, remote: Remote
) -> None:
    # Given a full event with a waiting list
    event = await served.create(_input(capacity=1, waiting_list=True))
    [dominique] = await _citizens(served, "dominique")
    await _join_locally(served, event, dominique)
    # When Rémi joins from his server, he waits: neither Accept nor Reject
    join = remote.join(event)
    assert await _receive(served, remote, join) == ("done", "waiting")
    await _deliver(served)
    assert _answers(remote) == []
    assert await served.outbox("Reject") == []
    assert await _position(served, event, remote.uri) == 1
    # When Dominique leaves through the page
    csrf = await _log_in(served.client, "dominique")
    await served.client.post(event.uri.removeprefix(BASE) + "/leave", form={"csrf_token": csrf})
    # Then his server receives the Accept of his very Join, signed by the organiser
    await _deliver(served)
    [accept] = _answers(remote)
    assert accept["type"] == "Accept"
    assert accept["actor"] == URLS.actor("camille")
    assert accept["object"]["id"] == join["id"]
    assert accept["object"]["actor"] == remote.uri
    assert accept["object"]["object"] == event.uri
    posted = [seen for seen in remote.peer.requests if seen.method == "POST"]
    assert posted
    found = await _participation(served, event, remote.uri)
    assert found is not None
    assert found.state == "accepted"
    # And the new count went to his server too
    assert any(
        a.get("type") == "Update" and a["object"].get("participantCount") == 1
        for a in remote.peer.received_json()
    )


async def test_a_remote_join_of_a_full_event_without_a_list_is_rejected(
    served: Served, remote: Remote
) -> None:
    event = await served.create(_input(capacity=1))
    [dominique] = await _citizens(served, "dominique")
    await _join_locally(served, event, dominique)
    assert await _receive(served, remote, remote.join(event)) == ("done", "rejected")
    await _deliver(served)
    [reject] = _answers(remote)
    assert reject["type"] == "Reject"
    assert reject["object"]["id"] == remote.join(event)["id"]


async def test_the_organiser_removes_a_remote_participant_who_gets_a_reject_and_cannot_rejoin(
    served: Served, remote: Remote
) -> None:
    # Given Rémi taking the only place, and Léa (local) waiting
    event = await served.create(_input(capacity=1, waiting_list=True))
    assert await _receive(served, remote, remote.join(event)) == ("done", "accepted")
    [lea] = await _citizens(served, "lea")
    await _join_locally(served, event, lea)
    await _deliver(served)
    assert [a["type"] for a in _answers(remote)] == ["Accept"]
    # When the organiser removes him from the attendees page
    csrf = await _log_in(served.client, "camille")
    response = await served.client.post(
        event.uri.removeprefix(BASE) + "/participants/remove",
        form={"csrf_token": csrf, "actor": remote.uri},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/participants")
    # Then his server is sent the Reject of his Join, as Mobilizon does for a rejected participant
    await _deliver(served)
    [_accept, reject] = _answers(remote)
    assert reject["type"] == "Reject"
    assert reject["object"]["id"] == remote.join(event)["id"]
    assert reject["object"]["actor"] == remote.uri
    # And Léa takes the place and is told
    found = await _participation(served, event, lea)
    assert found is not None
    assert found.state == "accepted"
    assert ("waiting_list_promoted", event.uri) in await _kinds_of_notifications(served, "lea")
    # And a new Join of his is refused
    assert await _receive(served, remote, remote.join(event, 2)) == ("done", "removed")
    await _deliver(served)
    assert [a["type"] for a in _answers(remote)] == ["Accept", "Reject", "Reject"]


async def test_a_removed_local_participant_is_told(served: Served) -> None:
    event = await served.create(_input(capacity=5))
    [dominique] = await _citizens(served, "dominique")
    await _join_locally(served, event, dominique)
    async with served.pool.acquire() as conn:
        assert await participation.remove(
            conn, event=event, actor_uri=dominique, urls=URLS, clock=served.clock
        )
        # Removing someone who does not take part changes nothing
        assert not await participation.remove(
            conn, event=event, actor_uri=dominique, urls=URLS, clock=served.clock
        )
    assert ("rsvp_refused", event.uri) in await _kinds_of_notifications(served, "dominique")
    assert await _join_locally(served, event, dominique) == "removed"
    assert await served.count(event) == 0
    page = served.app.test_client()
    await _log_in(page, "dominique")
    text = await (await page.get(event.uri.removeprefix(BASE), headers=ENGLISH)).get_data(
        as_text=True
    )
    assert "The organiser removed you from this event." in text
    assert "/participate" not in text


# --- the pages ---------------------------------------------------------------------------------


async def test_a_citizen_joins_the_waiting_list_from_the_page_sees_her_place_and_leaves_it(
    served: Served,
) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    [dominique] = await _citizens(served, "dominique")
    await _join_locally(served, event, dominique)
    await _citizens(served, "lea", locale="fr")
    path = event.uri.removeprefix(BASE)
    lea = served.app.test_client()
    csrf = await _log_in(lea, "lea")
    # The full event says so, in French, and offers the waiting list
    page = await (await lea.get(path, headers=BROWSER)).get_data(as_text=True)
    assert "Cet événement est complet." in page
    assert "Rejoindre la liste d&#39;attente" in page or "Rejoindre la liste d'attente" in page
    assert "Participer</button>" not in page
    # In English too
    english = served.app.test_client()
    await _citizens(served, "noe")
    await _log_in(english, "noe")
    page = await (await english.get(path, headers=ENGLISH)).get_data(as_text=True)
    assert "This event is full." in page
    assert "Join the waiting list</button>" in page
    # When she joins it, she sees her place in line and can leave the line
    await lea.post(path + "/participate", form={"csrf_token": csrf})
    page = await (await lea.get(path, headers=BROWSER)).get_data(as_text=True)
    assert "en position 1" in page
    assert "Quitter la liste d" in page
    assert "1 sur la liste d" in page
    await lea.post(path + "/leave", form={"csrf_token": csrf})
    found = await _participation(served, event, URLS.actor("lea"))
    assert found is not None
    assert found.state == "left"
    # Her state reads in French too (it once read « You left this event. » on French pages)
    page = await (await lea.get(path, headers=BROWSER)).get_data(as_text=True)
    assert "Vous avez quitté cet événement." in page
    assert "You left" not in page
    # A visitor who is not logged in is told it is full, and to log in for the waiting list
    visitor = served.app.test_client()
    page = await (await visitor.get(path, headers=ENGLISH)).get_data(as_text=True)
    assert "This event is full. Log in to join the waiting list." in page


async def test_the_organiser_manages_attendees_by_name_with_counts(served: Served) -> None:
    # Given an event on approval for one person, with a waiting list
    event = await served.create(_input(capacity=1, waiting_list=True, join_mode="restricted"))
    dominique, lea, noe = await _citizens(served, "dominique", "lea", "noe")
    for person in (dominique, lea, noe):
        await _join_locally(served, event, person)
    async with served.pool.acquire() as conn:
        await participation.decide_pending(
            conn, event=event, actor_uri=dominique, approve=True, urls=URLS, clock=served.clock
        )
        await participation.decide_pending(
            conn, event=event, actor_uri=lea, approve=True, urls=URLS, clock=served.clock
        )
    path = event.uri.removeprefix(BASE) + "/participants"
    # A visitor is sent to log in, another citizen is refused
    visitor = served.app.test_client()
    response = await visitor.get(path, headers=ENGLISH)
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]
    other = served.app.test_client()
    await _log_in(other, "noe")
    assert (await other.get(path, headers=ENGLISH)).status_code == 403
    csrf = await _log_in(other, "noe")
    refused = await other.post(path + "/remove", form={"csrf_token": csrf, "actor": dominique})
    assert refused.status_code == 403
    # The organiser sees each list by name, with its state and the counts (in English, chosen)
    csrf = await _log_in(served.client, "camille")
    await served.client.get("/events?lang=en", headers=BROWSER)
    page = await (await served.client.get(path, headers=ENGLISH)).get_data(as_text=True)
    assert "1 going" in page
    assert "1 on the waiting list" in page
    assert "1 awaiting approval" in page
    going = page.split('class="attendee-list accepted"', 1)[1].split("</section>", 1)[0]
    waiting = page.split('class="attendee-list waiting"', 1)[1].split("</section>", 1)[0]
    pending = page.split('class="attendee-list pending"', 1)[1].split("</section>", 1)[0]
    assert "@dominique@fedicity.test" in going
    assert "takes part" in going
    assert "@lea@fedicity.test" in waiting
    assert "number 1 in line" in waiting
    assert "@noe@fedicity.test" in pending
    assert 'value="approve"' in pending
    assert "/actors/" not in re.sub(r'(href|value)="[^"]*"', "", going + waiting + pending)
    # Removing asks once more, with no script
    assert re.search(
        r'<details class="confirm"><summary>Remove</summary><form method="post" '
        r'action="[^"]*/participants/remove"',
        going,
    )
    # The event page shows the counts and links the attendees page
    event_page = await (
        await served.client.get(event.uri.removeprefix(BASE), headers=ENGLISH)
    ).get_data(as_text=True)
    attendees = event_page.split('class="attendees"', 1)[1].split("</section>", 1)[0]
    assert "1 going · 1 on the waiting list · 1 awaiting approval" in attendees
    assert "Manage attendees and answer the requests" in attendees
    # Approving Noé when the event is full puts him in line, after Léa
    response = await served.client.post(
        path.removesuffix("/participants") + "/participants",
        form={"csrf_token": csrf, "actor": noe, "decision": "approve"},
    )
    assert response.status_code == 303
    assert await _position(served, event, noe) == 2
    # Removing Dominique gives Léa the place
    await served.client.post(path + "/remove", form={"csrf_token": csrf, "actor": dominique})
    found = await _participation(served, event, lea)
    assert found is not None
    assert found.state == "accepted"
    assert await _position(served, event, noe) == 1
    # Lists page by keyset; what makes no sense is a 400, never a 500
    one = await served.client.get(path + "?state=waiting", headers=ENGLISH)
    assert one.status_code == 200
    assert 'class="attendee-list accepted"' not in await one.get_data(as_text=True)
    for bad in ("?state=bogus", "?state=waiting&after=abc", "?state=accepted&after=-1"):
        assert (await served.client.get(path + bad, headers=ENGLISH)).status_code == 400, bad
    for form in ({"csrf_token": csrf}, {"csrf_token": csrf, "actor": "x" * 5000}):
        assert (await served.client.post(path + "/remove", form=form)).status_code == 400


async def test_the_attendees_lists_page_through_a_long_line(served: Served) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    async with served.pool.acquire() as conn:
        for n in range(53):
            await participation.answer_join(
                conn,
                event=event,
                actor_uri=f"https://far.invalid/users/u{n:02d}",
                join=None,
                urls=URLS,
                clock=served.clock,
            )
    await _log_in(served.client, "camille")
    await served.client.get("/events?lang=en", headers=BROWSER)
    path = event.uri.removeprefix(BASE) + "/participants?state=waiting"
    first = await (await served.client.get(path, headers=ENGLISH)).get_data(as_text=True)
    # u00 took the place; u01 to u52 wait, fifty a page
    assert "@u00@far.invalid" not in first
    assert "@u01@far.invalid" in first
    assert "@u50@far.invalid" in first
    assert "@u51@far.invalid" not in first
    more = re.search(r'href="([^"]*after=\d+)"', first)
    assert more is not None
    second = await (
        await served.client.get(more.group(1).replace("&amp;", "&"), headers=ENGLISH)
    ).get_data(as_text=True)
    assert "@u50@far.invalid" not in second
    assert "@u51@far.invalid" in second
    assert "number 52 in line" in second
    assert '<ol start="51"' in second


async def test_the_form_offers_the_waiting_list_and_keeps_it(served: Served) -> None:
    csrf = await _log_in(served.client, "camille")
    form = await (await served.client.get("/events/new", headers=ENGLISH)).get_data(as_text=True)
    assert 'name="waiting_list"' in form
    response = await served.client.post(
        "/events",
        form={
            "csrf_token": csrf,
            "title": "Atelier vélo",
            "starts_at": "2026-04-04T14:00",
            "place_name": "Garage solidaire",
            "capacity": "1",
            "waiting_list": "on",
        },
    )
    assert response.status_code == 303
    event = await served.event(BASE + response.headers["Location"])
    assert event is not None
    assert event.waiting_list
    edit = await (await served.client.get(event.uri + "/edit")).get_data(as_text=True)
    assert re.search(r'name="waiting_list" checked', edit)


async def test_the_promoted_citizen_reads_it_in_her_notifications(served: Served) -> None:
    event = await served.create(_input(capacity=1, waiting_list=True))
    dominique, lea = await _citizens(served, "dominique", "lea", locale="fr")
    await _join_locally(served, event, dominique)
    await _join_locally(served, event, lea)
    async with served.pool.acquire() as conn:
        await participation.leave_event(
            conn, event=event, actor_uri=dominique, urls=URLS, clock=served.clock
        )
    client = served.app.test_client()
    await _log_in(client, "lea")
    page = await (await client.get("/notifications", headers=BROWSER)).get_data(as_text=True)
    assert "Une place s&#39;est libérée" in page or "Une place s'est libérée" in page
    assert "Camille" in page or "camille" in page
    assert f'href="{event.uri}"' in page
    english = await (await client.get("/notifications?lang=en", headers=BROWSER)).get_data(
        as_text=True
    )
    assert "A place opened up at" in english
    assert "you are off the waiting list and take part" in english
