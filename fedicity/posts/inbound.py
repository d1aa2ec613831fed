"""Inbound posts and interactions: the handlers the router calls (Create and Update of posts are
routed by the workers' router, which lets proposals and events claim theirs first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object, get_type, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.notifications.service import notify
from fedicity.posts import queries
from fedicity.posts.models import PostData
from fedicity.posts.parse import post_from_ap
from fedicity.posts.service import notify_post


def _claims_ours(ctx: InboundContext, uri: str) -> bool:
    """Whether a post from the network claims an id on our host: ours live in our rows only."""
    return host_of(uri) == host_of(ctx.urls.base)


def _relevant(ctx: InboundContext, data: PostData, followed: bool) -> bool:
    # Keep what a local actor would see: posts by someone they follow (`followed`), posts
    # addressed to or mentioning them, and replies to our posts. The rest of the fediverse is
    # not our business.
    local_prefix = ctx.urls.actor("")
    if any(uri.startswith(local_prefix) for uri in (*data.to_uris, *data.cc_uris, *data.mentions)):
        return True
    if followed:
        return True
    return data.in_reply_to is not None and host_of(data.in_reply_to) == host_of(ctx.urls.base)


def _remote_post(
    ctx: InboundContext, document: Mapping[str, Any], author: str, followers_uri: str | None
) -> PostData | Outcome:
    """A remote post's columns, or the ignored Outcome that says why it cannot be kept."""
    data = post_from_ap(document, author=author, followers_uri=followers_uri, now=ctx.clock.now())
    if isinstance(data, str):
        return Outcome.ignored(data)
    if _claims_ours(ctx, data.uri):
        return Outcome.ignored("a remote server cannot write our posts")
    return data


async def _known_author_post(
    ctx: InboundContext, document: Mapping[str, Any], author: str
) -> PostData | Outcome:
    # The author's followers collection, if we keep the author, tells followers-only posts apart.
    followers_uri = await actor_queries.select_followers_uri(ctx.conn, author)
    return _remote_post(ctx, document, author, followers_uri)


async def object_of(
    ctx: InboundContext, activity: Mapping[str, Any]
) -> Mapping[str, Any] | Outcome:
    """The object a Create carries: embedded, or fetched from its origin when only its id came
    (relayed activities are reduced to a pointer); an ignored Outcome when there is none."""
    document = get_object(activity)
    if document is not None:
        return document
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return Outcome.ignored("the Create has no object")
    fetched = await ctx.directory.fetcher.document(object_uri)
    if isinstance(fetched, FetchError):
        return Outcome.ignored(f"cannot fetch {object_uri}: {fetched.detail}")
    return fetched.document


