"""A proposal's life: draft -> amendable -> voting -> closed -> archived (or withdrawn), and the
organisation's official answer. Each change is made by the author or the organisation and goes
out as the Question's Create (leaving draft) or Update."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.proposals import queries
from fedicity.proposals.models import Proposal, State
from fedicity.proposals.service import MAX_TEXT, Env, ProposalError, announce, may_manage
from fedicity.proposals.votes import compute_result
from fedicity.textfmt import render_markdown


async def _transition(
    conn: Connection,
    *,
    actor: Actor,
    proposal: Proposal,
    env: Env,
    allowed_from: tuple[State, ...],
    author_only: bool = False,
    **changes: Any,
) -> Proposal:
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        assert current is not None
        me = env.urls.actor(actor.username)
        if not may_manage(actor, current, env.urls) or (author_only and me != current.author_uri):
            raise ProposalError("not_allowed", "only the author or the organisation may do this")
        if current.state not in allowed_from:
            raise ProposalError(
                "wrong_state", f"not possible while the proposal is {current.state}"
            )
        updated = replace(current, updated=env.clock.now(), **changes)
        saved = await queries.upsert_proposal(conn, updated.as_data())
        if saved.state != "draft":
            await announce(conn, saved, env, first=current.state == "draft")
    return saved


async def open_amendments(
    conn: Connection,
    *,
    actor: Actor,
    proposal: Proposal,
    until: datetime,
    env: Env,
    auto_voting_days: int | None = None,
) -> Proposal:
    """Draft -> amendable until a date; the proposal is published. With `auto_voting_days`, the
    vote opens by itself for that many days once the amendment period is over."""
    if until <= env.clock.now():
        raise ProposalError("date_invalid", "the amendment period must end in the future")
    if auto_voting_days is not None and not 1 <= auto_voting_days <= 365:
        raise ProposalError("date_invalid", "the vote lasts 1 to 365 days")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft",),
        state="amendable",
        amendable_until=until,
        auto_voting_days=auto_voting_days,
    )


async def open_voting(
    conn: Connection, *, actor: Actor, proposal: Proposal, ends: datetime, env: Env
) -> Proposal:
    """Draft or amendable -> voting from now until `ends`."""
    now = env.clock.now()
    if ends <= now:
        raise ProposalError("date_invalid", "the vote must end in the future")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft", "amendable"),
        state="voting",
        voting_opens=now,
        voting_ends=ends,
    )


async def close(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """Voting -> closed, with the result; the vote ends now if it had not ended yet."""
    async with conn.transaction():
        counts = await queries.tally(conn, proposal.id)
        now = env.clock.now()
        ends = proposal.voting_ends if proposal.voting_ends and proposal.voting_ends < now else now
        return await _transition(
            conn,
            actor=actor,
            proposal=proposal,
            env=env,
            allowed_from=("voting",),
            state="closed",
            voting_ends=ends,
            result=compute_result(proposal, counts),
        )


async def withdraw(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """The author takes the proposal back before the vote is over."""
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft", "amendable", "voting"),
        author_only=True,
        state="withdrawn",
    )


async def archive(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """A closed or withdrawn proposal is archived."""
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("closed", "withdrawn"),
        state="archived",
    )


async def answer(
    conn: Connection, *, actor: Actor, proposal: Proposal, text: str, env: Env
) -> Proposal:
    """The organisation's official answer, in Markdown (only the organisation the proposal
    belongs to)."""
    if proposal.organization_uri != env.urls.actor(actor.username):
        raise ProposalError("not_allowed", "only the organisation gives the official answer")
    if not text.strip() or len(text) > MAX_TEXT:
        raise ProposalError("answer_invalid", f"an answer has 1 to {MAX_TEXT} characters")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("amendable", "voting", "closed", "archived"),
        official_answer=await asyncio.to_thread(render_markdown, text),
    )
