"""Requests for programs (inbox POSTs, ActivityStreams documents, WebFinger, NodeInfo) pay only
for what federation needs: one visit to the pool per inbox POST, and none of the hooks made for
people (the session's account, the language, reading a form)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web.app import create_app
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

REMOTE = "https://social.invalid/users/alice"
KEY = fixed_keypairs()[0]
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class CountingPool:
    """The test pool, counting how many times a connection is taken from it."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.acquired = 0

    def acquire(self, **kwargs: Any) -> Any:
        self.acquired += 1
        return self.pool.acquire(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


@pytest.fixture
def counting(pool: Pool) -> CountingPool:
    return CountingPool(pool)


@pytest.fixture
async def app(
    settings: Settings, counting: CountingPool, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[Quart]:
    application = create_app(settings, pool=cast(Pool, counting), clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def _citizen(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, locale="en"
        )


async def _log_in(client: TestClientProtocol) -> None:
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token is not None
    response = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    assert response.status_code == 303


def _create(number: int) -> dict[str, Any]:
    note = f"{REMOTE}/statuses/{number}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": note + "/activity",
        "type": "Create",
        "actor": REMOTE,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": REMOTE,
            "content": "<p>hello</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    }


@pytest.mark.parametrize("path", ["/inbox", "/actors/camille/inbox"])
async def test_an_inbox_post_visits_the_pool_once(
    client: TestClientProtocol,
    pool: Pool,
    counting: CountingPool,
    keygen: FixedKeys,
    clock: FrozenClock,
    path: str,
) -> None:
    # Given a known remote actor (its key cached) and a citizen logged in on this client
    await seed_remote_actor(pool, REMOTE, KEY, clock.now())
    await _citizen(pool, keygen)
    await _log_in(client)
    # And a page for people, with the same cookie, loads the account from the pool
    before = counting.acquired
    assert (await client.get("/settings")).status_code == 200
    assert counting.acquired > before
    # When the remote actor delivers an activity, with the cookie and a ?lang= sent along
    before = counting.acquired
    response = await post_signed(
        client,
        path + "?lang=fr",
        _create(1),
        key_id=REMOTE + "#main-key",
        keypair=KEY,
        now=clock.now(),
    )
    # Then it is stored in one visit to the pool: the policy, the key, the restriction, the
    # rate and the insert on one connection; no session, no language cookie
    assert response.status_code == 202, await response.get_data(as_text=True)
    assert counting.acquired - before == 1
    assert "Set-Cookie" not in response.headers
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 1


async def test_an_inbox_post_is_never_read_as_a_form(
    client: TestClientProtocol, counting: CountingPool
) -> None:
    # A form with a NUL would be refused as a form (400) on a page's route; the inbox reads no
    # form: it answers what it answers any body that is not ActivityStreams
    before = counting.acquired
    response = await client.post(
        "/inbox", data=b"a=%00", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert json.loads(await response.get_data(as_text=True))["reason"] == "unsupported_media_type"
    assert counting.acquired == before


async def test_a_cached_actor_document_takes_no_connection_even_with_a_session(
    client: TestClientProtocol, pool: Pool, counting: CountingPool, keygen: FixedKeys
) -> None:
    await _citizen(pool, keygen)
    await _log_in(client)
    as_json = {"Accept": "application/activity+json"}
    first = await client.get("/actors/camille", headers=as_json)
    assert first.status_code == 200
    # The document is cached: the next fetch, cookie and all, never visits the pool
    before = counting.acquired
    again = await client.get("/actors/camille?lang=fr", headers=as_json)
    assert again.status_code == 200
    assert json.loads(await again.get_data(as_text=True))["preferredUsername"] == "camille"
    assert counting.acquired == before
    assert "Set-Cookie" not in again.headers
    # While a browser on the same route gets its page, with its account and language
    page = await client.get("/actors/camille?lang=fr", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert counting.acquired > before
    assert "lang=fr" in page.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "path",
    ["/.well-known/webfinger?resource=acct:camille@fedicity.test&lang=fr", "/nodeinfo/2.1?lang=fr"],
)
async def test_discovery_sets_no_language_cookie(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, path: str
) -> None:
    await _citizen(pool, keygen)
    response = await client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


async def test_a_cached_actor_document_is_answered_in_front_of_quart_as_quart_answers_it(
    app: Quart, client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Quart's hooks are counted: a request answered in front of Quart runs none of them
    through_quart: list[str] = []

    async def seen() -> None:
        through_quart.append("hook")

    app.before_request(seen)
    await _citizen(pool, keygen)
    as_json = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
    # The first fetch builds the document (through Quart), the second finds it cached
    first = await client.get("/actors/camille", headers=as_json)
    assert through_quart == ["hook"]
    again = await client.get("/actors/camille", headers=as_json)
    assert through_quart == ["hook"]
    # The same document, with the same headers
    assert await again.get_data() == await first.get_data()
    for name in ("Content-Type", "Vary", "Content-Security-Policy", "X-Content-Type-Options"):
        assert again.headers[name] == first.headers[name], name
    # A browser still gets the page, and a HEAD, a query or another actor go to Quart
    page = await client.get("/actors/camille", headers={"Accept": "text/html"})
    assert page.headers["Content-Type"].startswith("text/html")
    await client.head("/actors/camille", headers=as_json)
    await client.get("/actors/camille?page=1", headers=as_json)
    assert (await client.get("/actors/nobody", headers=as_json)).status_code == 404
    assert len(through_quart) == 5


async def test_under_authorized_fetch_a_cached_document_still_needs_a_signature(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    signed_only = dataclasses.replace(settings, authorized_fetch=True)
    application = create_app(signed_only, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        await _citizen(pool, keygen)
        # Even with the whole document in the cache (a signed fetch put it there)
        application.extensions["fedicity"].actor_documents.put("camille", b'{"secret": 1}')
        response = await application.test_client().get(
            "/actors/camille", headers={"Accept": "application/activity+json"}
        )
        # An unsigned fetch gets what the gate gives it: the minimal document, not the cache
        body = await response.get_data()
        assert response.status_code == 200
        assert b"secret" not in body
        assert json.loads(body)["preferredUsername"] == "camille"