async def store_created(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome:
    """A new post: stored when a local actor would see it."""
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if author != ctx.actor_uri:
        return Outcome.ignored("the object's author is not the activity's actor")
    # The author's followers collection (followers-only posts) and whether anyone here follows
    # it, in one statement.
    followers_uri, followed = await queries.select_author_reach(
        ctx.conn, author, ctx.urls.actor("")
    )
    data = _remote_post(ctx, document, author, followers_uri)
    if isinstance(data, Outcome):
        return data
    if not _relevant(ctx, data, followed):
        return Outcome.ignored("nobody here follows or is addressed by this post")
    post, new = await queries.store_post(ctx.conn, data)
    if new:  # what the router's wall asks (a post new here may be announced, once)
        ctx.new_posts.add(post.uri)
    await notify_post(ctx.conn, post, data.mentions, urls=ctx.urls, clock=ctx.clock)
    return Outcome.done()


async def store_updated(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome | None:
    """An edited post, replaced when its author sends it; None when we do not have it (the
    Create may never have reached us: the caller takes it as new)."""
    existing = await queries.select_post(ctx.conn, get_id(document) or "")
    if existing is None:
        return None
    if existing.author_uri != ctx.actor_uri:
        return Outcome.ignored("only the author can update a post")
    data = await _known_author_post(ctx, document, ctx.actor_uri)
    if isinstance(data, Outcome):
        return data
    await queries.upsert_post(ctx.conn, data)
    return Outcome.done()


async def forget_author(ctx: InboundContext) -> None:
    """A remote actor deleted itself: its posts go too."""
    await queries.delete_posts_of(ctx.conn, ctx.actor_uri, ctx.clock.now())


async def on_delete_object(ctx: InboundContext, object_uri: str) -> Outcome:
    """A deleted post (by id or Tombstone); only its author can delete it."""
    deleted = await queries.mark_post_deleted(ctx.conn, object_uri, ctx.actor_uri, ctx.clock.now())
    if deleted:
        await located_queries.mark_deleted(ctx.conn, object_uri, ctx.clock.now())
    return Outcome.done() if deleted else Outcome.ignored("no post of this actor has that id")


async def on_like(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A like of a post we have."""
    return await _interaction(ctx, activity, "like")


async def on_announce(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A boost: recorded, and the boosted post fetched when followers here will see it."""
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return Outcome.ignored("the Announce has no object")
    if await queries.select_post(ctx.conn, object_uri) is None:
        local_prefix = ctx.urls.actor("")
        if not await follow_queries.select_local_followers_of(
            ctx.conn, ctx.actor_uri, local_prefix
        ):
            return Outcome.ignored("nobody here follows the booster and the post is unknown")
        data = await _boosted_post(ctx, object_uri)
        if isinstance(data, Outcome):
            return data
        await queries.upsert_post(ctx.conn, data)
    return await _interaction(ctx, activity, "announce")


async def _boosted_post(ctx: InboundContext, object_uri: str) -> PostData | Outcome:
    """A boosted post we did not have, fetched from its origin; only a public one is kept."""
    fetched = await ctx.directory.fetcher.document(object_uri)
    if isinstance(fetched, FetchError):
        return Outcome.ignored(f"cannot fetch the boosted post: {fetched.detail}")
    author = get_id(fetched.document.get("attributedTo"))
    if author is None:
        return Outcome.ignored("the boosted post has no author")
    remote = await ctx.directory.actor(author)
    followers_uri = remote.followers_uri if isinstance(remote, RemoteActor) else None
    data = _remote_post(ctx, fetched.document, author, followers_uri)
    if isinstance(data, PostData) and data.visibility not in ("public", "unlisted"):
        return Outcome.ignored("only public posts can be boosted")
    return data


async def _interaction(ctx: InboundContext, activity: Mapping[str, Any], kind: str) -> Outcome:
    object_uri = get_id(activity.get("object"))
    activity_uri = get_id(activity)
    if object_uri is None or activity_uri is None:
        return Outcome.ignored(f"the {kind} lacks an id or an object")
    post = await queries.select_post(ctx.conn, object_uri)
    if post is None:
        return Outcome.ignored(f"the {kind}d object is unknown here")
    new = await queries.insert_interaction(
        ctx.conn,
        activity_uri=activity_uri,
        kind=kind,
        actor_uri=ctx.actor_uri,
        object_uri=object_uri,
        when=parse_datetime(activity.get("published")) or ctx.clock.now(),
    )
    if not new:
        return Outcome.ignored(f"already {kind}d")
    await notify(
        ctx.conn,
        recipient=post.author_uri,
        kind="like" if kind == "like" else "announce",
        actor_uri=ctx.actor_uri,
        object_uri=post.uri,
        urls=ctx.urls,
        clock=ctx.clock,
    )
    return Outcome.done()


async def on_undo_interaction(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Undo of a Like or Announce."""
    embedded = get_object(activity)
    kind = "like" if (embedded and get_type(embedded) == "Like") else "announce"
    removed = await queries.delete_interaction(
        ctx.conn,
        kind=kind,
        actor_uri=ctx.actor_uri,
        activity_uri=get_id(activity.get("object")),
        object_uri=get_id(embedded.get("object")) if embedded else None,
    )
    return Outcome.done() if removed else Outcome.ignored(f"no such {kind}")


async def undo_interaction_by_id(ctx: InboundContext, activity_uri: str) -> Outcome | None:
    """An Undo naming the actor's Like or Announce by its id only (Mastodon's compact Undo);
    None when it names no like or boost here."""
    for kind in ("like", "announce"):
        removed = await queries.delete_interaction(
            ctx.conn, kind=kind, actor_uri=ctx.actor_uri, activity_uri=activity_uri, object_uri=None
        )
        if removed:
            return Outcome.done()
    return None


def register(router: Router[InboundContext]) -> None:
    """Add the like and boost handlers to the routing table (Create and Update of posts are
    routed by the workers' router, which lets proposals and events claim votes, comments and
    poll answers first)."""
    router.register("Like")(on_like)
    router.register("Announce")(on_announce)
    router.register("Undo", "Like")(on_undo_interaction)
    router.register("Undo", "Announce")(on_undo_interaction)
