"""Taking part in events: the join rules, and the Accept/Reject/Join/Leave activities.

The rules, for an event of ours:
- cancelled or deleted: Reject;
- join mode `external`: Reject, pointing to the external participation URL;
- `invite`: Accept only an actor the organiser invited, Reject anyone else;
- `restricted`: pending until the organiser approves (Accept) or refuses (Reject);
- `free`: Accept while there is room, Reject when the capacity is reached.
An accepted participant who joins again is answered Accept again, without taking a second place.
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

Answer = Literal["accept", "pending", "reject"]


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
    if event.join_mode == "external":
        return Decision("reject", "participation happens elsewhere")
    full = event.capacity is not None and accepted >= event.capacity
    if event.join_mode == "invite":
        if current is None or current.state != "invited":
            return Decision("reject", "this event is on invitation only")
        return Decision("reject", "the event is full") if full else Decision("accept", "invited")
    if full:
        return Decision("reject", "the event is full")
    if event.join_mode == "restricted":
        return Decision("pending", "the organiser approves each participant")
    return Decision("accept", "open")


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
        await queries.lock_event(conn, event.id)
        current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
        accepted = await queries.count_participants(conn, event.id)
        decision = decide(event, accepted=accepted, current=current)
        state = {"accept": "accepted", "pending": "pending", "reject": "rejected"}[decision.answer]
        if current is not None and current.state == "accepted" and state == "rejected":
            state = "accepted"  # a cancelled event keeps its list; the Reject says why
        join_uri = join.get("id") if join is not None else None
        await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=actor_uri,
            state=state,
            join_uri=join_uri if isinstance(join_uri, str) else None,
            now=clock.now(),
        )
        if state in ("accepted", "pending") and (current is None or current.state != state):
            await notify(
                conn,
                recipient=event.organizer_uri,
                kind="rsvp",
                actor_uri=actor_uri,
                object_uri=event.uri,
                urls=urls,
                clock=clock,
            )
        if join is not None and not _is_local(actor_uri, urls) and decision.answer != "pending":
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


async def decide_pending(
    conn: Connection,
    *,
    event: Event,
    actor_uri: str,
    approve: bool,
    urls: Urls,
    clock: Clock,
) -> bool:
    """The organiser approves or refuses a pending participant; whether there was one."""
    async with conn.transaction():
        await queries.lock_event(conn, event.id)
        current = await queries.select_participation(conn, event.id, actor_uri, lock=True)
        if current is None or current.state != "pending":
            return False
        if (
            approve
            and event.capacity is not None
            and await queries.count_participants(conn, event.id) >= event.capacity
        ):
            approve = False
        await queries.set_participation(
            conn,
            event_id=event.id,
            actor_uri=actor_uri,
            state="accepted" if approve else "rejected",
            join_uri=None,
            now=clock.now(),
        )
        await notify(
            conn,
            recipient=actor_uri,
            kind="rsvp_accepted" if approve else "rsvp_refused",
            actor_uri=event.organizer_uri,
            object_uri=event.uri,
            urls=urls,
            clock=clock,
        )
        if not _is_local(actor_uri, urls):
            join = activity(
                "Join",
                id=current.join_uri or f"{actor_uri}#join",
                actor=actor_uri,
                object=event.uri,
                context=EMBEDDED,
            )
            await send_answer(
                conn,
                event=event,
                actor_uri=actor_uri,
                join=join,
                accept=approve,
                urls=urls,
                clock=clock,
            )
    return True


async def invite(conn: Connection, *, event: Event, actor_uri: str, clock: Clock) -> bool:
    """Put an actor on an invite-only event's list; False when they already have a state."""
    current = await queries.select_participation(conn, event.id, actor_uri)
    if current is not None and current.state not in ("left", "rejected", "interested"):
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
    """A participant (accepted or pending) leaves; False for anyone else."""
    current = await queries.select_participation(conn, event.id, actor_uri)
    if current is None or current.state not in ("accepted", "pending"):
        return False
    await queries.set_participation(
        conn, event_id=event.id, actor_uri=actor_uri, state="left", join_uri=None, now=now
    )
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
