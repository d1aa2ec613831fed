"""Local posting: write a note, delete it, like and boost; each publishes its activity."""

from __future__ import annotations

from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.notifications.service import notify
from fedicity.posts import queries
from fedicity.posts.compose import Composed, Mention, compose
from fedicity.posts.document import (
    addressing,
    create_activity,
    delete_activity,
    interaction_activity,
    undo_interaction_activity,
)
from fedicity.posts.models import VISIBILITIES, Post, PostData, Visibility
from fedicity.urls import Urls, new_token

MAX_NOTE_LENGTH = 5000


class PostError(DomainError):
    """A post was refused; `code` says why."""


def _checked_visibility(text: str, visibility: str) -> Visibility:
    """The visibility of a note to write, once its text and visibility are acceptable."""
    if not text.strip():
        raise PostError("empty", "a post needs some text")
    if len(text) > MAX_NOTE_LENGTH:
        raise PostError("post_too_long", f"a post has at most {MAX_NOTE_LENGTH} characters")
    if visibility not in VISIBILITIES:
        raise PostError("visibility_invalid", f"visibility is one of {', '.join(VISIBILITIES)}")
    return visibility


def _note_data(
    actor: Actor,
    composed: Composed,
    *,
    visibility: Visibility,
    in_reply_to: Post | None,
    summary: str,
    language: str | None,
    urls: Urls,
    clock: Clock,
) -> PostData:
    """A new local note's columns: addressed to the mentioned and the replied-to author."""
    mentioned = [m.actor_uri for m in composed.mentions]
    if in_reply_to is not None and in_reply_to.author_uri not in mentioned:
        mentioned.append(in_reply_to.author_uri)
    to, cc = addressing(visibility, urls.actor_followers(actor.username), mentioned)
    return PostData(
        uri=urls.note(new_token()),
        author_uri=urls.actor(actor.username),
        local_actor_id=actor.id,
        type="Note",
        name=None,
        summary=summary.strip() or None,
        content_html=composed.html,
        in_reply_to=in_reply_to.uri if in_reply_to else None,
        url=None,
        visibility=visibility,
        to_uris=to,
        cc_uris=cc,
        sensitive=bool(summary.strip()),
        language=language,
        published=clock.now(),
        updated=None,
        raw=None,
        mentions=tuple(mentioned),
        tags=composed.tags,
    )


async def create_note(
    conn: Connection,
    *,
    actor: Actor,
    text: str,
    visibility: str,
    urls: Urls,
    clock: Clock,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    summary: str = "",
    in_reply_to: Post | None = None,
    language: str | None = None,
    audience: str | None = None,
) -> Post:
    """Write a note; its Create goes to followers, mentioned actors and the replied-to author."""
    checked = _checked_visibility(text, visibility)
    replied_to_id = in_reply_to.local_actor_id if in_reply_to is not None else None
    if replied_to_id is not None and await follow_queries.refuses(
        conn, replied_to_id, urls.actor(actor.username)
    ):
        raise PostError("reply_blocked", "the author of this post blocks you")
    composed = compose(text, local_host=local_host, resolved=resolved, tag_url=urls.tag_template)
    data = _note_data(
        actor,
        composed,
        visibility=checked,
        in_reply_to=in_reply_to,
        summary=summary,
        language=language,
        urls=urls,
        clock=clock,
    )
    async with conn.transaction():
        post = await queries.upsert_post(conn, data)
        activity = create_activity(
            post,
            urls,
            mentions=[(m.actor_uri, m.text) for m in composed.mentions],
            tags=list(composed.tags),
            audience=audience,
        )
        await publish(
            conn,
            actor=actor,
            activity=activity,
            audience=Audience(frozenset(data.mentions), followers=checked != "direct"),
            urls=urls,
            clock=clock,
        )
        await notify_post(conn, post, data.mentions, urls=urls, clock=clock)
    return post


