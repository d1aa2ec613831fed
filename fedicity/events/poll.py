"""The Mastodon companion poll of a local event.

Mastodon shows a remote `Event` as a plain status and offers no way to take part, so each local
public event also publishes a separate `Question` at `EVENT/poll` ("J'y vais / Peut-être / Je ne
peux pas"), attributed to the organiser and pointing back at the event (`url`); the `Event` names
it in `fc:companionPoll`. A Mastodon vote, `Create(Note{name: OPTION, inReplyTo: EVENT/poll})`, is
participation:

- "J'y vais": a Join under the event's rules (cancelled, external, invite-only, capacity,
  approval). Accepted: the voter takes a place. Pending (restricted) or refused: the vote takes no
  place and the organiser sends the voter a direct Note saying why (Mastodon ignores a Reject).
- "Peut-être": the voter is counted as interested; a place they held is freed (the first on the
  waiting list takes it).
- "Je ne peux pas": a Leave; the voter is counted among those who cannot come.

The poll's counts are the participation states (accepted, interested, left), so they go out as
`Update(Question)` after each edit or cancellation, and after each participation change that moves
them (a vote, a Join or Leave, a page button, an approval), together with an `Update(Event)`
carrying the new `participantCount`: see `counts_published`. The poll ends when the event starts.
Its documents are written by `events.document`; votes arrive through `events.inbound`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.events import participation, queries
from fedicity.events.document import (
    event_activity,
    event_to_ap,
    poll_activity,
    poll_to_ap,
    tombstone,
    vote_refusal_note,
)
from fedicity.events.models import GOING, MAYBE, STATE_OF_OPTION, Event
from fedicity.urls import Urls, new_token

# Why a "J'y vais" took no place, in the voter's words.
_EXPLANATIONS = {
    "the event is cancelled": "cet événement est annulé, votre réponse n'a pas été comptée.",
    "participation happens elsewhere": (
        "l'inscription se fait sur le site de l'organisateur : {url}"
    ),
    "this event is on invitation only": (
        "cet événement est sur invitation, votre réponse n'a pas été comptée."
    ),
    "the event is full": "cet événement est complet, votre réponse n'a pas été comptée.",
    "the organiser approves each participant": (
        "l'organisateur valide chaque participation, votre demande est en attente."
    ),
    "the event is full: on the waiting list": (
        "cet événement est complet : vous êtes sur la liste d'attente et prendrez la première "
        "place qui se libère."
    ),
    "already on the waiting list": (
        "cet événement est complet : vous êtes déjà sur la liste d'attente."
    ),
    "the organiser removed this participant": (
        "l'organisateur vous a retiré de cet événement, votre réponse n'a pas été comptée."
    ),
}


def has_poll(event: Event) -> bool:
    """Whether an event has a companion poll: local and public ones."""
    return event.is_local and event.public


async def tallies(conn: Connection, event: Event) -> dict[str, int]:
    """Count per option, from the participation states."""
    by_state = await queries.count_by_state(conn, event.id)
    return {option: by_state.get(state, 0) for option, state in STATE_OF_OPTION.items()}


async def _remote_voters(conn: Connection, event: Event, urls: Urls) -> frozenset[str]:
    local = host_of(urls.base)
    return frozenset(
        uri
        for uri in await queries.select_participant_uris(conn, event.id)
        if host_of(uri) != local
    )


async def publish_poll(
    conn: Connection, *, actor: Actor, event: Event, kind: str, urls: Urls, clock: Clock
) -> None:
    """Send the poll (`Create`, `Update` with the current counts, or `Delete`) to the
    organiser's followers and every remote voter (never listed in the addressing)."""
    if not has_poll(event):
        return
    poll_uri = urls.companion_poll(event.uri)
    if kind == "Delete":
        document = tombstone(poll_uri, "Question")
    else:
        document = poll_to_ap(event, await tallies(conn, event), urls, with_context=False)
    activity_id = urls.create_activity(poll_uri) if kind == "Create" else urls.activity(new_token())
    await publish(
        conn,
        actor=actor,
        activity=poll_activity(kind, event, urls, id=activity_id, object=document),
        audience=Audience(await _remote_voters(conn, event, urls), followers=True),
        urls=urls,
        clock=clock,
    )


