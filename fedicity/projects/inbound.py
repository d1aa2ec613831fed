"""Inbound for projects: a remote project publishing itself (Create{its Group}, as ours do when
they are created) is stored as the actor it is, so it can be found and followed here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import Outcome
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.projects.parse import is_project


async def on_create_group(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Create{Group, kind Project} by the project itself: keep its document (as an Update of an
    actor would); any other Create of a Group is not ours to read."""
    document = get_object(activity)
    if document is None or not is_project(dict(document)):
        return Outcome.ignored("only a project's own Group is read from a Create")
    if get_id(document) != ctx.actor_uri:
        return Outcome.ignored("a project can only publish itself")
    stored = await ctx.directory.store(document)
    if not isinstance(stored, RemoteActor):
        return Outcome.ignored(stored.detail)
    return Outcome.done()
