"""Follows as ActivityStreams: the Follow, Undo(Follow), Accept and Reject we send."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import EMBEDDED, activity


def follow_activity(activity_uri: str, *, follower: str, followee: str) -> dict[str, Any]:
    """Our Follow of `followee`, addressed to it."""
    return activity("Follow", id=activity_uri, actor=follower, object=followee, to=[followee])


def undo_follow_activity(
    activity_uri: str, *, follow_uri: str, follower: str, followee: str
) -> dict[str, Any]:
    """Undo of our Follow, embedding it (Mastodon matches the Follow by its id)."""
    follow = activity("Follow", id=follow_uri, actor=follower, object=followee, context=EMBEDDED)
    return activity("Undo", id=activity_uri, actor=follower, object=follow, to=[followee])


def answer_activity(
    activity_uri: str, *, followee: str, follower: str, follow_uri: str | None, accept: bool
) -> dict[str, Any]:
    """Accept or Reject of a Follow, embedding the Follow as Mastodon expects (its id only when
    we know it)."""
    follow = activity("Follow", id=follow_uri, actor=follower, object=followee, context=EMBEDDED)
    return activity(
        "Accept" if accept else "Reject",
        id=activity_uri,
        actor=followee,
        object=follow,
        to=[follower],
    )


def block_activity(activity_uri: str, *, blocker: str, blocked: str) -> dict[str, Any]:
    """Our Block of an actor, addressed to it (as Mastodon sends it)."""
    return activity("Block", id=activity_uri, actor=blocker, object=blocked, to=[blocked])


def undo_block_activity(
    activity_uri: str, *, block_uri: str, blocker: str, blocked: str
) -> dict[str, Any]:
    """Undo of our Block, embedding it (Mastodon finds the block by its actor and object)."""
    block = activity("Block", id=block_uri, actor=blocker, object=blocked, context=EMBEDDED)
    return activity("Undo", id=activity_uri, actor=blocker, object=block, to=[blocked])