async def notify_post(
    conn: Connection, post: Post, mentions: tuple[str, ...], *, urls: Urls, clock: Clock
) -> None:
    """Tell the local author of the post this one answers, and the local actors it mentions."""
    replied_to = None
    if post.in_reply_to is not None:
        replied_to = await queries.select_local_post_author(conn, post.in_reply_to)
        # A reply the parent's author is not allowed to read does not reach them this way.
        if replied_to is not None and (
            post.visibility in ("public", "unlisted")
            or replied_to in (*post.to_uris, *post.cc_uris, *mentions)
        ):
            await notify(
                conn,
                recipient=replied_to,
                kind="reply",
                actor_uri=post.author_uri,
                object_uri=post.uri,
                urls=urls,
                clock=clock,
            )
    for mentioned in dict.fromkeys(mentions):
        if mentioned != replied_to:
            await notify(
                conn,
                recipient=mentioned,
                kind="mention",
                actor_uri=post.author_uri,
                object_uri=post.uri,
                urls=urls,
                clock=clock,
            )


async def delete_note(
    conn: Connection, *, actor: Actor, post: Post, urls: Urls, clock: Clock
) -> None:
    """Delete a local note and tell everyone who got it (Delete with a Tombstone)."""
    if post.local_actor_id != actor.id:
        raise PostError("not_author", "only the author can delete a post")
    me = urls.actor(actor.username)
    async with conn.transaction():
        await queries.mark_post_deleted(conn, post.uri, me, clock.now())
        await located_queries.mark_deleted(conn, post.uri, clock.now())
        await publish(
            conn,
            actor=actor,
            activity=delete_activity(post, activity_uri=urls.activity(new_token())),
            audience=Audience(frozenset(post.to_uris + post.cc_uris) - {PUBLIC}, followers=True),
            urls=urls,
            clock=clock,
        )


async def interact(
    conn: Connection, *, actor: Actor, post: Post, kind: str, urls: Urls, clock: Clock
) -> bool:
    """Like or boost a post (public ones only for boosts); whether it was new."""
    if kind == "announce" and post.visibility not in ("public", "unlisted"):
        raise PostError("not_boostable", "only public posts can be boosted")
    me = urls.actor(actor.username)
    activity_uri = urls.activity(new_token())
    async with conn.transaction():
        new = await queries.insert_interaction(
            conn,
            activity_uri=activity_uri,
            kind=kind,
            actor_uri=me,
            object_uri=post.uri,
            when=clock.now(),
        )
        if not new:
            return False
        await publish(
            conn,
            actor=actor,
            activity=interaction_activity(
                kind,
                post,
                activity_uri=activity_uri,
                actor=me,
                followers=urls.actor_followers(actor.username),
                published=format_datetime(clock.now()),
            ),
            audience=Audience(frozenset({post.author_uri}), followers=kind == "announce"),
            urls=urls,
            clock=clock,
        )
        await notify(
            conn,
            recipient=post.author_uri,
            kind="like" if kind == "like" else "announce",
            actor_uri=me,
            object_uri=post.uri,
            urls=urls,
            clock=clock,
        )
    return True


async def undo_interaction(
    conn: Connection, *, actor: Actor, post: Post, kind: str, urls: Urls, clock: Clock
) -> bool:
    """Take back a like or boost, telling those who got it with Undo; whether there was one."""
    me = urls.actor(actor.username)
    async with conn.transaction():
        interaction_uri = await queries.select_interaction_uri(
            conn, kind=kind, actor_uri=me, object_uri=post.uri
        )
        if interaction_uri is None:
            return False
        await queries.delete_interaction(
            conn, kind=kind, actor_uri=me, activity_uri=interaction_uri, object_uri=None
        )
        await publish(
            conn,
            actor=actor,
            activity=undo_interaction_activity(
                kind,
                post,
                activity_uri=urls.activity(new_token()),
                interaction_uri=interaction_uri,
                actor=me,
                followers=urls.actor_followers(actor.username),
            ),
            audience=Audience(frozenset({post.author_uri}), followers=kind == "announce"),
            urls=urls,
            clock=clock,
        )
    return True
