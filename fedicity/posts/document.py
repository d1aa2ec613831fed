"""Posts as ActivityStreams: the Notes we serve and the activities we send about them."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import EMBEDDED, activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.posts.models import Post, Visibility
from fedicity.urls import Urls

NOTE_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "toot": "http://joinmastodon.org/ns#"},
]


def addressing(
    visibility: Visibility, followers: str, mentioned: list[str]
) -> tuple[list[str], list[str]]:
    """to/cc for a visibility, the way Mastodon maps them."""
    if visibility == "public":
        return [PUBLIC], [followers, *mentioned]
    if visibility == "unlisted":
        return [followers], [PUBLIC, *mentioned]
    if visibility == "followers":
        return [followers], list(mentioned)
    return list(mentioned), []


def note_to_ap(
    post: Post,
    urls: Urls,
    *,
    mentions: list[tuple[str, str]],
    tags: list[str],
    tag_url: str,
    with_context: bool = True,
) -> dict[str, Any]:
    """A local post as a Note (mentions are (actor URI, @name) pairs)."""
    document: dict[str, Any] = {
        "id": post.uri,
        "type": post.type,
        "attributedTo": post.author_uri,
        "content": post.content_html,
        "summary": post.summary or None,
        "sensitive": post.sensitive,
        "inReplyTo": post.in_reply_to,
        "published": format_datetime(post.published),
        "url": post.url or post.uri,
        "to": post.to_uris,
        "cc": post.cc_uris,
        "tag": [{"type": "Mention", "href": uri, "name": name} for uri, name in mentions]
        + [{"type": "Hashtag", "href": tag_url.format(tag=tag), "name": f"#{tag}"} for tag in tags],
        "replies": urls.replies(post.uri),
    }
    if post.language:
        document["contentMap"] = {post.language: post.content_html}
    if post.updated is not None:
        document["updated"] = format_datetime(post.updated)
    if with_context:
        document = {"@context": NOTE_CONTEXT, **document}
    return document


def create_activity(
    post: Post,
    urls: Urls,
    *,
    mentions: list[tuple[str, str]],
    tags: list[str],
    audience: str | None = None,
) -> dict[str, Any]:
    """The Create of a local post, its Note embedded; `audience` (FEP-1b12: the Group the post
    is published in) goes on both."""
    note = note_to_ap(
        post, urls, mentions=mentions, tags=tags, tag_url=urls.tag_template, with_context=False
    )
    if audience is not None:
        note["audience"] = audience
    return activity(
        "Create",
        id=urls.create_activity(post.uri),
        actor=post.author_uri,
        object=note,
        to=post.to_uris,
        cc=post.cc_uris,
        published=note["published"],
        audience=audience,
    )


def delete_activity(post: Post, *, activity_uri: str) -> dict[str, Any]:
    """The Delete of a local post, with a Tombstone, to everyone who got it."""
    return activity(
        "Delete",
        id=activity_uri,
        actor=post.author_uri,
        object={"id": post.uri, "type": "Tombstone", "formerType": post.type},
        to=[PUBLIC] if post.visibility in ("public", "unlisted") else post.to_uris,
        cc=post.cc_uris,
    )


def interaction_activity(
    kind: str, post: Post, *, activity_uri: str, actor: str, followers: str, published: str
) -> dict[str, Any]:
    """A Like (to the author) or an Announce (public, dated, to the author and our followers)."""
    if kind == "like":
        return activity("Like", id=activity_uri, actor=actor, object=post.uri, to=[post.author_uri])
    return activity(
        "Announce",
        id=activity_uri,
        actor=actor,
        object=post.uri,
        to=[PUBLIC],
        cc=[post.author_uri, followers],
        published=published,
    )


def undo_interaction_activity(
    kind: str, post: Post, *, activity_uri: str, interaction_uri: str, actor: str, followers: str
) -> dict[str, Any]:
    """Undo of our Like or Announce, embedding it (Mastodon matches it by its id), addressed as
    the undone activity was."""
    undone = activity(
        "Like" if kind == "like" else "Announce",
        id=interaction_uri,
        actor=actor,
        object=post.uri,
        context=EMBEDDED,
    )
    if kind == "like":
        return activity("Undo", id=activity_uri, actor=actor, object=undone, to=[post.author_uri])
    return activity(
        "Undo",
        id=activity_uri,
        actor=actor,
        object=undone,
        to=[PUBLIC],
        cc=[post.author_uri, followers],
    )
