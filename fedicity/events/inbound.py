"""The events' inbound handlers, which workers/router.py calls: Create/Update/Delete of remote
events, Join/Leave of ours, Accept/Reject of our Joins, and votes on our companion polls. Remote
documents are read by `events.parse`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fedicity.activitypub.accessors import audience, get_id, get_object, get_str, host_of
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.events import participation, poll, queries
from fedicity.events.models import POLL_OPTIONS, Event, EventData
from fedicity.events.parse import event_from_ap, vote_target
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.sanitize import html_to_text
from fedicity.territories import queries as territory_queries


async def _served_territory_for(ctx: InboundContext, data: EventData) -> int | None:
    """A served commune matching the event's postal code (served = it has a territory actor)."""
    code = data.location.postal_code
    if not code or not code.strip().isdigit():
        return None
    for territory in await territory_queries.search_territories(ctx.conn, code.strip(), limit=5):
        if territory.level not in ("commune", "quartier"):
            continue
        if await actor_queries.select_territory_actor(ctx.conn, territory.id) is not None:
            return territory.id
    return None


async def _relevant(ctx: InboundContext, data: EventData) -> bool:
    local_prefix = ctx.urls.actor("")
    raw = data.raw or {}
    to, cc = audience(raw)
    if any(uri.startswith(local_prefix) for uri in (*to, *cc)):
        return True
    if await follow_queries.select_local_followers_of(ctx.conn, data.organizer_uri, local_prefix):
        return True
    return data.territory_id is not None


