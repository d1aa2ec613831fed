"""Amendments (each rule with a test that tries to break it) and the automatic phase changes of
proposals (votes closed with their result, votes opened after amendments), idempotent and safe
with several workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.proposals import amendments, drafts, lifecycle, phases, queries
from fedicity.proposals import service as proposals
from fedicity.proposals.models import Proposal
from fedicity.proposals.service import ProposalError
from tests.conftest import FixedKeys
from tests.inbox_helpers import seed_remote_actor
from tests.proposals.test_proposals import (
    KEY,
    RIN,
    URLS,
    _citizen,
    _deliver,
    _env,
    _reload,
    _vote,
    _voting,
)


async def _amendable(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, author: Actor, **settings: Any
) -> Proposal:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        draft = await drafts.create_draft(
            conn, actor=author, title="Un jardin partagé", text="Rue de Paris.", env=env
        )
        return await lifecycle.open_amendments(
            conn,
            actor=author,
            proposal=draft,
            until=clock.now() + timedelta(days=3),
            env=env,
            **settings,
        )


async def _amend(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, proposal: Proposal, who: Actor
) -> int:
    async with pool.acquire() as conn:
        amendment = await amendments.amend(
            conn, actor=who, proposal=proposal, text="Et des arbres.", env=_env(clock, keygen)
        )
    return amendment.id


async def _code(coro: Any) -> str:
    with pytest.raises(ProposalError) as refused:
        await coro
    return refused.value.code


async def test_amendments_only_during_the_amendment_period(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    other = await _citizen(pool, keygen, "dominique")
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        draft = await drafts.create_draft(conn, actor=author, title="T", text="x", env=env)
        assert await _code(
            amendments.amend(conn, actor=other, proposal=draft, text="y", env=env)
        ) == ("not_amendable")
    proposal = await _amendable(pool, clock, keygen, author)
    async with pool.acquire() as conn:
        assert (
            await _code(amendments.amend(conn, actor=other, proposal=proposal, text="  ", env=env))
            == "amendment_invalid"
        )
    await _amend(pool, clock, keygen, proposal, other)
    async with pool.acquire() as conn:
        create = await conn.fetchval(
            "SELECT raw FROM outbox_activities WHERE type = 'Create' ORDER BY id DESC LIMIT 1"
        )
    note = create["object"]
    assert note["type"] == ["Note", "Amendment"]
    assert note["inReplyTo"] == proposal.uri
    assert note["attributedTo"] == URLS.actor("dominique")
    clock.advance(timedelta(days=4))  # the period is over
    async with pool.acquire() as conn:
        assert (
            await _code(amendments.amend(conn, actor=other, proposal=proposal, text="z", env=env))
            == "not_amendable"
        )
    voting = await _voting(pool, clock, keygen, author)
    async with pool.acquire() as conn:
        assert (
            await _code(amendments.amend(conn, actor=other, proposal=voting, text="z", env=env))
            == "not_amendable"
        )
        assert len(await queries.select_amendments(conn, proposal.id)) == 1


async def test_only_the_author_or_the_organisation_accepts_and_the_text_is_kept(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    other = await _citizen(pool, keygen, "dominique")
    proposal = await _amendable(pool, clock, keygen, author)
    amendment_id = await _amend(pool, clock, keygen, proposal, other)
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        assert (
            await _code(
                amendments.decide_amendment(
                    conn, actor=other, amendment_id=amendment_id, accept=True, env=env
                )
            )
            == "not_allowed"
        )
        accepted = await amendments.decide_amendment(
            conn, actor=author, amendment_id=amendment_id, accept=True, env=env
        )
        assert accepted.state == "accepted"
        assert accepted.decided_by == URLS.actor("camille")
        assert (
            await _code(
                amendments.decide_amendment(
                    conn, actor=author, amendment_id=amendment_id, accept=False, env=env
                )
            )
            == "amendment_decided"
        )
        question = await proposals.question(conn, await _reload(pool, proposal), env)
    [item] = question["amendments"]["items"]
    assert item["amendmentState"] == "accepted"
    assert "Et des arbres." in item["content"]
    assert question["amendments"]["totalItems"] == 1


async def test_one_up_or_down_vote_per_actor(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    other = await _citizen(pool, keygen, "dominique")
    proposal = await _amendable(pool, clock, keygen, author)
    amendment_id = await _amend(pool, clock, keygen, proposal, other)
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        first = await amendments.vote_amendment(
            conn, actor=other, amendment_id=amendment_id, up=True, env=env
        )
        assert (first.up, first.down) == (1, 0)
        assert (
            await _code(
                amendments.vote_amendment(
                    conn, actor=other, amendment_id=amendment_id, up=True, env=env
                )
            )
            == "already_counted"
        )
        switched = await amendments.vote_amendment(
            conn, actor=other, amendment_id=amendment_id, up=False, env=env
        )
        assert (switched.up, switched.down) == (0, 1)
        both = await amendments.vote_amendment(
            conn, actor=author, amendment_id=amendment_id, up=True, env=env
        )
        assert (both.up, both.down) == (1, 1)
        await amendments.decide_amendment(
            conn, actor=author, amendment_id=amendment_id, accept=False, env=env
        )
        assert (
            await _code(
                amendments.vote_amendment(
                    conn, actor=other, amendment_id=amendment_id, up=True, env=env
                )
            )
            == "amendment_decided"
        )
    late = await _amend(pool, clock, keygen, proposal, other)
    clock.advance(timedelta(days=4))
    async with pool.acquire() as conn:
        assert (
            await _code(
                amendments.vote_amendment(conn, actor=other, amendment_id=late, up=True, env=env)
            )
            == "not_amendable"
        )


def _remote_amendment(proposal: Proposal, number: int) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "http://fedicity.test/ns"],
        "id": f"{RIN}/amendments/{number}/activity",
        "type": "Create",
        "actor": RIN,
        "object": {
            "id": f"{RIN}/amendments/{number}",
            "type": ["Note", "Amendment"],
            "attributedTo": RIN,
            "inReplyTo": proposal.uri,
            "content": "<p>Plutôt rue de Lyon.<script>x</script></p>",
        },
    }


async def test_a_remote_amendment_follows_the_same_window(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    author = await _citizen(pool, keygen)
    proposal = await _amendable(pool, clock, keygen, author)
    assert await _deliver(app, client, pool, clock, _remote_amendment(proposal, 1)) == ("done", "")
    clock.advance(timedelta(days=4))
    state, detail = await _deliver(app, client, pool, clock, _remote_amendment(proposal, 2))
    assert state == "ignored"
    assert "amendment period" in detail
    async with pool.acquire() as conn:
        [kept] = await queries.select_amendments(conn, proposal.id)
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0
    assert kept.author_uri == RIN
    assert not kept.local
    assert "<script>" not in kept.content_html


# -- automatic phase changes ---------------------------------------------------------------------


async def test_a_vote_whose_end_passed_is_closed_once_with_its_result(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    proposal = await _voting(pool, clock, keygen, author)
    await _vote(pool, clock, keygen, proposal, author, "Pour")
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        assert await phases.advance_due(conn, env) == 0  # not yet
    clock.advance(timedelta(days=7))
    async with pool.acquire() as conn:
        assert await phases.advance_due(conn, env) == 1
        assert await phases.advance_due(conn, env) == 0  # idempotent
        update = await conn.fetchval(
            "SELECT raw FROM outbox_activities WHERE type = 'Update' ORDER BY id DESC LIMIT 1"
        )
    closed = await _reload(pool, proposal)
    assert (closed.state, closed.result) == ("closed", "adopted")
    assert update["object"]["proposalState"] == "closed"
    assert update["object"]["result"] == "adopted"
    assert "closed" in update["object"]


async def test_several_workers_never_apply_a_change_twice(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    for _ in range(5):
        await _voting(pool, clock, keygen, author)
    clock.advance(timedelta(days=8))
    env = _env(clock, keygen)

    async def worker() -> int:
        total = 0
        async with pool.acquire() as conn:
            while handled := await phases.advance_due(conn, env, limit=2):
                total += handled
        return total

    counts = await asyncio.gather(worker(), worker(), worker())
    assert sum(counts) == 5
    async with pool.acquire() as conn:
        closings = await conn.fetchval(
            """SELECT count(*) FROM outbox_activities
                WHERE type = 'Update' AND raw -> 'object' ->> 'proposalState' = 'closed'"""
        )
    assert closings == 5


async def test_the_vote_opens_after_amendments_only_when_asked(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    automatic = await _amendable(pool, clock, keygen, author, auto_voting_days=5)
    manual = await _amendable(pool, clock, keygen, author)
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        assert await phases.advance_due(conn, env) == 0
        with pytest.raises(ProposalError):
            await lifecycle.open_amendments(
                conn, actor=author, proposal=manual, until=clock.now(), env=env
            )
    clock.advance(timedelta(days=3))
    async with pool.acquire() as conn:
        assert await phases.advance_due(conn, env) == 1
    opened = await _reload(pool, automatic)
    assert opened.state == "voting"
    assert opened.voting_ends == clock.now() + timedelta(days=5)
    assert (await _reload(pool, manual)).state == "amendable"
    await _vote(pool, clock, keygen, opened, author, "Contre")
    clock.advance(timedelta(days=5))
    async with pool.acquire() as conn:
        assert await phases.advance_due(conn, env) == 1
    done = await _reload(pool, automatic)
    assert (done.state, done.result) == ("closed", "rejected")