async def _publish_participant_count(
    conn: Connection, *, actor: Actor, event: Event, count: int, urls: Urls, clock: Clock
) -> None:
    """Update(Event) with the new participantCount, to the organiser's followers and every
    remote participant (territories do not announce it again: only the count changed)."""
    audience_uri = None
    if event.territory_id is not None:
        place_actor = await actor_queries.select_territory_actor(conn, event.territory_id)
        audience_uri = urls.actor(place_actor.username) if place_actor is not None else None
    document = event_to_ap(
        event, urls, participant_count=count, audience_uri=audience_uri, with_context=False
    )
    update = event_activity(
        "Update",
        event,
        urls,
        id=urls.activity(new_token()),
        object=document,
        audience_uri=audience_uri,
    )
    await publish(
        conn,
        actor=actor,
        activity=update,
        audience=Audience(await _remote_voters(conn, event, urls), followers=True),
        urls=urls,
        clock=clock,
    )


@asynccontextmanager
async def counts_published(
    conn: Connection, event: Event, *, urls: Urls, clock: Clock
) -> AsyncIterator[None]:
    """Wrap a participation change of a local event (run it inside the caller's transaction):
    afterwards, when the counts moved, one `Update(Event)` (participantCount) and one
    `Update(Question)` (the poll's tallies) go out. Nothing moved (a second Join of a
    participant, a Leave of a non-participant, a repeated vote, a pending request): nothing is
    sent, so repeated activities cause no storm of Updates."""
    before = await tallies(conn, event) if event.is_local else None
    yield
    if before is None or event.deleted_at is not None:
        return
    after = await tallies(conn, event)
    if after == before:
        return
    organizer = await participation.organizer_of(conn, event)
    await _publish_participant_count(
        conn, actor=organizer, event=event, count=after[GOING], urls=urls, clock=clock
    )
    await publish_poll(conn, actor=organizer, event=event, kind="Update", urls=urls, clock=clock)


async def _explain(
    conn: Connection, *, event: Event, voter: str, reason: str, urls: Urls, clock: Clock
) -> None:
    """A direct Note from the organiser telling a voter why "J'y vais" took no place."""
    remote = await actor_queries.select_remote_actor(conn, voter)
    handle = f"@{remote.username}@{remote.domain}" if remote and remote.username else voter
    why = _EXPLANATIONS.get(reason, "votre réponse n'a pas été comptée.").format(
        url=escape(event.external_url or "")
    )
    token = new_token()
    note = vote_refusal_note(
        event,
        note_id=urls.poll_answer_note(urls.activity(token)),
        voter=voter,
        handle=handle,
        why=why,
        published=format_datetime(clock.now()),
    )
    await publish(
        conn,
        actor=await participation.organizer_of(conn, event),
        activity=activity(
            "Create",
            id=urls.activity(token),
            actor=event.organizer_uri,
            object=note,
            to=[voter],
        ),
        audience=Audience(frozenset({voter})),
        urls=urls,
        clock=clock,
    )


async def answer(
    conn: Connection, *, event: Event, voter: str, option: str, urls: Urls, clock: Clock
) -> str:
    """Apply a poll answer as participation and send the new counts; returns the outcome's
    detail. The caller checks the option and the voter."""
    async with conn.transaction(), counts_published(conn, event, urls=urls, clock=clock):
        if option == GOING:
            state, decision = await participation.decide_join(
                conn, event=event, actor_uri=voter, join=None, urls=urls, clock=clock
            )
            detail = state
            if state != "accepted":
                await _explain(
                    conn, event=event, voter=voter, reason=decision.reason, urls=urls, clock=clock
                )
                detail = f"{state}: {decision.reason}"
        else:
            await queries.lock_event(conn, event.id)
            current = await queries.select_participation(conn, event.id, voter, lock=True)
            detail = STATE_OF_OPTION[option]
            if option == MAYBE and current is not None and current.state == "invited":
                detail = "invited"  # a "maybe" keeps the invitation
            elif current is not None and current.state == "removed":
                detail = "removed"  # the organiser's decision stands
            else:
                await queries.set_participation(
                    conn,
                    event_id=event.id,
                    actor_uri=voter,
                    state=detail,
                    join_uri=None,
                    now=clock.now(),
                )
                if current is not None and current.state == "accepted":
                    await participation.promote_waiting(conn, event=event, urls=urls, clock=clock)
    return detail
