"""The one routing table: every inbound (activity type, object type) and its handler."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import inbound as actors_inbound
from fedicity.actors.remote_parse import ACTOR_TYPES
from fedicity.events import ap as events_ap
from fedicity.follows import ap as follows_ap
from fedicity.inbound.context import InboundContext
from fedicity.moderation import ap as moderation_ap
from fedicity.posts import ap as posts_ap
from fedicity.territories import ap as territories_ap


async def on_delete(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Delete of the actor itself, or of one of its posts (by id or Tombstone)."""
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return Outcome.ignored("the Delete has no object")
    if object_uri == ctx.actor_uri:
        return await actors_inbound.on_delete_actor(ctx)
    return await posts_ap.on_delete_object(ctx, object_uri)


async def on_update_other(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Update of something we do not keep a type-specific handler for."""
    embedded = get_object(activity)
    if actors_inbound.is_actor_document(embedded):
        return await actors_inbound.on_update_actor(ctx, activity)
    return Outcome.ignored("nothing here to update")


@lru_cache(maxsize=1)
def build_router() -> Router[InboundContext]:
    """Register every domain's handlers once."""
    router: Router[InboundContext] = Router()
    follows_ap.register(router)
    posts_ap.register(router)
    moderation_ap.register(router)
    territories_ap.register(router)
    events_ap.register(router)
    router.register("Delete")(on_delete)
    router.register("Update")(on_update_other)
    for actor_type in sorted(ACTOR_TYPES):
        router.register("Update", actor_type)(actors_inbound.on_update_actor)
    router.register("Move")(actors_inbound.on_move)
    return router
