"""Taking part in events: the join rules, and the Accept/Reject/Join/Leave activities.

The rules, for an event of ours:
- cancelled or deleted: Reject;
- join mode `external`: Reject, pointing to the external participation URL;
- an actor the organiser removed: Reject;
- `invite`: Accept only an actor the organiser invited, Reject anyone else;
- `restricted`: pending until the organiser approves (Accept) or refuses (Reject);
- `free`: Accept while there is room, Reject when the capacity is reached.
An accepted participant who joins again is answered Accept again, without taking a second place.

The waiting list, when the organiser allows it: a Join that would be refused because the event is
full waits in line instead, unanswered (a restricted event still asks the organiser first, and an
approval when it is full puts the request in line). Each time a place opens (a participant leaves
or is removed, the capacity is raised), the first in line takes it, is told (a notification here,
the Accept of their Join for a remote actor), and the list moves up. Every change takes the
event's row lock first, so two people can never take the same last place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.activities import EMBEDDED, activity
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.events import queries
from fedicity.events.models import Event, Participation
from fedicity.notifications.service import notify
from fedicity.urls import Urls, new_token

Answer = Literal["accept", "pending", "wait", "reject"]
_STATE_OF_ANSWER = {
    "accept": "accepted",
    "pending": "pending",
    "wait": "waiting",
    "reject": "rejected",
}
# States that hold a place or a place in line, and that leaving or a removal ends.
_TAKING_PART = ("accepted", "waiting")
_KEPT_ON_REJECT = (*_TAKING_PART, "removed")
# The most people one opening promotes when the capacity is lifted altogether.
_MAX_PROMOTED = 10_000


@dataclass(frozen=True)
class Decision:
    """What to answer to a Join, and why."""

    answer: Answer
    reason: str


def decide(event: Event, *, accepted: int, current: Participation | None) -> Decision:
    """The answer to a Join of `event` by an actor whose participation is `current`."""
    if event.deleted_at is not None or event.status == "cancelled":
        return Decision("reject", "the event is cancelled")
    if current is not None and current.state == "accepted":
        return Decision("accept", "already taking part")
    if current is not None and current.state == "waiting":
        return Decision("wait", "already on the waiting list")
    if current is not None and current.state == "removed":
        return Decision("reject", "the organiser removed this participant")
    if event.join_mode == "external":
        return Decision("reject", "participation happens elsewhere")
    full = event.capacity is not None and accepted >= event.capacity
    when_full = (
        Decision("wait", "the event is full: on the waiting list")
        if event.waiting_list
        else Decision("reject", "the event is full")
    )
    if event.join_mode == "invite":
        if current is None or current.state != "invited":
            return Decision("reject", "this event is on invitation only")
        return when_full if full else Decision("accept", "invited")
    if event.join_mode == "restricted":
        if full and not event.waiting_list:
            return when_full
        return Decision("pending", "the organiser approves each participant")
    return when_full if full else Decision("accept", "open")


def _join_stub(join: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in join.items() if k != "@context"}


async def organizer_of(conn: Connection, event: Event) -> Actor:
    """The local actor organising a local event."""
    assert event.local_actor_id is not None
    actor = await actor_queries.select_actor_by_id(conn, event.local_actor_id)
    assert actor is not None
    return actor


async def send_answer(
    conn: Connection,
    *,
    event: Event,
    actor_uri: str,
    join: Mapping[str, Any],
    accept: bool,
    urls: Urls,
    clock: Clock,
) -> None:
    """Accept or Reject a Join, embedding it; sent to the participant only."""
    organizer = await organizer_of(conn, event)
    # A refusal of an event whose participation happens elsewhere says where.
    elsewhere = event.external_url if not accept and event.join_mode == "external" else None
    await publish(
        conn,
        actor=organizer,
        activity=activity(
            "Accept" if accept else "Reject",
            id=urls.activity(new_token()),
            actor=event.organizer_uri,
            object=_join_stub(join),
            to=[actor_uri],
            content=f"Inscription sur {elsewhere}" if elsewhere else None,
            externalParticipationUrl=elsewhere or None,
        ),
        audience=Audience(frozenset({actor_uri})),
        urls=urls,
        clock=clock,
    )


def _is_local(uri: str, urls: Urls) -> bool:
    return host_of(uri) == host_of(urls.base)


async def answer_join(
    conn: Connection,
    *,
    event: Event,
    actor_uri: str,
    join: Mapping[str, Any] | None,
    urls: Urls,
    clock: Clock,
) -> str:
    """Apply the rules to a Join of a local event; answer remote joiners. Returns the new state."""
    state, _decision = await decide_join(
        conn, event=event, actor_uri=actor_uri, join=join, urls=urls, clock=clock
    )
    return state


async def decide_join(
    conn: Connection,
    *,
    event: Event,
    actor_uri: str,
    join: Mapping[str, Any] | None,
    urls: Urls,
    clock: Clock,
) -> tuple[str, Decision]:
    """`answer_join`, also returning the decision (and its reason)."""
    async with conn.transaction():
        event = await queries.lock_event(conn, event.id) or event
        current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
        accepted = await queries.count_participants(conn, event.id)
        decision = decide(event, accepted=accepted, current=current)
        state = _STATE_OF_ANSWER[decision.answer]
        if current is not None and current.state in _KEPT_ON_REJECT and state == "rejected":
            # A cancelled event keeps its list, a removal stands; the Reject says why.
            state = current.state
        join_uri = join.get("id") if join is not None else None
        await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=actor_uri,
            state=state,
            join_uri=join_uri if isinstance(join_uri, str) else None,
            now=clock.now(),
        )
        if state in ("accepted", "pending", "waiting") and (
            current is None or current.state != state
        ):
            await notify(
                conn,
                recipient=event.organizer_uri,
                kind="rsvp",
                actor_uri=actor_uri,
                object_uri=event.uri,
                urls=urls,
                clock=clock,
            )
        # Pending and waiting Joins are answered later: when the organiser decides, when a
        # place opens.
        if (
            join is not None
            and not _is_local(actor_uri, urls)
            and decision.answer
            in (
                "accept",
                "reject",
            )
        ):
            await send_answer(
                conn,
                event=event,
                actor_uri=actor_uri,
                join=join,
                accept=decision.answer == "accept",
                urls=urls,
                clock=clock,
            )
    return state, decision


def _join_of(participation: Participation, event: Event) -> dict[str, Any]:
    """The Join an answer names: its recorded id (a stand-in for a Join we never saw)."""
    return activity(
        "Join",
        id=participation.join_uri or f"{participation.actor_uri}#join",
        actor=participation.actor_uri,
        object=event.uri,
        context=EMBEDDED,
    )


async def promote_waiting(conn: Connection, *, event: Event, urls: Urls, clock: Clock) -> list[str]:
    """Give the free places to those waiting, first in line first: each becomes a participant,
    is notified here or sent the Accept of their Join. Returns who was promoted. Run it in the
    transaction that freed the places."""
    async with conn.transaction():
        event = await queries.lock_event(conn, event.id) or event
        if event.deleted_at is not None or event.status == "cancelled":
            return []
        free = _MAX_PROMOTED
        if event.capacity is not None:
            free = event.capacity - await queries.count_participants(conn, event.id)
        if free <= 0:
            return []
        promoted = await queries.select_participants(
            conn, event.id, state="waiting", limit=min(free, _MAX_PROMOTED)
        )
        for waiting in promoted:
            await queries.set_participation(
                conn,
                event_id=event.id,
                actor_uri=waiting.actor_uri,
                state="accepted",
                join_uri=None,
                now=clock.now(),
            )
            await notify(
                conn,
                recipient=waiting.actor_uri,
                kind="waiting_list_promoted",
                actor_uri=event.organizer_uri,
                object_uri=event.uri,
                urls=urls,
                clock=clock,
            )
            if not _is_local(waiting.actor_uri, urls):
                await send_answer(
                    conn,
                    event=event,
                    actor_uri=waiting.actor_uri,
                    join=_join_of(waiting, event),
                    accept=True,
                    urls=urls,
                    clock=clock,
                )
    return [waiting.actor_uri for waiting in promoted]


async def decide_pending(
    conn: Connection,
    *,
    event: Event,
    actor_uri: str,
    approve: bool,
    urls: Urls,
    clock: Clock,
) -> bool:
    """The organiser approves or refuses a pending participant; whether there was one. An
    approval when the event is full puts the request in line when the event has a waiting list,
    and refuses it otherwise."""
    async with conn.transaction():
        event = await queries.lock_event(conn, event.id) or event
        current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
        if current is None or current.state != "pending":
            return False
        full = (
            event.capacity is not None
            and await queries.count_participants(conn, event.id) >= event.capacity
        )
        if approve and full and event.waiting_list:
            await queries.set_participation(
                conn,
                event_id=event.id,
                actor_uri=actor_uri,
                state="waiting",
                join_uri=None,
                now=clock.now(),
            )
            return True  # answered when a place opens
        if approve and full:
            approve = False
        await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=actor_uri,
            state="accepted" if approve else "rejected",
            join_uri=None,
            now=clock.now(),
        )
        await _tell_participant(
            conn, event=event, participation=current, accept=approve, urls=urls, clock=clock
        )
    return True


async def _tell_participant(
    conn: Connection,
    *,
    event: Event,
    participation: Participation,
    accept: bool,
    urls: Urls,
    clock: Clock,
) -> None:
    """The organiser's answer reaches the participant: a notification here, an Accept or a
    Reject of their Join on their server when they are remote."""
    actor_uri = participation.actor_uri
    await notify(
        conn,
        recipient=actor_uri,
        kind="rsvp_accepted" if accept else "rsvp_refused",
        actor_uri=event.organizer_uri,
        object_uri=event.uri,
        urls=urls,
        clock=clock,
    )
    if not _is_local(actor_uri, urls):
        await send_answer(
            conn,
            event=event,
            actor_uri=actor_uri,
            join=_join_of(participation, event),
            accept=accept,
            urls=urls,
            clock=clock,
        )


async def remove(
    conn: Connection, *, event: Event, actor_uri: str, urls: Urls, clock: Clock
) -> bool:
    """The organiser takes a participant (or someone waiting) off the event: a Join of theirs
    is refused from now on; they are told (a notification here, a Reject of their Join for a
    remote actor, as Mobilizon sends when an organiser rejects a participant), and the first
    in line takes the place. Whether there was such a participant."""
    async with conn.transaction():
        event = await queries.lock_event(conn, event.id) or event
        current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
        if current is None or current.state not in _TAKING_PART:
            return False
        await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=actor_uri,
            state="removed",
            join_uri=None,
            now=clock.now(),
        )
        await _tell_participant(
            conn, event=event, participation=current, accept=False, urls=urls, clock=clock
        )
        await promote_waiting(conn, event=event, urls=urls, clock=clock)
    return True


async def invite(conn: Connection, *, event: Event, actor_uri: str, clock: Clock) -> bool:
    """Put an actor on an invite-only event's list; False when they already have a state."""
    current = await queries.select_participation(conn, event.id, actor_uri)
    if current is not None and current.state not in ("left", "rejected", "interested", "removed"):
        return False
    await queries.set_participation(
        conn,
        event_id=event.id,
        actor_uri=actor_uri,
        state="invited",
        join_uri=None,
        now=clock.now(),
    )
    return True


