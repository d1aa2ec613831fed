"""The automatic phase changes the background loop applies: votes close when their end has
passed, and amendable proposals that ask for it open their vote once their period is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fedicity.db.pool import Connection
from fedicity.proposals import queries
from fedicity.proposals.models import Proposal
from fedicity.proposals.service import Env, announce
from fedicity.proposals.votes import compute_result

DUE_BATCH = 20


async def advance_due(conn: Connection, env: Env, *, limit: int = DUE_BATCH) -> int:
    """Close the votes whose end has passed (with their result) and open the vote of amendable
    proposals that ask for it once their period is over; each change goes out as an Update.
    Rows are claimed with SKIP LOCKED and re-checked by state, so several workers never apply a
    change twice. Returns how many proposals changed."""
    async with conn.transaction():
        now = env.clock.now()
        due = await queries.claim_due(conn, now, limit=limit)
        for proposal in due:
            changes = await _next_phase(conn, proposal, now)
            saved = await queries.upsert_proposal(
                conn, replace(proposal, updated=now, **changes).as_data()
            )
            await announce(conn, saved, env, first=False)
    return len(due)


async def _next_phase(conn: Connection, proposal: Proposal, now: datetime) -> dict[str, Any]:
    """A due vote closes with its result; a due amendment period opens the vote for its days."""
    if proposal.state == "voting":
        counts = await queries.tally(conn, proposal.id)
        return {"state": "closed", "result": compute_result(proposal, counts)}
    assert proposal.auto_voting_days is not None
    return {
        "state": "voting",
        "voting_opens": now,
        "voting_ends": now + timedelta(days=proposal.auto_voting_days),
    }
