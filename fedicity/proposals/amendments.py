"""Amendments during the amendment period: proposed here (published as Notes typed
fc:Amendment) or received, voted up or down, then accepted or rejected by the proposal's author
or organisation. Each change that shows sends the Question out again with its `amendments`."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.proposals import queries
from fedicity.proposals.document import amendment_create, amendment_to_ap
from fedicity.proposals.models import Amendment, Proposal
from fedicity.proposals.service import MAX_TEXT, Env, ProposalError, announce, may_manage
from fedicity.sanitize import html_to_text
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token


def _amendable(proposal: Proposal, now: datetime) -> None:
    if proposal.state != "amendable" or (
        proposal.amendable_until is not None and now >= proposal.amendable_until
    ):
        raise ProposalError("not_amendable", "amendments belong to the amendment period")


async def propose_amendment(
    conn: Connection,
    *,
    proposal: Proposal,
    author_uri: str,
    content_html: str,
    env: Env,
    author: Actor | None,
    uri: str | None = None,
    content_source: str | None = None,
) -> Amendment:
    """An amendment during the amendment period (local when `author` is given: its Note is
    published); the Question goes out again with its amendments."""
    if not html_to_text(content_html).strip() or len(content_html) > 2 * MAX_TEXT:
        raise ProposalError("amendment_invalid", f"an amendment has 1 to {MAX_TEXT} characters")
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        if current is None or not current.local:
            raise ProposalError("proposal_unknown", "no such proposal here")
        _amendable(current, env.clock.now())
        amendment = await queries.insert_amendment(
            conn,
            uri=uri or env.urls.amendment(current.uri, new_token()),
            proposal_id=current.id,
            author_uri=author_uri,
            content_html=content_html,
            local=author is not None,
            now=env.clock.now(),
            content_source=content_source,
        )
        if amendment is None:
            raise ProposalError("already_counted", "this amendment is already known")
        if author is not None:
            await _publish_note(conn, amendment, current, author, env)
        await announce(conn, current, env, first=False)
    return amendment


async def _publish_note(
    conn: Connection, amendment: Amendment, proposal: Proposal, author: Actor, env: Env
) -> None:
    """A local amendment's Note goes to its author's followers and the proposal's author."""
    followers = env.urls.actor_followers(author.username)
    note = amendment_to_ap(amendment, proposal, followers=followers, with_context=False)
    await publish(
        conn,
        actor=author,
        activity=amendment_create(note, env.urls),
        audience=Audience(frozenset({proposal.author_uri}), followers=True),
        urls=env.urls,
        clock=env.clock,
    )


async def amend(
    conn: Connection, *, actor: Actor, proposal: Proposal, text: str, env: Env
) -> Amendment:
    """A citizen of this instance proposes an amendment from the proposal's page, in
    Markdown."""
    if not text.strip() or len(text) > MAX_TEXT:
        raise ProposalError("amendment_invalid", f"an amendment has 1 to {MAX_TEXT} characters")
    return await propose_amendment(
        conn,
        proposal=proposal,
        author_uri=env.urls.actor(actor.username),
        content_html=await asyncio.to_thread(render_markdown, text),
        content_source=text,
        env=env,
        author=actor,
    )


async def _amendment_and_proposal(
    conn: Connection, amendment_id: int
) -> tuple[Amendment, Proposal]:
    amendment = await queries.select_amendment(conn, amendment_id)
    if amendment is None:
        raise ProposalError("amendment_unknown", "no such amendment")
    proposal = await queries.select_proposal_for_update(conn, amendment.proposal_id)
    assert proposal is not None
    return amendment, proposal


async def vote_amendment(
    conn: Connection, *, actor: Actor, amendment_id: int, up: bool, env: Env
) -> Amendment:
    """One up or down vote per actor on a proposed amendment, during the amendment period; a
    vote the other way replaces the first."""
    async with conn.transaction():
        amendment, proposal = await _amendment_and_proposal(conn, amendment_id)
        _amendable(proposal, env.clock.now())
        if amendment.state != "proposed":
            raise ProposalError("amendment_decided", "this amendment was already decided")
        if not await queries.upsert_amendment_vote(
            conn,
            amendment_id=amendment.id,
            voter_uri=env.urls.actor(actor.username),
            up=up,
            now=env.clock.now(),
        ):
            raise ProposalError("already_counted", "this vote was already counted")
        found = await queries.select_amendment(conn, amendment.id)
    assert found is not None
    return found


async def decide_amendment(
    conn: Connection, *, actor: Actor, amendment_id: int, accept: bool, env: Env
) -> Amendment:
    """The proposal's author or organisation accepts or rejects an amendment while the proposal
    is amendable; the decision (and an accepted amendment's text) is kept and published in the
    Question's `amendments`."""
    async with conn.transaction():
        amendment, proposal = await _amendment_and_proposal(conn, amendment_id)
        if not may_manage(actor, proposal, env.urls):
            raise ProposalError("not_allowed", "only the author or the organisation may do this")
        if proposal.state != "amendable":
            raise ProposalError("not_amendable", "amendments belong to the amendment period")
        if not await queries.set_amendment_state(
            conn,
            amendment.id,
            state="accepted" if accept else "rejected",
            decided_by=env.urls.actor(actor.username),
            now=env.clock.now(),
        ):
            raise ProposalError("amendment_decided", "this amendment was already decided")
        await announce(conn, proposal, env, first=False)
        found = await queries.select_amendment(conn, amendment.id)
    assert found is not None
    return found
