"""The Mastodon companion poll of a local event.

Mastodon shows a remote `Event` as a plain status and offers no way to take part, so each local
public event also publishes a separate `Question` at `EVENT/poll` ("J'y vais / Peut-être / Je ne
peux pas"), attributed to the organiser and pointing back at the event (`url`); the `Event` names
it in `fc:companionPoll`. A Mastodon vote, `Create(Note{name: OPTION, inReplyTo: EVENT/poll})`, is
participation:

- "J'y vais": a Join under the event's rules (cancelled, external, invite-only, capacity,
  approval). Accepted: the voter takes a place. Pending (restricted) or refused: the vote takes no
  place and the organiser sends the voter a direct Note saying why (Mastodon ignores a Reject).
- "Peut-être": the voter is counted as interested; a place they held is freed.
- "Je ne peux pas": a Leave; the voter is counted among those who cannot come.

The poll's counts are the participation states (accepted, interested, left), so they go out as
`Update(Question)` after each edit or cancellation, and after each participation change that moves
them (a vote, a Join or Leave, a page button, an approval), together with an `Update(Event)`
carrying the new `participantCount`: see `counts_published`. The poll ends when the event starts.
This module imports neither posts nor events.ap (posts.ap asks it whether a Create is a poll vote).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from html import escape
from typing import Any

from fedicity.activitypub.accessors import get_id, get_str, get_type, host_of
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.routing import Outcome
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.events import participation, queries
from fedicity.events.document import event_context, event_to_ap
from fedicity.events.models import Event
from fedicity.events.text import summary_block
from fedicity.textfmt import title_html
from fedicity.urls import Urls, new_token

GOING, MAYBE, CANT = "J'y vais", "Peut-être", "Je ne peux pas"
OPTIONS: tuple[str, ...] = (GOING, MAYBE, CANT)
# The participation state each option is counted from.
STATE_OF_OPTION = {GOING: "accepted", MAYBE: "interested", CANT: "left"}
POLL_EXTENSION: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "votersCount": "toot:votersCount",
}
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
}


def has_poll(event: Event) -> bool:
    """Whether an event has a companion poll: local and public ones."""
    return event.is_local and event.public


async def tallies(conn: Connection, event: Event) -> dict[str, int]:
    """Count per option, from the participation states."""
    rows = await conn.fetch(
        """SELECT state, count(*) AS n FROM event_participations
            WHERE event_id = $1 GROUP BY state""",
        event.id,
    )
    by_state = {row["state"]: row["n"] for row in rows}
    return {option: by_state.get(state, 0) for option, state in STATE_OF_OPTION.items()}


def poll_to_ap(
    event: Event, counts: Mapping[str, int], urls: Urls, *, with_context: bool = True
) -> dict[str, Any]:
    """The companion poll as a Question (closed once the event is cancelled or deleted)."""
    words = summary_block(
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        all_day=event.all_day,
        location=event.location,
        cancelled=event.status == "cancelled",
    )
    link = escape(event.url or event.uri)
    document: dict[str, Any] = {
        "id": urls.companion_poll(event.uri),
        "type": "Question",
        "attributedTo": event.organizer_uri,
        "name": event.title,
        "content": (
            f'{title_html(event.title)}{words}<p>Vous venez ? <a href="{link}">{link}</a></p>'
        ),
        "url": event.url or event.uri,
        "published": format_datetime(event.published),
        "endTime": format_datetime(event.starts_at),
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
        "oneOf": [
            {
                "type": "Note",
                "name": option,
                "replies": {"type": "Collection", "totalItems": counts.get(option, 0)},
            }
            for option in OPTIONS
        ],
        "votersCount": sum(counts.get(option, 0) for option in OPTIONS),
    }
    if event.updated is not None:
        document["updated"] = format_datetime(event.updated)
    if event.status == "cancelled" or event.deleted_at is not None:
        document["closed"] = format_datetime(event.updated or event.published)
    if with_context:
        document = {"@context": [AS_CONTEXT, POLL_EXTENSION], **document}
    return document


async def _remote_voters(conn: Connection, event: Event, urls: Urls) -> frozenset[str]:
    rows = await conn.fetch(
        "SELECT actor_uri FROM event_participations WHERE event_id = $1", event.id
    )
    local = host_of(urls.base)
    return frozenset(row["actor_uri"] for row in rows if host_of(row["actor_uri"]) != local)


async def publish_poll(
    conn: Connection, *, actor: Actor, event: Event, kind: str, urls: Urls, clock: Clock
) -> None:
    """Send the poll (`Create`, `Update` with the current counts, or `Delete`) to the
    organiser's followers and every remote voter (never listed in the addressing)."""
    if not has_poll(event):
        return
    activity: dict[str, Any] = {
        "@context": [AS_CONTEXT, POLL_EXTENSION],
        "id": (
            urls.create_activity(urls.companion_poll(event.uri))
            if kind == "Create"
            else urls.activity(new_token())
        ),
        "type": kind,
        "actor": event.organizer_uri,
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
    }
    if kind == "Delete":
        activity["object"] = {
            "id": urls.companion_poll(event.uri),
            "type": "Tombstone",
            "formerType": "Question",
        }
    else:
        counts = await tallies(conn, event)
        activity["object"] = poll_to_ap(event, counts, urls, with_context=False)
    await publish(
        conn,
        actor=actor,
        activity=activity,
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
    activity: dict[str, Any] = {
        "@context": event_context(urls),
        "id": urls.activity(new_token()),
        "type": "Update",
        "actor": event.organizer_uri,
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
        "object": document,
    }
    if audience_uri is not None:
        activity["audience"] = audience_uri
    await publish(
        conn,
        actor=actor,
        activity=activity,
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


def vote_target(document: Mapping[str, Any]) -> str | None:
    """The poll a Mastodon-shaped vote answers (a Note with a name, no content)."""
    if get_type(document) != "Note":
        return None
    if get_str(document, "content") or not get_str(document, "name"):
        return None
    return get_id(document.get("inReplyTo"))


async def poll_event(ctx: InboundContext, document: Mapping[str, Any]) -> Event | None:
    """The local event whose companion poll a Create's Note votes on, if it is one."""
    target = vote_target(document)
    event_uri = ctx.urls.event_of_poll(target) if target is not None else None
    if event_uri is None:
        return None
    event = await queries.select_event(ctx.conn, event_uri)
    return event if event is not None and has_poll(event) else None


async def _explain(
    conn: Connection, *, event: Event, voter: str, reason: str, urls: Urls, clock: Clock
) -> None:
    """A direct Note from the organiser telling a voter why "J'y vais" took no place."""
    remote = await actor_queries.select_remote_actor(conn, voter)
    handle = f"@{remote.username}@{remote.domain}" if remote and remote.username else voter
    short = handle.split("@")[1] if handle.startswith("@") else handle
    link = escape(event.url or event.uri)
    why = _EXPLANATIONS.get(reason, "votre réponse n'a pas été comptée.").format(
        url=escape(event.external_url or "")
    )
    token = new_token()
    note = {
        "id": urls.poll_answer_note(urls.activity(token)),
        "type": "Note",
        "attributedTo": event.organizer_uri,
        "to": [voter],
        "cc": [],
        "content": (
            f'<p><span class="h-card"><a href="{escape(voter)}" class="u-url mention">'
            f"@<span>{escape(short)}</span></a></span> "
            f'« <a href="{link}">{escape(event.title)}</a> » : {escape(why)}</p>'
        ),
        "tag": [{"type": "Mention", "href": voter, "name": handle}],
        "published": format_datetime(clock.now()),
    }
    await publish(
        conn,
        actor=await participation.organizer_of(conn, event),
        activity={
            "@context": AS_CONTEXT,
            "id": urls.activity(token),
            "type": "Create",
            "actor": event.organizer_uri,
            "to": [voter],
            "object": note,
        },
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
            else:
                await queries.set_participation(
                    conn,
                    event_id=event.id,
                    actor_uri=voter,
                    state=detail,
                    join_uri=None,
                    now=clock.now(),
                )
    return detail


async def on_poll_vote(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any], event: Event
) -> Outcome:
    """A remote vote on a companion poll: participation under the event's rules."""
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if author != ctx.actor_uri:
        return Outcome.ignored("the vote's author is not the activity's actor")
    if host_of(ctx.actor_uri) == host_of(ctx.urls.base):
        return Outcome.ignored("local citizens take part from the event's page")
    option = get_str(document, "name") or ""
    if option not in OPTIONS:
        return Outcome.ignored("this is not one of the poll's options")
    if ctx.clock.now() >= event.starts_at:
        return Outcome.ignored("the poll ended when the event started")
    detail = await answer(
        ctx.conn,
        event=event,
        voter=ctx.actor_uri,
        option=option,
        urls=ctx.urls,
        clock=ctx.clock,
    )
    return Outcome.done(detail)


async def claim_created(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """An answer to one of our events' companion polls (going, maybe, not going), handled; None
    for anything else."""
    polled = await poll_event(ctx, document)
    if polled is None:
        return None
    return await on_poll_vote(ctx, activity, document, polled)
