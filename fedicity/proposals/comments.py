"""Comments for, against or neutral, while a proposal is open for debate: written here (published
as Notes with `fc:stance`) or received, edited and deleted by their remote authors. Each one
sends the Question out again with its `replies`."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.notifications.service import notify
from fedicity.proposals import queries
from fedicity.proposals.document import comment_create, comment_to_ap
from fedicity.proposals.models import STANCES, Comment, Proposal
from fedicity.proposals.service import Env, ProposalError, announce, author_of, check_room_access
from fedicity.sanitize import html_to_text
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token

MAX_COMMENT = 5000


async def _comment_rules(
    conn: Connection, proposal: Proposal, stance: str, author_uri: str
) -> None:
    if stance not in STANCES:
        raise ProposalError("stance_invalid", "a stance is for, neutral or against")
    if not proposal.local:
        raise ProposalError("proposal_unknown", "no such proposal here")
    if proposal.state not in ("amendable", "voting"):
        raise ProposalError("wrong_state", "comments are open during amendments and the vote")
    if proposal.room_id is not None:
        room = await queries.select_room(conn, proposal.room_id)
        if room is not None:
            await check_room_access(conn, room, author_uri)


def _check_remote_text(content_html: str) -> None:
    """A remote comment's sanitized HTML: some text, within the length of a local one (HTML
    takes up to four times its text)."""
    if not html_to_text(content_html).strip() or len(content_html) > 4 * MAX_COMMENT:
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")


async def _locked(conn: Connection, proposal_id: int) -> Proposal:
    """The proposal, locked for the rest of the transaction."""
    current = await queries.select_proposal_for_update(conn, proposal_id)
    if current is None:
        raise ProposalError("proposal_unknown", "no such proposal here")
    return current


async def comment(
    conn: Connection, *, actor: Actor, proposal: Proposal, stance: str, text: str, env: Env
) -> Comment:
    """A comment for, against or neutral, while the proposal is open for debate, in Markdown;
    published as a Note in reply to the proposal (with `fc:stance` and its Markdown `source`) to
    the proposal author's followers and the author, and the Question goes out again with it in
    `replies`."""
    if not text.strip() or len(text) > MAX_COMMENT:
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")
    content_html = await asyncio.to_thread(render_markdown, text)
    if not html_to_text(content_html).strip():
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")
    author_uri = env.urls.actor(actor.username)
    async with conn.transaction():
        current = await _locked(conn, proposal.id)
        await _comment_rules(conn, current, stance, author_uri)
        found = await queries.insert_comment(
            conn,
            proposal_id=current.id,
            author_uri=author_uri,
            stance=stance,
            content_html=content_html,
            now=env.clock.now(),
            uri=env.urls.comment(current.uri, new_token()),
            content_source=text,
        )
        assert found is not None
        proposal_author = await author_of(conn, current)
        followers = env.urls.actor_followers(proposal_author.username)
        note = comment_to_ap(found, current, followers=followers, with_context=False)
        recipients = {
            current.author_uri,
            *await queries.select_follower_uris(conn, current.author_uri),
        }
        await publish(
            conn,
            actor=actor,
            activity=comment_create(note, env.urls),
            audience=Audience(frozenset(recipients - {author_uri})),
            urls=env.urls,
            clock=env.clock,
        )
        await _notify_author(conn, current, author_uri, env)
        await announce(conn, current, env, first=False)
    return found


async def _notify_author(conn: Connection, proposal: Proposal, author_uri: str, env: Env) -> None:
    await notify(
        conn,
        recipient=proposal.author_uri,
        kind="proposal_comment",
        actor_uri=author_uri,
        object_uri=proposal.uri,
        urls=env.urls,
        clock=env.clock,
    )


async def receive_comment(
    conn: Connection,
    *,
    proposal: Proposal,
    author_uri: str,
    stance: str,
    content_html: str,
    uri: str,
    published: datetime | None,
    env: Env,
    content_source: str | None = None,
) -> Comment:
    """A comment from another server (a Note in reply to a local proposal), under the same
    rules as a local one; the Question goes out again with it in `replies`."""
    _check_remote_text(content_html)
    async with conn.transaction():
        current = await _locked(conn, proposal.id)
        await _comment_rules(conn, current, stance, author_uri)
        now = env.clock.now()
        found = await queries.insert_comment(
            conn,
            proposal_id=current.id,
            author_uri=author_uri,
            stance=stance,
            content_html=content_html,
            now=min(published, now) if published else now,
            uri=uri,
            local=False,
            content_source=content_source,
        )
        if found is None:
            raise ProposalError("already_counted", "this comment is already known")
        await _notify_author(conn, current, author_uri, env)
        await announce(conn, current, env, first=False)
    return found


async def receive_comment_edit(
    conn: Connection,
    *,
    comment: Comment,
    author_uri: str,
    stance: str,
    content_html: str,
    env: Env,
    content_source: str | None = None,
) -> Comment:
    """A remote comment edited by its author: text and stance replaced, under the rules of a new
    comment (the debate must still be open); the Question goes out again once, when it changed."""
    _check_remote_text(content_html)
    async with conn.transaction():
        current = await _locked(conn, comment.proposal_id)
        stored = await queries.select_comment(conn, comment.uri)
        if stored is None or stored.author_uri != author_uri:
            raise ProposalError("not_author", "only the comment's author can edit it")
        await _comment_rules(conn, current, stance, author_uri)
        if (stored.stance, stored.content_html) == (stance, content_html):
            raise ProposalError("unchanged", "the comment is unchanged")
        edited = await queries.update_comment(
            conn,
            uri=stored.uri,
            author_uri=author_uri,
            stance=stance,
            content_html=content_html,
            content_source=content_source,
        )
        assert edited is not None
        await announce(conn, current, env, first=False)
    return edited


async def receive_comment_delete(
    conn: Connection, *, comment: Comment, author_uri: str, env: Env
) -> None:
    """A remote comment deleted by its author: removed whatever the proposal's state (an author
    may always take their words back); the Question goes out again without it."""
    async with conn.transaction():
        current = await _locked(conn, comment.proposal_id)
        if not await queries.delete_comment(conn, uri=comment.uri, author_uri=author_uri):
            raise ProposalError("not_author", "only the comment's author can delete it")
        if current.local and current.state != "draft":
            await announce(conn, current, env, first=False)