async def leave(conn: Connection, *, event: Event, actor_uri: str, now: Any) -> bool:
    """A participant (accepted, pending or waiting) leaves; False for anyone else."""
    current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
    if current is None or current.state not in ("accepted", "pending", "waiting"):
        return False
    await queries.set_participation(
        conn, event_id=event.id, actor_uri=actor_uri, state="left", join_uri=None, now=now
    )
    return True


async def leave_event(
    conn: Connection, *, event: Event, actor_uri: str, urls: Urls, clock: Clock
) -> bool:
    """Someone leaves one of our events (or its waiting list); the first in line takes a place
    that opens. Whether they had a participation to leave."""
    async with conn.transaction():
        event = await queries.lock_event(conn, event.id) or event
        if not await leave(conn, event=event, actor_uri=actor_uri, now=clock.now()):
            return False
        await promote_waiting(conn, event=event, urls=urls, clock=clock)
    return True


async def join_remote(
    conn: Connection, *, actor: Actor, event: Event, urls: Urls, clock: Clock
) -> Participation:
    """A local actor asks to join a remote event: Join sent to the organiser, pending."""
    me = urls.actor(actor.username)
    join_uri = urls.activity(new_token())
    join = activity("Join", id=join_uri, actor=me, object=event.uri, to=[event.organizer_uri])
    # Written null, as Mobilizon writes it in its own Joins (the builder leaves out None members).
    join["participationMessage"] = None
    async with conn.transaction():
        found = await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=me,
            state="pending",
            join_uri=join_uri,
            now=clock.now(),
        )
        await publish(
            conn,
            actor=actor,
            activity=join,
            audience=Audience(frozenset({event.organizer_uri})),
            urls=urls,
            clock=clock,
        )
    return found


async def leave_remote(
    conn: Connection, *, actor: Actor, event: Event, urls: Urls, clock: Clock
) -> bool:
    """A local actor leaves a remote event: Leave sent to the organiser."""
    me = urls.actor(actor.username)
    async with conn.transaction():
        if not await leave(conn, event=event, actor_uri=me, now=clock.now()):
            return False
        await publish(
            conn,
            actor=actor,
            activity=activity(
                "Leave",
                id=urls.activity(new_token()),
                actor=me,
                object=event.uri,
                to=[event.organizer_uri],
            ),
            audience=Audience(frozenset({event.organizer_uri})),
            urls=urls,
            clock=clock,
        )
    return True
