"""Key fetches cannot be used to starve the inbox.

Over real HTTP: a server that accepts connections and never answers, and many signed deliveries
whose keyIds point at it, all at once; meanwhile a legitimate new peer, whose key a second
server serves, delivers too and must be accepted without waiting for the silent one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.db.pool import Pool
from fedicity.settings import SettingsError, load_settings
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import running_instance
from tests.peer import running_peer
from tests.security.federation_peers import person, problem_reason, signed_post

KEY = fixed_keypairs()[1]
BURST = 150
# Long enough that a loaded machine still answers the new peer while the silent fetches wait.
KEY_TIMEOUT = 5.0
PER_HOST = 4


def like(actor: str) -> bytes:
    """A Like by `actor`."""
    activity: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor + "#like",
        "type": "Like",
        "actor": actor,
        "object": "https://elsewhere.example/notes/1",
    }
    return json.dumps(activity).encode()


async def test_silent_key_servers_do_not_starve_a_new_peer(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(
            pool,
            tmp_path,
            keygen,
            worker=False,
            key_fetch_timeout=KEY_TIMEOUT,
            key_fetches_per_host=PER_HOST,
        ) as instance,
        running_peer("silent") as tarpit,
        running_peer() as newcomer,
        httpx.AsyncClient(
            trust_env=False, timeout=60, limits=httpx.Limits(max_connections=None)
        ) as http,
    ):
        inbox = instance.base + "/inbox"

        async def deliver(actor: str) -> httpx.Response:
            body = like(actor)
            headers = signed_post(inbox, body, actor + "#main-key", KEY, instance.clock)
            return await http.post(inbox, content=body, headers=headers)

        # Given 150 deliveries at once, each signed with a different keyId on a silent server
        bots = [tarpit.url(f"/users/bot{n}") for n in range(BURST)]
        burst = [asyncio.create_task(deliver(bot)) for bot in bots]
        for _ in range(200):
            if tarpit.connections >= PER_HOST:
                break
            await asyncio.sleep(0.02)
        assert tarpit.connections >= 1

        # When a new peer, whose key is served at once, delivers in the middle of it
        dana = newcomer.url("/users/dana")
        newcomer.serve("/users/dana", person(dana, KEY, username="dana"))
        welcome = await deliver(dana)

        # Then it is accepted, without waiting for the silent server's keys to time out: those
        # deliveries are still waiting when it is (an order, not a time, so that a loaded
        # machine cannot fail it)
        assert welcome.status_code == 202, welcome.text
        assert not all(task.done() for task in burst)
        assert [seen.path for seen in newcomer.requests] == ["/users/dana"]

        # And the burst is refused, each with a retryable 401 and never a 5xx
        answers = await asyncio.gather(*burst)
        reasons = {(a.status_code, problem_reason(a)) for a in answers}
        assert reasons <= {(401, "key_unavailable"), (401, "key_fetch_busy")}, reasons
        assert (401, "key_fetch_busy") in reasons
        # And at most PER_HOST fetches were ever in flight at the silent server (counted as the
        # server sees them: on a loaded machine a fetch may time out and another take its place)
        assert tarpit.most_open_silent <= PER_HOST, tarpit.most_open_silent

        # And a keyId that just failed is not fetched again at once (one fetch per minute)
        timed_out = next(
            bot
            for bot, answer in zip(bots, answers, strict=True)
            if problem_reason(answer) == "key_unavailable"
        )
        before = tarpit.connections
        again = await deliver(timed_out)
        assert problem_reason(again) == "key_unavailable", again.text
        assert tarpit.connections == before


def test_key_fetch_settings_are_read_and_validated() -> None:
    environ = {
        "FEDICITY_KEY_FETCH_TIMEOUT": "2.5",
        "FEDICITY_KEY_FETCH_CONNECTIONS": "10",
        "FEDICITY_KEY_FETCHES_PER_HOST": "2",
    }
    loaded = load_settings(environ, persist_secret=False)
    assert (
        loaded.key_fetch_timeout,
        loaded.key_fetch_connections,
        loaded.key_fetches_per_host,
    ) == (2.5, 10, 2)
    defaults = load_settings({}, persist_secret=False)
    assert (defaults.key_fetch_timeout, defaults.key_fetches_per_host) == (5.0, 4)
    for name, raw in [
        ("KEY_FETCH_TIMEOUT", "0"),
        ("KEY_FETCH_TIMEOUT", "soon"),
        ("KEY_FETCH_TIMEOUT", "3600"),
        ("KEY_FETCH_CONNECTIONS", "0"),
        ("KEY_FETCHES_PER_HOST", "many"),
    ]:
        with pytest.raises(SettingsError, match=f"FEDICITY_{name}:"):
            load_settings({f"FEDICITY_{name}": raw}, persist_secret=False)