async def _store(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome:
    organizer = get_id(document.get("attributedTo")) or ctx.actor_uri
    if organizer != ctx.actor_uri:
        return Outcome.ignored("the event's organiser is not the activity's actor")
    if host_of(get_id(document) or "") == host_of(ctx.urls.base):
        return Outcome.ignored("a remote actor cannot write our events")
    data = event_from_ap(document, organizer=organizer, now=ctx.clock.now())
    if isinstance(data, str):
        return Outcome.ignored(data)
    if not data.public:
        return Outcome.ignored("only public events are kept (FEP-8a8e calendars)")
    data = replace(data, territory_id=await _served_territory_for(ctx, data))
    if not await _relevant(ctx, data):
        return Outcome.ignored("nobody here follows the organiser and the event is elsewhere")
    stored = await queries.upsert_event(ctx.conn, data)
    if stored is None:
        return Outcome.ignored("only the organiser can change an event")
    if stored.territory_id is not None:
        await located_queries.upsert_item(
            ctx.conn,
            NewItem(
                object_uri=stored.uri,
                kind="event",
                territory_id=stored.territory_id,
                title=stored.title,
                summary=html_to_text(stored.description_html)[:500],
                url=stored.url or stored.uri,
                author_uri=stored.organizer_uri,
                origin_host=host_of(stored.uri),
                published=stored.published,
                latitude=stored.location.latitude,
                longitude=stored.location.longitude,
                starts_at=stored.starts_at,
            ),
        )
    return Outcome.done()


async def _embedded_or_fetched(
    ctx: InboundContext, activity: Mapping[str, Any]
) -> Mapping[str, Any] | str:
    document = get_object(activity)
    if document is not None:
        return document
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return "the activity has no object"
    fetched = await ctx.directory.fetcher.document(object_uri)
    if isinstance(fetched, FetchError):
        return f"cannot fetch {object_uri}: {fetched.detail}"
    return fetched.document


async def on_create_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote event: kept when someone here follows its organiser or it is in our territory."""
    document = await _embedded_or_fetched(ctx, activity)
    if isinstance(document, str):
        return Outcome.ignored(document)
    return await _store(ctx, document)


async def on_update_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """An edited or cancelled remote event: replaced only when its organiser sends it."""
    document = get_object(activity)
    if document is None:
        return Outcome.ignored("the Update does not embed the event")
    existing = await queries.select_event(ctx.conn, get_id(document) or "")
    if existing is not None and existing.organizer_uri != ctx.actor_uri:
        return Outcome.ignored("only the organiser can update an event")
    return await _store(ctx, document)


async def delete_stored_event(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of one of our stored events (by bare id or Tombstone): tombstoned when the
    activity's actor is its organiser, refused otherwise; None when no event has that id."""
    existing = await queries.select_event(ctx.conn, object_uri)
    if existing is None:
        return None
    if existing.organizer_uri != ctx.actor_uri or existing.is_local:
        return Outcome.ignored("only the organiser can delete an event")
    await queries.mark_deleted(ctx.conn, object_uri, ctx.actor_uri, ctx.clock.now())
    await located_queries.mark_deleted(ctx.conn, object_uri, ctx.clock.now())
    return Outcome.done()


async def _local_event(ctx: InboundContext, activity: Mapping[str, Any]) -> Event | None:
    event_uri = get_id(activity.get("object"))
    if event_uri is None:
        return None
    event = await queries.select_event(ctx.conn, event_uri)
    return event if event is not None and event.is_local else None


async def on_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Join{Event}: answered with Accept, Reject, or kept pending for the organiser or waiting
    for a place (answered then)."""
    event = await _local_event(ctx, activity)
    if event is None:
        return Outcome.ignored("the joined event is not one of ours")
    if get_id(activity.get("actor")) != ctx.actor_uri:
        return Outcome.ignored("the Join's actor is not its signer")
    async with poll.counts_published(ctx.conn, event, urls=ctx.urls, clock=ctx.clock):
        state = await participation.answer_join(
            ctx.conn,
            event=event,
            actor_uri=ctx.actor_uri,
            join=activity,
            urls=ctx.urls,
            clock=ctx.clock,
        )
    return Outcome.done(state)


async def on_leave(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Leave{Event}: the participant's place is freed (and taken by the first in line)."""
    event = await _local_event(ctx, activity)
    if event is None:
        return Outcome.ignored("the event left is not one of ours")
    async with poll.counts_published(ctx.conn, event, urls=ctx.urls, clock=ctx.clock):
        left = await participation.leave_event(
            ctx.conn, event=event, actor_uri=ctx.actor_uri, urls=ctx.urls, clock=ctx.clock
        )
    return Outcome.done() if left else Outcome.ignored("this actor does not take part")


async def _answer_to_our_join(
    ctx: InboundContext, activity: Mapping[str, Any], state: str
) -> Outcome:
    join = get_object(activity)
    if join is None:
        return Outcome.ignored("the answer does not embed the Join")
    participant = get_id(join.get("actor")) or ""
    event = await queries.select_event(ctx.conn, get_id(join.get("object")) or "")
    if event is None or event.is_local or event.organizer_uri != ctx.actor_uri:
        return Outcome.ignored("no Join of ours to an event of this organiser")
    if not participant.startswith(ctx.urls.actor("")):
        return Outcome.ignored("the Join is not from a local actor")
    found = await queries.select_participation(ctx.conn, event.id, participant)
    if found is None or found.state not in ("pending", "accepted"):
        return Outcome.ignored("no pending Join of this actor")
    await queries.set_participation(
        ctx.conn,
        event_id=event.id,
        actor_uri=participant,
        state=state,
        join_uri=None,
        now=ctx.clock.now(),
    )
    return Outcome.done(state)


async def on_accept_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Accept{Join}: a remote organiser accepted a local actor."""
    return await _answer_to_our_join(ctx, activity, "accepted")


async def on_reject_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Reject{Join}: a remote organiser refused a local actor."""
    return await _answer_to_our_join(ctx, activity, "rejected")


async def _poll_event(ctx: InboundContext, document: Mapping[str, Any]) -> Event | None:
    """The local event whose companion poll a Create's Note votes on, if it is one."""
    target = vote_target(document)
    event_uri = ctx.urls.event_of_poll(target) if target is not None else None
    if event_uri is None:
        return None
    event = await queries.select_event(ctx.conn, event_uri)
    return event if event is not None and poll.has_poll(event) else None


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
    if option not in POLL_OPTIONS:
        return Outcome.ignored("this is not one of the poll's options")
    if ctx.clock.now() >= event.starts_at:
        return Outcome.ignored("the poll ended when the event started")
    detail = await poll.answer(
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
    polled = await _poll_event(ctx, document)
    if polled is None:
        return None
    return await on_poll_vote(ctx, activity, document, polled)


def register(router: Router[InboundContext]) -> None:
    """Add the event handlers to the routing table."""
    router.register("Create", "Event")(on_create_event)
    router.register("Update", "Event")(on_update_event)
    router.register("Join")(on_join)
    router.register("Leave")(on_leave)
    router.register("Accept", "Join")(on_accept_join)
    router.register("Reject", "Join")(on_reject_join)
