"""Proposals: lifecycle, every voting rule (each test tries to break one), results, the Question
both ways, and Mastodon/GoToSocial-shaped votes through the real inbox and worker."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import queries as follow_queries
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import drafts, lifecycle, queries, votes
from fedicity.proposals import parse as proposals_parse
from fedicity.proposals import service as proposals
from fedicity.proposals.models import Proposal, ProposalData
from fedicity.proposals.service import Env, ProposalError
from fedicity.territories import queries as territory_queries
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FIXTURES, FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.territory_helpers import import_slice

URLS = Urls("http://fedicity.test")
INBOUND = FIXTURES / "inbound"
RIN = "https://mastodon.sdf.org/users/rinpatch"
ZORK = "http://localhost:8080/users/the_mighty_zork"
KEY = fixed_keypairs()[2]


def _fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((INBOUND / name).read_text()))


def _env(clock: FrozenClock, keygen: FixedKeys) -> Env:
    return Env(urls=URLS, clock=clock, keygen=keygen)


async def _citizen(pool: Pool, keygen: FixedKeys, name: str = "camille") -> Actor:
    async with pool.acquire() as conn:
        return await actor_service.create_person(conn, name, keygen=keygen)


async def _voting(
    pool: Pool,
    clock: FrozenClock,
    keygen: FixedKeys,
    author: Actor,
    **settings: Any,
) -> Proposal:
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        draft = await drafts.create_draft(
            conn, actor=author, title="Un jardin partagé", text="Rue de Paris.", env=env, **settings
        )
        return await lifecycle.open_voting(
            conn, actor=author, proposal=draft, ends=clock.now() + timedelta(days=7), env=env
        )


async def _vote(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, proposal: Proposal, voter: Actor, *opts: str
) -> None:
    async with pool.acquire() as conn:
        await votes.vote_locally(
            conn, actor=voter, proposal=proposal, options=list(opts), env=_env(clock, keygen)
        )


async def _make_admin(conn: Connection, org: Actor, who: Actor, clock: FrozenClock) -> None:
    await organization_queries.upsert_membership(
        conn,
        organization_id=org.id,
        member_uri=URLS.actor(who.username),
        state="accepted",
        role="admin",
        activity_uri=None,
        invited_by=None,
        now=clock.now(),
    )


async def _reload(pool: Pool, proposal: Proposal) -> Proposal:
    async with pool.acquire() as conn:
        found = await queries.select_proposal(conn, proposal.uri)
    assert found is not None
    return found


# -- lifecycle and rules -------------------------------------------------------------------------


async def test_a_draft_is_private_and_voting_is_refused_until_it_opens(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        draft = await drafts.create_draft(conn, actor=author, title="T", text="x", env=env)
        assert draft.options == ("Pour", "Contre", "Abstention")
        assert await conn.fetchval("SELECT count(*) FROM outbox_activities") == 0
        with pytest.raises(ProposalError) as refused:
            await votes.vote_locally(conn, actor=author, proposal=draft, options=["Pour"], env=env)
        assert refused.value.code == "not_open"
        amendable = await lifecycle.open_amendments(
            conn, actor=author, proposal=draft, until=clock.now() + timedelta(days=3), env=env
        )
        assert amendable.state == "amendable"
        create = await conn.fetchrow("SELECT type, raw FROM outbox_activities")
        assert create is not None
        assert create["type"] == "Create"
        assert create["raw"]["object"]["proposalState"] == "amendable"
        with pytest.raises(ProposalError) as refused:
            await votes.vote_locally(
                conn, actor=author, proposal=amendable, options=["Pour"], env=env
            )
        assert refused.value.code == "not_open"


async def test_one_vote_per_actor_and_changes_only_when_allowed(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    fixed = await _voting(pool, clock, keygen, author, vote_change_allowed=False)
    await _vote(pool, clock, keygen, fixed, author, "Pour")
    for again in ("Pour", "Contre"):
        with pytest.raises(ProposalError) as refused:
            await _vote(pool, clock, keygen, fixed, author, again)
        assert refused.value.code in {"change_not_allowed", "already_counted"}
    async with pool.acquire() as conn:
        assert (await queries.tally(conn, fixed.id)).local == {"Pour": 1}
    changeable = await _voting(pool, clock, keygen, author, vote_change_allowed=True)
    await _vote(pool, clock, keygen, changeable, author, "Pour")
    await _vote(pool, clock, keygen, changeable, author, "Contre")
    async with pool.acquire() as conn:
        counts = await queries.tally(conn, changeable.id)
    assert counts.local == {"Contre": 1}
    assert counts.voters == 1


async def test_votes_outside_the_window_or_options_are_refused(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    proposal = await _voting(pool, clock, keygen, author)
    for wrong in (["Peut-être"], ["Pour", "Contre"], []):
        with pytest.raises(ProposalError) as refused:
            await _vote(pool, clock, keygen, proposal, author, *wrong)
        assert refused.value.code == "option_invalid"
    clock.advance(timedelta(days=7))
    with pytest.raises(ProposalError) as refused:
        await _vote(pool, clock, keygen, proposal, author, "Pour")
    assert refused.value.code == "vote_closed"


async def test_residents_only_and_membership_votes_deferred(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    await import_slice(pool, tmp_path)
    author = await _citizen(pool, keygen)
    neighbour = await _citizen(pool, keygen, "bagnoletais")
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        bagnolet = await territory_queries.select_territory(conn, "commune", "93006")
        assert montreuil is not None
        assert bagnolet is not None
        await actor_queries.update_home_territory(conn, author.id, montreuil.id)
        await actor_queries.update_home_territory(conn, neighbour.id, bagnolet.id)
        author = await actor_queries.select_actor_by_id(conn, author.id)  # type: ignore[assignment]
        neighbour = await actor_queries.select_actor_by_id(conn, neighbour.id)  # type: ignore[assignment]
        with pytest.raises(ProposalError) as refused:
            await drafts.create_draft(
                conn,
                actor=author,
                title="T",
                text="",
                env=_env(clock, keygen),
                electorate="members",
            )
        assert refused.value.code == "electorate_unavailable"
    proposal = await _voting(
        pool, clock, keygen, author, electorate="residents", territory=montreuil
    )
    await _vote(pool, clock, keygen, proposal, author, "Pour")
    with pytest.raises(ProposalError) as refused:
        await _vote(pool, clock, keygen, proposal, neighbour, "Pour")
    assert refused.value.code == "not_eligible"


async def test_results_majority_abstentions_custom_options_and_local_only_counts(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    people = [await _citizen(pool, keygen, f"c{n}") for n in range(5)]
    proposal = await _voting(pool, clock, keygen, people[0], majority=0.6)
    for person, option in zip(
        people, ["Pour", "Pour", "Contre", "Abstention", "Abstention"], strict=True
    ):
        await _vote(pool, clock, keygen, proposal, person, option)
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        # 2 for, 1 against: 2/3 > 0.6 (the abstentions are not counted)
        closed = await lifecycle.close(conn, actor=people[0], proposal=proposal, env=env)
        assert (closed.state, closed.result) == ("closed", "adopted")
        with pytest.raises(ProposalError):
            await lifecycle.close(conn, actor=people[0], proposal=closed, env=env)
        with pytest.raises(ProposalError) as refused:
            await lifecycle.withdraw(conn, actor=people[1], proposal=closed, env=env)
        assert refused.value.code == "not_allowed"
        archived = await lifecycle.archive(conn, actor=people[0], proposal=closed, env=env)
        assert archived.state == "archived"
    custom = await _voting(pool, clock, keygen, people[0], options=["Parc", "Piscine", "Rien"])
    await _vote(pool, clock, keygen, custom, people[1], "Piscine")
    await _vote(pool, clock, keygen, custom, people[2], "Piscine")
    await _vote(pool, clock, keygen, custom, people[3], "Parc")
    async with pool.acquire() as conn:
        result = await lifecycle.close(conn, actor=people[0], proposal=custom, env=env)
        assert result.result == "Piscine"
        local_only = await _voting(pool, clock, keygen, people[0], federated_votes_count=False)
        await queries.upsert_vote(
            conn,
            proposal_id=local_only.id,
            voter_uri=RIN,
            options=["Contre"],
            activity_uris=["x"],
            local=False,
            now=clock.now(),
        )
        await votes.vote_locally(
            conn, actor=people[1], proposal=local_only, options=["Pour"], env=env
        )
        counted = await lifecycle.close(conn, actor=people[0], proposal=local_only, env=env)
        assert counted.result == "adopted"


async def test_withdraw_and_official_answer_rights(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    other = await _citizen(pool, keygen, "other")
    env = _env(clock, keygen)
    async with pool.acquire() as conn:
        org = await actor_service.create_organization(
            conn, "asso", organization_kind="association", keygen=keygen
        )
        await _make_admin(conn, org, author, clock)
    proposal = await _voting(pool, clock, keygen, author, organization_uri=URLS.actor("asso"))
    async with pool.acquire() as conn:
        for who in (author, other):
            with pytest.raises(ProposalError):
                await lifecycle.answer(conn, actor=who, proposal=proposal, text="Oui", env=env)
        answered = await lifecycle.answer(
            conn, actor=org, proposal=proposal, text="Nous le ferons.", env=env
        )
        assert answered.official_answer == "<p>Nous le ferons.</p>\n"
        with pytest.raises(ProposalError):
            await lifecycle.withdraw(conn, actor=other, proposal=answered, env=env)
        withdrawn = await lifecycle.withdraw(conn, actor=author, proposal=answered, env=env)
        assert withdrawn.state == "withdrawn"
        with pytest.raises(ProposalError) as refused:
            await votes.vote_locally(
                conn, actor=other, proposal=withdrawn, options=["Pour"], env=env
            )
        assert refused.value.code == "not_open"


async def test_a_secret_ballot_is_never_disclosed_in_what_goes_out(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    voter = await _citizen(pool, keygen, "secret_voter")
    proposal = await _voting(pool, clock, keygen, author, ballot="secret")
    await _vote(pool, clock, keygen, proposal, voter, "Contre")
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT raw FROM outbox_activities")
        document = await proposals.question(conn, proposal, _env(clock, keygen))
    assert "secret_voter" not in json.dumps([row["raw"] for row in rows])
    assert "secret_voter" not in json.dumps(document)
    assert document["votersCount"] == 1
    assert document["ballot"] == "secret"
    assert document["anonymousVotes"] is True


# -- the Question both ways ----------------------------------------------------------------------


async def test_round_trip_of_our_question(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    author = await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        org = await actor_service.create_organization(
            conn, "asso", organization_kind="association", keygen=keygen
        )
        await _make_admin(conn, org, author, clock)
    proposal = await _voting(
        pool,
        clock,
        keygen,
        author,
        options=["A", "B", "C"],
        multiple=True,
        tags=["Jardin"],
        ballot="nominal",
        vote_change_allowed=False,
        majority=0.66,
        federated_votes_count=False,
        organization_uri=URLS.actor("asso"),
    )
    await _vote(pool, clock, keygen, proposal, author, "A", "C")
    proposal = await _reload(pool, proposal)
    async with pool.acquire() as conn:
        document = await proposals.question(conn, proposal, _env(clock, keygen))
    assert document["anyOf"][2] == {
        "type": "Note",
        "name": "C",
        "replies": {"type": "Collection", "totalItems": 1},
    }
    assert URLS.context in document["@context"]
    parsed = proposals_parse.from_ap(document, author=proposal.author_uri, now=clock.now())
    assert not isinstance(parsed, str)
    for name in ProposalData.__dataclass_fields__:
        if name in {
            "token",
            "local_actor_id",
            "raw",
            "remote_tallies",
            "remote_voters_count",
            "territory_id",
        }:
            continue
        assert getattr(parsed, name) == getattr(proposal, name), name
    assert parsed.remote_tallies == {"A": 1, "B": 0, "C": 1}
    assert parsed.remote_voters_count == 1


def test_a_mastodon_poll_is_understood() -> None:
    question = _fixture("mastodon_create_question_1.json")["object"]
    parsed = proposals_parse.from_ap(question, author=RIN, now=FrozenClock().now())
    assert not isinstance(parsed, str)
    assert parsed.title == "Why is Tenshi eating a corndog so cute?"
    assert parsed.options[1] == "Everyone knows that!"
    assert parsed.remote_tallies == {
        "Dunno": 0,
        "Everyone knows that!": 1,
        "25 char limit is dumb": 0,
        "I can't even fit a funny": 1,
    }
    assert (parsed.state, parsed.multiple, parsed.electorate) == ("voting", False, "federated")
    assert parsed.voting_ends is not None


# -- votes through the inbox ---------------------------------------------------------------------


def _vote_activity(proposal: Proposal, option: str, n: int, actor: str = RIN) -> dict[str, Any]:
    activity = _fixture("mastodon_create_pollvote_1.json")
    activity["actor"] = actor
    activity["id"] = f"{actor}#votes/{n}/activity"
    activity["to"] = proposal.author_uri
    activity["object"] = {
        **activity["object"],
        "id": f"{actor}#votes/{n}",
        "attributedTo": actor,
        "inReplyTo": proposal.uri,
        "name": option,
        "to": proposal.author_uri,
    }
    return activity


async def _deliver(
    app: Quart,
    client: TestClientProtocol,
    pool: Pool,
    clock: FrozenClock,
    activity: dict[str, Any],
    actor: str = RIN,
) -> tuple[str, str]:
    response = await post_signed(
        client, "/inbox", activity, key_id=actor + "#main-key", keypair=KEY, now=clock.now()
    )
    assert response.status_code == 202
    app_state: AppState = app.extensions["fedicity"]
    await process_batch(pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, coalesce(last_error, '') AS e FROM inbox_items WHERE activity_uri = $1",
            activity["id"],
        )
    assert row is not None
    return row["state"], row["e"]


async def _last_update(pool: Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT a.raw, array_agg(d.inbox) AS inboxes FROM outbox_activities a
                 JOIN deliveries d ON d.activity_id = a.id
                WHERE a.type = 'Update' GROUP BY a.id ORDER BY a.id DESC LIMIT 1"""
        )
    assert row is not None
    return {"raw": row["raw"], "inboxes": row["inboxes"]}


