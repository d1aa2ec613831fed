"""The handlers `workers/router.py` calls for proposals: remote votes, amendments and comments
(new, edited, deleted) on our proposals, and remote Questions kept as remote proposals.

Each reads the document with `parse`, checks that the activity's actor wrote it, and hands it
to the same operation a local citizen's action goes through; a refusal is an ignored row with
its reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_str, get_type, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.activitypub.routing import Outcome
from fedicity.actors.context import InboundContext
from fedicity.proposals import amendments, comments, followup_queries, queries, room_follows, votes
from fedicity.proposals.models import Room
from fedicity.proposals.parse import (
    comment_target,
    content_of,
    from_ap,
    is_amendment_document,
    kind_of,
    resolution_from_ap,
    source_of,
    stance_of,
    task_from_ap,
    vote_target,
)
from fedicity.proposals.service import Env, ProposalError


def _env(ctx: InboundContext) -> Env:
    return Env(urls=ctx.urls, clock=ctx.clock, keygen=ctx.keygen)


async def remember_question(ctx: InboundContext, document: Mapping[str, Any]) -> None:
    """Keep a remote Question (a poll, or another fedicity's proposal) with its tallies."""
    if get_type(document) != "Question":
        return
    data = from_ap(document, author=ctx.actor_uri, now=ctx.clock.now())
    if isinstance(data, str):
        return
    if host_of(data.uri) == host_of(ctx.urls.base):
        return  # ours come from our own rows, never from the wire
    await queries.upsert_proposal(ctx.conn, data)


async def _is_local_proposal(ctx: InboundContext, target: str | None) -> bool:
    """Whether `target` is one of our proposals (checked by host before the query)."""
    if target is None or host_of(target) != host_of(ctx.urls.base):
        return False
    proposal = await queries.select_proposal(ctx.conn, target)
    return proposal is not None and proposal.local


def _written_by_actor(ctx: InboundContext, document: Mapping[str, Any]) -> str | None:
    """The document's id when the activity's actor wrote it on its own host, else None."""
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    uri = get_id(document)
    if author != ctx.actor_uri or uri is None or host_of(uri) != host_of(ctx.actor_uri):
        return None
    return uri


async def is_vote(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is a vote on one of our proposals (posts hands it to us)."""
    return await _is_local_proposal(ctx, vote_target(document))


async def on_vote(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote vote on a local proposal: counted once per actor, then the tallies go out."""
    target = vote_target(document)
    proposal = await queries.select_proposal(ctx.conn, target or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the vote is not on a proposal of ours")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if author != ctx.actor_uri:
        return Outcome.ignored("the vote's author is not the activity's actor")
    option = get_str(document, "name") or ""
    activity_uri = get_id(activity) or get_id(document) or ""
    try:
        await votes.record_vote(
            ctx.conn,
            proposal=proposal,
            voter_uri=ctx.actor_uri,
            options=[option],
            activity_uri=activity_uri,
            local=False,
            voter_home_territory_id=None,
            env=_env(ctx),
        )
    except ProposalError as refused:
        return Outcome.ignored(f"vote refused: {refused}")
    return Outcome.done()


async def is_amendment(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is an amendment to one of our proposals."""
    if not is_amendment_document(document):
        return False
    return await _is_local_proposal(ctx, get_id(document.get("inReplyTo")))


async def on_amendment(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote amendment to a local proposal: kept under the same rules as a local one."""
    proposal = await queries.select_proposal(ctx.conn, get_id(document.get("inReplyTo")) or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the amendment is not to a proposal of ours")
    uri = _written_by_actor(ctx, document)
    if uri is None:
        return Outcome.ignored("the amendment's author is not the activity's actor")
    try:
        await amendments.propose_amendment(
            ctx.conn,
            proposal=proposal,
            author_uri=ctx.actor_uri,
            content_html=content_of(document),
            content_source=source_of(document),
            uri=uri,
            author=None,
            env=_env(ctx),
        )
    except ProposalError as refused:
        return Outcome.ignored(f"amendment refused: {refused}")
    return Outcome.done()


async def is_comment(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether a Create's Note is a comment on one of our proposals."""
    return await _is_local_proposal(ctx, comment_target(document))


async def on_comment(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote comment on a local proposal (a Mastodon reply is one too): stance from
    `fc:stance`, neutral without it; kept under the same rules as a local comment."""
    proposal = await queries.select_proposal(ctx.conn, comment_target(document) or "")
    if proposal is None or not proposal.local:
        return Outcome.ignored("the comment is not on a proposal of ours")
    uri = _written_by_actor(ctx, document)
    if uri is None:
        return Outcome.ignored("the comment's author is not the activity's actor")
    try:
        await comments.receive_comment(
            ctx.conn,
            proposal=proposal,
            author_uri=ctx.actor_uri,
            stance=stance_of(document),
            content_html=content_of(document),
            content_source=source_of(document),
            uri=uri,
            published=parse_datetime(document.get("published")),
            env=_env(ctx),
        )
    except ProposalError as refused:
        return Outcome.ignored(f"comment refused: {refused}")
    return Outcome.done()


async def is_comment_edit(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    """Whether an Update's object is a comment we keep (posts hands it to us)."""
    uri = get_id(document)
    return uri is not None and await queries.select_comment(ctx.conn, uri) is not None


async def on_comment_edit(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome:
    """A remote comment edited by its author: text (sanitized) and stance replaced, the stance
    read as for a new comment; it stays on its proposal whatever `inReplyTo` now says."""
    comment = await queries.select_comment(ctx.conn, get_id(document) or "")
    if comment is None:
        return Outcome.ignored("no such comment")
    author = get_id(document.get("attributedTo")) or ctx.actor_uri
    if comment.author_uri != ctx.actor_uri or author != ctx.actor_uri:
        return Outcome.ignored("only the comment's author can edit it")
    try:
        await comments.receive_comment_edit(
            ctx.conn,
            comment=comment,
            author_uri=ctx.actor_uri,
            stance=stance_of(document),
            content_html=content_of(document),
            content_source=source_of(document),
            env=_env(ctx),
        )
    except ProposalError as refused:
        return Outcome.ignored(f"comment edit refused: {refused}")
    return Outcome.done()


async def delete_stored_comment(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of a comment we keep (by bare id or Tombstone): removed when the activity's actor
    wrote it, refused otherwise; None when no comment has that id."""
    comment = await queries.select_comment(ctx.conn, object_uri)
    if comment is None:
        return None
    if comment.author_uri != ctx.actor_uri:
        return Outcome.ignored("only the comment's author can delete it")
    try:
        await comments.receive_comment_delete(
            ctx.conn, comment=comment, author_uri=ctx.actor_uri, env=_env(ctx)
        )
    except ProposalError as refused:
        return Outcome.ignored(f"comment deletion refused: {refused}")
    return Outcome.done()


async def claim_created(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """A created Note that belongs to one of our proposals, handled; None for anything else.

    A Mastodon-shaped poll vote is a ballot, an amendment is an amendment, and any other Note in
    reply to the proposal (a Mastodon reply too) is a comment: none of them is a post. Another
    fedicity's resolution (Article) or action (Page) is kept as such, not as a post."""
    follow_up = await claim_follow_up(ctx, document)
    if follow_up is not None:
        return follow_up
    if await is_vote(ctx, document):
        return await on_vote(ctx, activity, document)
    if await is_amendment(ctx, document):
        return await on_amendment(ctx, activity, document)
    if await is_comment(ctx, document):
        return await on_comment(ctx, activity, document)
    return None


async def claim_updated(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """An edited comment on one of our proposals, replaced; an action updated by its
    publisher, replaced; None for anything else."""
    follow_up = await claim_follow_up(ctx, document)
    if follow_up is not None:
        return follow_up
    if await is_comment_edit(ctx, document):
        return await on_comment_edit(ctx, activity, document)
    return None


async def claim_follow_up(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome | None:
    """A resolution (Article, fc:kind Resolution) or an action (Page, fc:kind Task) of another
    fedicity, stored (an action replaced when it comes again); ours are ours already; None for
    anything else."""
    kind = kind_of(document)
    wanted = {"Article": "Resolution", "Page": "Task"}.get(get_type(document) or "")
    if kind is None or kind != wanted:
        return None
    if host_of(get_id(document) or "") == host_of(ctx.urls.base):
        return Outcome.done("ours: kept from our own rows")
    now = ctx.clock.now()
    if kind == "Resolution":
        values = resolution_from_ap(document, actor_uri=ctx.actor_uri, now=now)
        if isinstance(values, str):
            return Outcome.ignored(values)
        saved = await followup_queries.insert_resolution(ctx.conn, values, raw=dict(document))
        return Outcome.done() if saved else Outcome.ignored("this proposal has its resolution")
    task = task_from_ap(document, actor_uri=ctx.actor_uri, now=now)
    if isinstance(task, str):
        return Outcome.ignored(task)
    stored = await followup_queries.upsert_remote_task(ctx.conn, {**task, "raw": dict(document)})
    return (
        Outcome.done()
        if stored
        else Outcome.ignored("this action belongs to someone else, or this copy is older")
    )


async def delete_stored_action(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of a remote action we keep: removed when its publisher asks; None when no action
    has that id."""
    task = await followup_queries.select_task(ctx.conn, object_uri)
    if task is None:
        return None
    if task.local or task.attributed_to != ctx.actor_uri:
        return Outcome.ignored("only the action's publisher can delete it")
    await followup_queries.delete_task(ctx.conn, task.id)
    return Outcome.done()


async def _local_room(ctx: InboundContext, uri: str | None) -> Room | None:
    if uri is None or host_of(uri) != host_of(ctx.urls.base):
        return None
    return await followup_queries.select_room_by_uri(ctx.conn, uri)


async def claim_room_follow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome | None:
    """A Follow of one of our rooms (sent to its owner's inbox or the shared inbox): kept and
    accepted by the owner; None when the object is not a room of ours."""
    room = await _local_room(ctx, get_id(activity.get("object")))
    if room is None:
        return None
    try:
        await room_follows.receive_follow(
            ctx.conn, room=room, follower=ctx.actor_uri, follow_uri=get_id(activity), env=_env(ctx)
        )
    except ProposalError as refused:
        return Outcome.ignored(f"room follow refused: {refused}")
    return Outcome.done("room followed")


async def claim_room_unfollow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome | None:
    """Undo(Follow) of one of our rooms (embedded, or by the Follow's id): the follow ends; None
    when it is not about a room follow."""
    undone = activity.get("object")
    follow_uri = get_id(undone)
    if isinstance(undone, Mapping):
        room = await _local_room(ctx, get_id(undone.get("object")))
        if room is not None:
            ended = await followup_queries.delete_room_follow(ctx.conn, room.id, ctx.actor_uri)
            return Outcome.done() if ended else Outcome.ignored("there was no such follow")
    if follow_uri is not None and await followup_queries.delete_room_follow_by_activity(
        ctx.conn, follow_uri, ctx.actor_uri
    ):
        return Outcome.done("room unfollowed")
    return None


async def forget_room_follower(ctx: InboundContext) -> None:
    """A remote actor deleted itself: the rooms it followed no longer deliver to it."""
    await followup_queries.delete_room_follows_of(ctx.conn, ctx.actor_uri)
