"""Fifteen throwaway actors on one server must not swing a vote (step 5, item 11).

Over real HTTP on loopback: an instance serves a proposal open to "anyone federated"; a server of
the attacker's (a real HTTP server on 127.0.0.1) publishes fifteen actors, each of which sends a
correctly signed, Mastodon-shaped vote to the instance's inbox. The ballots are kept and shown
beside the result, but they count only once the proposal or the instance admin trusts that server.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Pool
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.proposals import drafts, lifecycle, votes
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal
from fedicity.proposals.service import Env, ProposalError
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.inbox_helpers import actor_document, signed_headers
from tests.peer import Peer

KEY = fixed_keypairs()[4]
THROWAWAYS = 15


@pytest.fixture
async def attacker() -> AsyncIterator[Peer]:
    """The attacker's server, publishing the throwaway actors."""
    started = Peer()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


def _env(instance: Instance, keygen: FixedKeys) -> Env:
    return Env(urls=instance.urls, clock=instance.clock, keygen=keygen)


async def _open_vote(
    instance: Instance, author: Actor, keygen: FixedKeys, trusted: list[str] | None = None
) -> Proposal:
    env = _env(instance, keygen)
    async with instance.pool.acquire() as conn:
        draft = await drafts.create_draft(
            conn,
            actor=author,
            title="Fermer la rue de la mairie aux voitures le dimanche",
            text="Une rue aux enfants chaque dimanche.",
            env=env,
            trusted_vote_domains=trusted,
        )
        return await lifecycle.open_voting(
            conn,
            actor=author,
            proposal=draft,
            ends=instance.clock.now() + timedelta(days=7),
            env=env,
        )


def _vote(actor: str, proposal: Proposal, option: str) -> dict[str, Any]:
    # The shape Mastodon sends (tests/fixtures/inbound/mastodon_create_pollvote_1.json).
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}#votes/1/activity",
        "type": "Create",
        "actor": actor,
        "to": proposal.author_uri,
        "object": {
            "id": f"{actor}#votes/1",
            "type": "Note",
            "attributedTo": actor,
            "inReplyTo": proposal.uri,
            "name": option,
            "to": proposal.author_uri,
        },
    }


async def _flood(instance: Instance, attacker: Peer, proposal: Proposal, option: str) -> None:
    """Each throwaway actor sends one signed vote over HTTP; wait until the worker counted them."""
    inbox = instance.base + "/inbox"
    async with httpx.AsyncClient() as client:
        for n in range(THROWAWAYS):
            actor = attacker.url(f"/users/sock{n}")
            attacker.serve(f"/users/sock{n}", actor_document(actor, KEY, username=f"sock{n}"))
            body = json.dumps(_vote(actor, proposal, option)).encode()
            headers = signed_headers(inbox, body, actor + "#main-key", KEY, instance.clock.now())
            response = await client.post(inbox, content=body, headers=headers)
            assert response.status_code == 202, response.text

    async def all_counted() -> bool:
        async with instance.pool.acquire() as conn:
            tally = await proposal_queries.tally(conn, proposal.id)
        return tally.federated_voters == THROWAWAYS

    await eventually(all_counted, within=20)


async def test_throwaway_actors_on_an_untrusted_server_do_not_swing_the_vote(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, attacker: Peer
) -> None:
    async with running_instance(pool, tmp_path, keygen) as instance:
        # Given a proposal open to anyone federated, and two citizens voting for it here
        author = await _citizen(instance, "camille", keygen)
        voter = await _citizen(instance, "yanis", keygen)
        proposal = await _open_vote(instance, author, keygen)
        env = _env(instance, keygen)
        async with pool.acquire() as conn:
            for who in (author, voter):
                await votes.vote_locally(
                    conn, actor=who, proposal=proposal, options=["Pour"], env=env
                )

        # When fifteen actors of one unknown server vote against it
        await _flood(instance, attacker, proposal, "Contre")

        # Then their ballots are kept and shown beside the result, not counted in it, and the
        # page says how many were left out and from which server
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{instance.base}/proposals/{proposal.token}")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "affichés à côté du résultat" in text
        server = f"127.0.0.1:{attacker.port}"
        assert (
            f"Non comptés : {THROWAWAYS} votes venus de serveurs qui ne sont pas de confiance "
            f"ici : {server} ({THROWAWAYS})"
        ) in text
        assert "Comptés :" not in text
        figures = re.findall(r'<span class="tally-figures">([^<]*)</span>', text)
        assert figures == ["2 votes · 100\xa0%", "0 vote · 0\xa0%", "0 vote · 0\xa0%"]
        assert re.search(
            rf"<th scope=\"row\">Contre</th><td>0</td><td>0</td><td>{THROWAWAYS}</td>", text
        )
        async with pool.acquire() as conn:
            closed = await lifecycle.close(conn, actor=author, proposal=proposal, env=env)
            tally = await proposal_queries.tally(conn, proposal.id)
        assert tally.federated == {"Contre": THROWAWAYS}
        assert tally.trusted == {}
        assert closed.result == "adopted"


