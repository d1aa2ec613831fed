"""Follower approval end to end over loopback HTTP: a remote Follow of a locked account waits,
the owner is told, accepts one request and refuses another from the follow requests page (the
peer receives the signed Accept and Reject), and unlocking the account accepts those left."""

from __future__ import annotations

from pathlib import Path

import httpx

from fedicity.db.pool import Pool
from tests.accounts.helpers import assert_signed_by, csrf_in, log_in, register
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import running_instance
from tests.follows.helpers import Remote, follow_state, until, value
from tests.peer import running_peer


async def test_a_locked_account_approves_its_followers(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with (
        running_peer() as peer,
        running_instance(pool, tmp_path, keygen) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=30) as http,
    ):
        await register(pool, keygen, "camille")
        token = await log_in(http, "camille")
        # Given camille, who locks her account in her settings
        locked = await http.post(
            "/settings",
            data={
                "csrf_token": token,
                "display_name": "Camille",
                "locale": "fr",
                "manually_approves_followers": "on",
            },
        )
        assert locked.status_code == 303, locked.text
        me = instance.urls.actor("camille")
        ana, bruno, chloe = (
            Remote(peer, name, keypair)
            for name, keypair in zip(("ana", "bruno", "chloe"), fixed_keypairs()[-3:], strict=True)
        )
        # When three remote people ask to follow camille, whose account is locked
        follows = {}
        for remote in (ana, bruno, chloe):
            follows[remote.uri] = await remote.send(instance, {"type": "Follow", "object": me})

        async def waiting() -> bool:
            count = await value(
                pool, "SELECT count(*) FROM follows WHERE followee = $1 AND state = 'pending'", me
            )
            return bool(count == 3)

        # Then the follows wait, nothing is answered, and she is told of each request
        await until(waiting)
        assert not ana.received("Accept")
        assert not ana.received("Reject")
        kinds = await value(pool, "SELECT array_agg(DISTINCT kind) FROM notifications")
        assert kinds == ["follow_request"]
        requests_page = (await http.get("/follow-requests")).text
        assert requests_page.count('name="follower"') == 3

        # When she accepts ana and refuses bruno
        for remote, answer in ((ana, "accept"), (bruno, "reject")):
            done = await http.post(
                "/follow-requests",
                data={"csrf_token": token, "follower": remote.uri, "answer": answer},
            )
            assert done.status_code == 303
        # Then ana's server receives a signed Accept of her Follow, bruno's a Reject of his
        await until(lambda: _answered(ana, "Accept", bruno, "Reject"))
        [accept] = ana.received("Accept")
        assert accept["object"]["id"] == follows[ana.uri]
        [reject] = bruno.received("Reject")
        assert reject["object"]["id"] == follows[bruno.uri]
        await assert_signed_by(
            pool, next(p for p in peer.posted if b'"Accept"' in p.body), peer, "camille"
        )
        assert await follow_state(pool, ana.uri, me) == "accepted"
        assert await follow_state(pool, bruno.uri, me) is None
        assert await follow_state(pool, chloe.uri, me) == "pending"

        # When she unlocks her account, the request left is accepted and chloe is told
        settings_page = (await http.get("/settings")).text
        saved = await http.post(
            "/settings",
            data={"csrf_token": csrf_in(settings_page), "display_name": "Camille", "locale": "fr"},
        )
        assert saved.status_code == 303, saved.text
        await until(lambda: _answered(chloe, "Accept"))
        assert chloe.received("Accept")[0]["object"]["id"] == follows[chloe.uri]
        assert await follow_state(pool, chloe.uri, me) == "accepted"


async def _answered(*expected: Remote | str) -> bool:
    """Whether each (remote, kind) pair given in turn was received."""
    pairs = zip(expected[::2], expected[1::2], strict=True)
    return all(
        isinstance(remote, Remote) and isinstance(kind, str) and remote.received(kind)
        for remote, kind in pairs
    )