async def test_a_mastodon_vote_is_counted_once_and_the_update_carries_tallies(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    author = await _citizen(pool, keygen)
    proposal = await _voting(pool, clock, keygen, author, vote_change_allowed=False)
    assert await _deliver(app, client, pool, clock, _vote_activity(proposal, "Pour", 1)) == (
        "done",
        "",
    )
    update = await _last_update(pool)
    pour = update["raw"]["object"]["oneOf"][0]
    assert pour == {
        "type": "Note",
        "name": "Pour",
        "replies": {"type": "Collection", "totalItems": 1},
    }
    assert update["raw"]["object"]["votersCount"] == 1
    assert "https://mastodon.sdf.org/inbox" in update["inboxes"]  # the voter gets the tallies
    # The same vote again, and a different one: refused (vote change not allowed)
    state, detail = await _deliver(app, client, pool, clock, _vote_activity(proposal, "Pour", 2))
    assert state == "ignored"
    assert "already counted" in detail
    state, detail = await _deliver(app, client, pool, clock, _vote_activity(proposal, "Contre", 3))
    assert state == "ignored"
    assert "cannot be changed" in detail
    async with pool.acquire() as conn:
        counts = await queries.tally(conn, proposal.id)
        assert counts.federated == {"Pour": 1}
        assert await conn.fetchval("SELECT count(*) FROM posts") == 0  # a ballot is not a post


async def test_a_changed_remote_vote_replaces_the_first_when_allowed(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    author = await _citizen(pool, keygen)
    proposal = await _voting(pool, clock, keygen, author, vote_change_allowed=True)
    await _deliver(app, client, pool, clock, _vote_activity(proposal, "Pour", 1))
    assert await _deliver(app, client, pool, clock, _vote_activity(proposal, "Contre", 2)) == (
        "done",
        "",
    )
    update = await _last_update(pool)
    totals = {o["name"]: o["replies"]["totalItems"] for o in update["raw"]["object"]["oneOf"]}
    assert totals == {"Pour": 0, "Contre": 1, "Abstention": 0}
    state, detail = await _deliver(app, client, pool, clock, _vote_activity(proposal, "Nope", 3))
    assert state == "ignored"
    assert "not one of the options" in detail


async def test_a_remote_vote_after_end_time_is_refused(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    author = await _citizen(pool, keygen)
    proposal = await _voting(pool, clock, keygen, author)
    clock.advance(timedelta(days=8))
    state, detail = await _deliver(app, client, pool, clock, _vote_activity(proposal, "Pour", 1))
    assert state == "ignored"
    assert "ended" in detail
    async with pool.acquire() as conn:
        assert (await queries.tally(conn, proposal.id)).voters == 0


async def test_gotosocial_multiple_choice_votes_are_aggregated(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, ZORK, KEY, clock.now())
    author = await _citizen(pool, keygen)
    proposal = await _voting(
        pool,
        clock,
        keygen,
        author,
        options=["tissues", "financial times", "nothing"],
        multiple=True,
        vote_change_allowed=False,
    )
    for name in ("gotosocial_create_pollvote_1.json", "gotosocial_create_pollvote_2.json"):
        activity = _fixture(name)
        activity["object"]["inReplyTo"] = proposal.uri
        assert await _deliver(app, client, pool, clock, activity, ZORK) == ("done", "")
    async with pool.acquire() as conn:
        counts = await queries.tally(conn, proposal.id)
        vote = await queries.select_vote(conn, proposal.id, ZORK)
    assert counts.federated == {"tissues": 1, "financial times": 1}
    assert counts.voters == 1
    assert vote is not None
    assert len(vote.activity_uris) == 2


async def test_a_remote_question_is_stored_as_a_proposal(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    await seed_remote_actor(pool, RIN, KEY, clock.now())
    follower = await _citizen(pool, keygen)
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=URLS.actor(follower.username),
            followee=RIN,
            activity_uri=None,
            accepted=True,
            now=clock.now(),
        )
    activity = _fixture("mastodon_create_question_1.json")
    assert await _deliver(app, client, pool, clock, activity) == ("done", "")
    async with pool.acquire() as conn:
        stored = await queries.select_proposal(conn, activity["object"]["id"])
    assert stored is not None
    assert not stored.local
    assert stored.remote_tallies == {
        "Dunno": 0,
        "Everyone knows that!": 1,
        "25 char limit is dumb": 0,
        "I can't even fit a funny": 1,
    }
