"""The server is no port scanner and no fetch proxy for strangers.

Over real HTTP: why a key fetch failed (nothing listens, something that is not HTTP answers) is
logged, never sent back; and following a link to /authorize_interaction makes the server fetch
nothing until the logged-in user confirms with a form that carries their CSRF token.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import free_port, running_instance
from tests.peer import running_peer
from tests.security.federation_peers import logged_in, person, problem_reason, signed_post

KEY = fixed_keypairs()[2]


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


async def test_key_fetch_failures_answer_the_same_whatever_answers_at_the_address(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer("garbage") as not_http,
        running_peer() as web,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        inbox = instance.base + "/inbox"
        # Given keyIds naming a closed port, a port where something that is not HTTP answers,
        # and a web server that has no such document
        actors = {
            "closed": f"http://127.0.0.1:{free_port()}/users/probe",
            "not_http": not_http.url("/users/probe"),
            "no_such_path": web.url("/users/probe"),
        }
        answers: dict[str, tuple[int, str | None, Any]] = {}
        with caplog.at_level(logging.INFO, logger="fedicity.web.inbox"):
            for name, actor in actors.items():
                # When a delivery signed with each is posted to our inbox
                body = like(actor)
                headers = signed_post(inbox, body, actor + "#main-key", KEY, instance.clock)
                response = await http.post(inbox, content=body, headers=headers)
                answers[name] = (response.status_code, problem_reason(response), response.json())
        # Then each was tried (the answers are not from a cache or a shortcut)...
        assert not_http.connections == 1
        assert [seen.path for seen in web.requests] == ["/users/probe"]
        # ...and all answers are the same 401, saying nothing of what was found there
        assert answers["closed"][:2] == (401, "key_unavailable"), answers
        assert answers["closed"] == answers["not_http"] == answers["no_such_path"], answers
        assert "127.0.0.1" not in json.dumps(answers["closed"][2])
        # And the admin's log has the detail
        logged = [r.getMessage() for r in caplog.records if r.name == "fedicity.web.inbox"]
        assert len(logged) == 3, logged
        assert all("unavailable" in line for line in logged)


async def test_authorize_interaction_fetches_only_after_a_confirmed_form(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        # Given a logged-in citizen, and an account on a remote server
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
        token = await logged_in(http, instance.base, "camille", "long enough pw")
        remote = peer.url("/users/dana")
        peer.serve("/users/dana", person(remote, KEY, username="dana"))
        page = instance.base + "/authorize_interaction"

        # When she follows a link to /authorize_interaction naming that account
        shown = await http.get(page, params={"uri": remote})
        # Then she is asked to confirm, and the remote server has not been contacted
        assert shown.status_code == 200, shown.text
        assert remote in shown.text
        assert 'method="post"' in shown.text
        assert peer.connections == 0

        # When a form posts the lookup without her CSRF token (a cross-site form)
        forged = await http.post(page, data={"uri": remote})
        # Then it is refused, and still nothing is fetched
        assert forged.status_code == 400, forged.text
        assert peer.connections == 0

        # When she confirms
        confirmed = await http.post(page, data={"uri": remote, "csrf_token": token})
        # Then the account is looked up and shown with its follow button
        assert confirmed.status_code == 200, confirmed.text
        assert [seen.path for seen in peer.requests] == ["/users/dana"]
        assert 'action="/follow"' in confirmed.text

        # And a lookup that fails shows the same form with a message, no detail of why
        gone = f"http://127.0.0.1:{free_port()}/users/nobody"
        failed = await http.post(page, data={"uri": gone, "csrf_token": token})
        assert failed.status_code == 200, failed.text
        assert "Ce compte est introuvable." in failed.text
        assert "ConnectError" not in failed.text
        assert "refused" not in failed.text.lower()