async def test_votes_from_a_server_the_proposal_or_the_admin_trusts_count(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, attacker: Peer
) -> None:
    async with running_instance(pool, tmp_path, keygen) as instance:
        author = await _citizen(instance, "camille", keygen)
        env = _env(instance, keygen)
        server = f"127.0.0.1:{attacker.port}"

        # A proposal that trusts the server: its voters count
        trusting = await _open_vote(instance, author, keygen, trusted=[f"http://{server}/"])
        assert trusting.trusted_vote_domains == (server,)
        async with pool.acquire() as conn:
            await votes.vote_locally(
                conn, actor=author, proposal=trusting, options=["Pour"], env=env
            )
        await _flood(instance, attacker, trusting, "Contre")
        async with pool.acquire() as conn:
            closed = await lifecycle.close(conn, actor=author, proposal=trusting, env=env)
        assert closed.result == "rejected"
        # The page names the trusted server its counted votes came from
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{instance.base}/proposals/{trusting.token}")
        text = html.unescape(page.text)
        assert f"Comptés : {server} ({THROWAWAYS} votes)" in text
        assert "Non compté :" not in text
        assert "<strong>Rejetée</strong>" in text

        # Another proposal that trusts nobody, until the admin trusts the server instance-wide
        plain = await _open_vote(instance, author, keygen)
        async with pool.acquire() as conn:
            await votes.vote_locally(conn, actor=author, proposal=plain, options=["Pour"], env=env)
            for n in range(THROWAWAYS):
                await conn.execute(
                    "UPDATE proposal_votes SET proposal_id = $1 WHERE voter_uri = $2",
                    plain.id,
                    attacker.url(f"/users/sock{n}"),
                )
            untrusted = await proposal_queries.tally(conn, plain.id)
            assert untrusted.trusted == {}
            await moderation_queries.insert_vote_trusted_domain(
                conn, server, now=instance.clock.now()
            )
            admin_trusted = await proposal_queries.tally(conn, plain.id)
            assert admin_trusted.trusted == {"Contre": THROWAWAYS}
            assert await votes.trusted_domains(conn, plain) == [server]
            closed = await lifecycle.close(conn, actor=author, proposal=plain, env=env)
        assert closed.result == "rejected"


async def test_a_trust_entry_names_one_server() -> None:
    assert trusted_authority("Commune.Example.org") == "commune.example.org"
    assert trusted_authority("https://commune.example.org/") == "commune.example.org"
    assert trusted_authority("commune.example.org:8443") == "commune.example.org:8443"
    for bad in ("", "x", "a b.org", "https://e.org/users/x", "me@e.org", "e.org:99999"):
        assert trusted_authority(bad) is None, bad


async def test_a_proposal_refuses_a_trust_entry_that_is_no_server(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with running_instance(pool, tmp_path, keygen, worker=False) as instance:
        author = await _citizen(instance, "camille", keygen)
        env = _env(instance, keygen)
        async with pool.acquire() as conn:
            with pytest.raises(ProposalError) as refused:
                await drafts.create_draft(
                    conn,
                    actor=author,
                    title="Titre",
                    text="",
                    env=env,
                    trusted_vote_domains=["javascript:alert(1)"],
                )
        assert refused.value.code == "trusted_domains_invalid"
