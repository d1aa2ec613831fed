"""One builder for the activities we send: id, type, actor, object, addressing, published.

Every package used to write its activity dicts by hand, each with its own order of members and its
own idea of which are optional. Peers do not care about the order, but people reading logs and
tests do, and a forgotten `@context` or an empty `cc` is the kind of difference that breaks one
peer and not another. Members left None (or empty addressing) are not written at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedicity.activitypub.vocab import AS_CONTEXT

# An activity embedded in another (the Follow inside an Undo) carries no @context of its own.
EMBEDDED = None


def activity(
    type: str,
    *,
    id: str | None,
    actor: str,
    object: Any,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    published: str | None = None,
    context: Any = AS_CONTEXT,
    **members: Any,
) -> dict[str, Any]:
    """An activity of ours: `context` EMBEDDED for one nested in another; `members` adds the
    type-specific ones (target, audience, result, instrument...), skipped when None."""
    document: dict[str, Any] = {}
    if context is not None:
        document["@context"] = context
    if id is not None:
        document["id"] = id
    document["type"] = type
    document["actor"] = actor
    if published is not None:
        document["published"] = published
    if to:
        document["to"] = list(to)
    if cc:
        document["cc"] = list(cc)
    document["object"] = object
    document.update({name: value for name, value in members.items() if value is not None})
    return document
