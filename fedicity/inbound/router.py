"""The one routing table: every inbound (activity type, object type) and its handler."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import ANY_OBJECT, Outcome, Router
from fedicity.actors import inbound as actors_inbound
from fedicity.actors.remote_parse import ACTOR_TYPES
from fedicity.events import ap as events_ap
from fedicity.follows import ap as follows_ap
from fedicity.inbound.context import InboundContext
from fedicity.moderation import ap as moderation_ap
from fedicity.organizations import ap as organizations_ap
from fedicity.posts import ap as posts_ap
from fedicity.territories import ap as territories_ap


async def on_delete(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Delete of the actor itself, of one of its events, or of one of its posts (by id)."""
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return Outcome.ignored("the Delete has no object")
    if object_uri == ctx.actor_uri:
        return await actors_inbound.on_delete_actor(ctx)
    # Mobilizon may delete an event by its bare id, with no Tombstone to route on.
    event_outcome = await events_ap.delete_stored_event(ctx, object_uri)
    if event_outcome is not None:
        return event_outcome
    return await posts_ap.on_delete_object(ctx, object_uri)


async def on_update_other(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Update of something we do not keep a type-specific handler for."""
    embedded = get_object(activity)
    if actors_inbound.is_actor_document(embedded):
        return await actors_inbound.on_update_actor(ctx, activity)
    return Outcome.ignored("nothing here to update")


# Join and Leave mean "take part in an event" or "become a member of an organisation": both
# domains want ("Join", "*") and ("Leave", "*"). The events' routes are registered through a staging
# router, and these two are wrapped so an activity whose object is a local organisation actor goes
# to organisations and everything else to events.
ORGANIZATION_FIRST = {
    ("Join", ANY_OBJECT): organizations_ap.on_join,
    ("Leave", ANY_OBJECT): organizations_ap.on_leave,
}


def _register_events(router: Router[InboundContext]) -> None:
    staging: Router[InboundContext] = Router()
    events_ap.register(staging)
    for activity_type, object_type in staging.routes():
        probe: dict[str, Any] = {"type": activity_type}
        if object_type != ANY_OBJECT:
            probe["object"] = {"type": object_type}
        handler = staging.lookup(probe)
        assert handler is not None
        organization_handler = ORGANIZATION_FIRST.get((activity_type, object_type))
        if organization_handler is not None:
            handler = organizations_ap.dispatch(organization_handler, handler)
        router.register(activity_type, object_type)(handler)


@lru_cache(maxsize=1)
def build_router() -> Router[InboundContext]:
    """Register every domain's handlers once."""
    router: Router[InboundContext] = Router()
    follows_ap.register(router)
    posts_ap.register(router)
    moderation_ap.register(router)
    territories_ap.register(router)
    _register_events(router)  # with Join/Leave dispatched to organisations first
    organizations_ap.register(router)
    router.register("Delete")(on_delete)
    router.register("Update")(on_update_other)
    for actor_type in sorted(ACTOR_TYPES):
        router.register("Update", actor_type)(actors_inbound.on_update_actor)
    router.register("Move")(actors_inbound.on_move)
    return router
