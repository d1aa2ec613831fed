"""Inbound activities about actors themselves: Update (profile and keys) and Delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object, get_type
from fedicity.activitypub.routing import Outcome
from fedicity.actors import queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.actors.parse import ACTOR_TYPES


async def on_update_actor(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote actor changed its profile or key: store the new document."""
    document = get_object(activity)
    if document is None or get_id(document) != ctx.actor_uri:
        return Outcome.ignored("an actor can only update itself")
    stored = await ctx.directory.store(document)
    if not isinstance(stored, RemoteActor):
        return Outcome.ignored(stored.detail)
    return Outcome.done()


async def on_delete_actor(ctx: InboundContext) -> Outcome:
    """A remote actor deleted itself: forget its key (its follows and posts are forgotten by
    their own domains, which the router calls first)."""
    await queries.mark_remote_actor_deleted(ctx.conn, ctx.actor_uri, ctx.clock.now())
    return Outcome.done()


def is_actor_document(document: Mapping[str, Any] | None) -> bool:
    """Whether an embedded object is an actor."""
    return document is not None and get_type(document) in ACTOR_TYPES
