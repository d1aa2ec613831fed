"""Posts as ActivityStreams objects, both ways, and the inbound handlers for them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import (
    as_list,
    audience,
    get_id,
    get_object,
    get_str,
    get_type,
    get_web_url,
    host_of,
    is_public,
)
from fedicity.activitypub.dates import format_datetime, parse_datetime
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.posts import queries
from fedicity.posts.models import POST_TYPES, Post, PostData, Visibility
from fedicity.sanitize import safe_url, sanitize_html
from fedicity.urls import Urls

NOTE_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "toot": "http://joinmastodon.org/ns#"},
]
MAX_CONTENT = 100_000


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


def visibility_of(to: list[str], cc: list[str], followers_uri: str | None) -> Visibility:
    """Read a remote post's visibility back from its addressing."""
    if any(is_public(uri) for uri in to):
        return "public"
    if any(is_public(uri) for uri in cc):
        return "unlisted"
    if followers_uri is not None and followers_uri in to + cc:
        return "followers"
    if any(uri.endswith("/followers") for uri in to + cc):
        return "followers"
    return "direct"


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


def post_from_ap(
    document: Mapping[str, Any], *, author: str, followers_uri: str | None, now: datetime
) -> PostData | str:
    """A remote post's columns, or the reason it cannot be stored."""
    uri = get_id(document)
    if uri is None:
        return "the object has no id"
    if safe_url(uri) is None:
        return "the object's id is not an http(s) URL"
    object_type = get_type(document)
    if object_type not in POST_TYPES:
        return f"{object_type!r} is not a post type"
    if host_of(uri) != host_of(author):
        return "the object is not on its author's host"
    to, cc = audience(document)
    content = get_str(document, "content") or ""
    content_map = document.get("contentMap")
    language = None
    if isinstance(content_map, Mapping) and content_map:
        language, first = next(iter(content_map.items()))
        content = content or (first if isinstance(first, str) else "")
    if not content and object_type == "Page":
        content = get_str(document, "name") or ""
    mentions = tuple(
        href
        for tag in as_list(document.get("tag"))
        if isinstance(tag, Mapping)
        and get_type(tag) == "Mention"
        and (href := get_id(tag.get("href"))) is not None
    )
    tags = tuple(
        name.lstrip("#").lower()
        for tag in as_list(document.get("tag"))
        if isinstance(tag, Mapping)
        and get_type(tag) == "Hashtag"
        and isinstance(name := tag.get("name"), str)
        and name.strip("#")
    )
    return PostData(
        uri=uri,
        author_uri=author,
        local_actor_id=None,
        type=object_type,
        name=(get_str(document, "name") or None) if object_type != "Note" else None,
        summary=get_str(document, "summary") or None,
        content_html=sanitize_html(content[:MAX_CONTENT]),
        in_reply_to=get_id(document.get("inReplyTo")),
        url=get_web_url(document.get("url")),
        visibility=visibility_of(to, cc, followers_uri),
        to_uris=to,
        cc_uris=cc,
        sensitive=document.get("sensitive") is True,
        language=language if isinstance(language, str) else None,
        published=parse_datetime(document.get("published")) or now,
        updated=parse_datetime(document.get("updated")),
        raw=dict(document),
        mentions=mentions[:100],
        tags=tuple(dict.fromkeys(tags))[:50],
    )


def _claims_ours(ctx: InboundContext, uri: str) -> bool:
    """Whether a post from the network claims an id on our host: ours live in our rows only."""
    return host_of(uri) == host_of(ctx.urls.base)


async def _relevant(ctx: InboundContext, data: PostData) -> bool:
    # Keep what a local actor would see: posts by someone they follow, posts addressed to or
    # mentioning them, and replies to our posts. The rest of the fediverse is not our business.
    local_prefix = ctx.urls.actor("")
    if any(uri.startswith(local_prefix) for uri in (*data.to_uris, *data.cc_uris, *data.mentions)):
        return True
    if await follow_queries.select_local_followers_of(ctx.conn, data.author_uri, local_prefix):
        return True
    return data.in_reply_to is not None and host_of(data.in_reply_to) == host_of(ctx.urls.base)


async def _author(ctx: InboundContext, uri: str) -> RemoteActor | None:
    return await actor_queries.select_remote_actor(ctx.conn, uri)


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
    remote = await _author(ctx, author)
    data = post_from_ap(
        document,
        author=author,
        followers_uri=remote.followers_uri if remote else None,
        now=ctx.clock.now(),
    )
    if isinstance(data, str):
        return Outcome.ignored(data)
    if _claims_ours(ctx, data.uri):
        return Outcome.ignored("a remote server cannot write our posts")
    if not await _relevant(ctx, data):
        return Outcome.ignored("nobody here follows or is addressed by this post")
    await queries.upsert_post(ctx.conn, data)
    return Outcome.done()


async def store_updated(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome | None:
    """An edited post, replaced when its author sends it; None when we do not have it (the
    Create may never have reached us: the caller takes it as new)."""
    existing = await queries.select_post(ctx.conn, get_id(document) or "")
    if existing is None:
        return None
    if existing.author_uri != ctx.actor_uri:
        return Outcome.ignored("only the author can update a post")
    remote = await _author(ctx, ctx.actor_uri)
    data = post_from_ap(
        document,
        author=ctx.actor_uri,
        followers_uri=remote.followers_uri if remote else None,
        now=ctx.clock.now(),
    )
    if isinstance(data, str):
        return Outcome.ignored(data)
    if _claims_ours(ctx, data.uri):
        return Outcome.ignored("a remote server cannot write our posts")
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
        fetched = await ctx.directory.fetcher.document(object_uri)
        if isinstance(fetched, FetchError):
            return Outcome.ignored(f"cannot fetch the boosted post: {fetched.detail}")
        author = get_id(fetched.document.get("attributedTo"))
        if author is None:
            return Outcome.ignored("the boosted post has no author")
        remote = await ctx.directory.actor(author)
        data = post_from_ap(
            fetched.document,
            author=author,
            followers_uri=remote.followers_uri if isinstance(remote, RemoteActor) else None,
            now=ctx.clock.now(),
        )
        if isinstance(data, str):
            return Outcome.ignored(data)
        if _claims_ours(ctx, data.uri):
            return Outcome.ignored("a remote server cannot write our posts")
        if data.visibility not in ("public", "unlisted"):
            return Outcome.ignored("only public posts can be boosted")
        await queries.upsert_post(ctx.conn, data)
    return await _interaction(ctx, activity, "announce")


async def _interaction(ctx: InboundContext, activity: Mapping[str, Any], kind: str) -> Outcome:
    object_uri = get_id(activity.get("object"))
    activity_uri = get_id(activity)
    if object_uri is None or activity_uri is None:
        return Outcome.ignored(f"the {kind} lacks an id or an object")
    if await queries.select_post(ctx.conn, object_uri) is None:
        return Outcome.ignored(f"the {kind}d object is unknown here")
    new = await queries.insert_interaction(
        ctx.conn,
        activity_uri=activity_uri,
        kind=kind,
        actor_uri=ctx.actor_uri,
        object_uri=object_uri,
        when=parse_datetime(activity.get("published")) or ctx.clock.now(),
    )
    return Outcome.done() if new else Outcome.ignored(f"already {kind}d")


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
    """Add the post handlers to the routing table (Create and Update of posts are routed by the
    workers' router, which lets proposals and events claim votes, comments and poll answers
    first)."""
    router.register("Like")(on_like)
    router.register("Announce")(on_announce)
    router.register("Undo", "Like")(on_undo_interaction)
    router.register("Undo", "Announce")(on_undo_interaction)
