"""Hostile input gets a precise 4xx, never a 5xx (security review, step 5, item 10).

Everything here goes over real HTTP to an instance on 127.0.0.1; signers are actors published by a
real peer on 127.0.0.1. A 5xx matters beyond the error page: Mastodon retries a 5xx and then drops
the post, so a body we cannot read must be refused once, clearly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from fedicity.posts import service as posts
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, running_instance
from tests.peer import Peer, running_peer
from tests.security.inbound_http import AS_CONTEXT, post_signed_http
from tests.territory_helpers import import_slice

ALICE_KEY = fixed_keypairs()[3]
PROBLEM_JSON = "application/problem+json"


@dataclass
class Setting:
    """A running instance with camille and one public post, a peer publishing Alice, a client."""

    instance: Instance
    peer: Peer
    alice: str
    http: httpx.AsyncClient
    post_path: str

    async def stored(self) -> int:
        """How many activities reached the mailbox."""
        async with self.instance.pool.acquire() as conn:
            count: int = await conn.fetchval("SELECT count(*) FROM inbox_items")
        return count

    async def post_as_alice(self, body: bytes) -> httpx.Response:
        """POST raw bytes to the shared inbox, validly signed by Alice."""
        return await post_signed_http(
            self.http,
            self.instance.base + "/inbox",
            body,
            key_id=self.alice + "#main-key",
            keypair=ALICE_KEY,
            now=self.instance.clock.now(),
        )


@asynccontextmanager
async def _setting(pool: Pool, tmp_path: Path, keygen: FixedKeys) -> AsyncIterator[Setting]:
    await import_slice(pool, tmp_path / "slice")
    async with (
        running_peer() as peer,
        running_instance(
            pool,
            tmp_path,
            keygen,
            worker=False,
            territory_level="commune",
            territory_code="93048",
        ) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=20) as http,
    ):
        async with pool.acquire() as conn:
            account = await accounts.register(
                conn, username="camille", password="long enough", keygen=keygen
            )
            camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert camille is not None
            post = await posts.create_note(
                conn,
                actor=camille,
                text="Bonjour",
                visibility="public",
                urls=instance.urls,
                clock=instance.clock,
                local_host=instance.settings.host,
                resolved={},
            )
        yield Setting(
            instance=instance,
            peer=peer,
            alice=peer.publish_actor("alice", ALICE_KEY),
            http=http,
            post_path=post.uri.removeprefix(instance.base),
        )


@pytest.fixture
async def setting(pool: Pool, tmp_path: Path, keygen: FixedKeys) -> AsyncIterator[Setting]:
    """The running instance and its peer."""
    async with _setting(pool, tmp_path, keygen) as started:
        yield started


def _problem(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.text[:300]
    assert response.json().get("reason") == reason, response.text[:300]


def _activity(actor: str, **extra: str) -> str:
    """The start of a Like by `actor`, as JSON text, with raw JSON members appended."""
    members = "".join(f", {json.dumps(key)}: {value}" for key, value in extra.items())
    return (
        f'{{"@context": "{AS_CONTEXT}", "id": "{actor}#likes/1", "type": "Like", '
        f'"actor": "{actor}"{members}}}'
    )


DEEP = 20_000
UNSIGNED_BODIES = {
    "arrays 20k deep in the object": (
        _activity("https://a.example/u", object="[" * DEEP + "]" * DEEP),
        "json_too_deep",
    ),
    "objects 20k deep": ('{"a":' * DEEP + "1" + "}" * DEEP, "json_too_deep"),
    "a bare array 20k deep": ("[" * DEEP + "]" * DEEP, "json_too_deep"),
    "unterminated nesting": ("[" * DEEP, "json_too_deep"),
    "a 5000-digit integer": (
        _activity("https://a.example/u", object="9" * 5000),
        "json_number_too_long",
    ),
    "a 5000-digit negative integer": (
        _activity("https://a.example/u", object="-" + "9" * 5000),
        "json_number_too_long",
    ),
}


@pytest.mark.parametrize("name", list(UNSIGNED_BODIES))
async def test_unsigned_bodies_json_cannot_hold_get_400(setting: Setting, name: str) -> None:
    body, reason = UNSIGNED_BODIES[name]
    # When anyone POSTs such a body, with no signature at all
    response = await setting.http.post(
        "/inbox", content=body.encode(), headers={"Content-Type": "application/activity+json"}
    )
    # Then it is refused with its precise reason, before any signature work, and not stored
    _problem(response, 400, reason)
    assert await setting.stored() == 0


SIGNED_BODIES: dict[str, tuple[str | bytes, str]] = {
    "NUL in a value": ('"content": "a\\u0000b"', "json_bad_string"),
    "NUL in a key": ('"a\\u0000b": 1', "json_bad_string"),
    "NUL deep down": ('"tag": [{"name": ["\\u0000"]}]', "json_bad_string"),
    "a lone high surrogate": ('"content": "\\ud800"', "json_bad_string"),
    "a lone low surrogate in a key": ('"\\udc00": 1', "json_bad_string"),
    "a raw encoded surrogate": (b'"content": "\xed\xa0\x80"', "malformed_json"),
    "NaN": ('"n": NaN', "json_not_finite"),
    "Infinity": ('"n": [1, Infinity]', "json_not_finite"),
    "-Infinity": ('"n": {"m": -Infinity}', "json_not_finite"),
    "1e999": ('"n": 1e999', "json_not_finite"),
}


@pytest.mark.parametrize("name", list(SIGNED_BODIES))
async def test_signed_bodies_jsonb_cannot_store_get_400(setting: Setting, name: str) -> None:
    member, reason = SIGNED_BODIES[name]
    head = _activity(setting.alice)[:-1].encode()
    raw = member if isinstance(member, bytes) else member.encode()
    # When Alice, with a valid signature, sends what PostgreSQL's jsonb cannot store
    response = await setting.post_as_alice(head + b", " + raw + b"}")
    # Then it is refused with its reason (not a 500 at the insert, retried by Mastodon, lost)
    _problem(response, 400, reason)
    assert await setting.stored() == 0
    # And an ordinary activity from her still goes in
    ordinary = await setting.post_as_alice(_activity(setting.alice).encode())
    assert ordinary.status_code == 202, ordinary.text
    assert await setting.stored() == 1


async def test_a_fetched_key_document_jsonb_cannot_store_is_refused(
    setting: Setting, caplog: pytest.LogCaptureFixture
) -> None:
    # Given Alice's server publishes her actor with a NUL in its summary
    setting.peer.document("/users/alice")["summary"] = "bonjour\x00"
    # When she sends a valid activity (her key must be fetched to check it)
    with caplog.at_level(logging.INFO, logger="fedicity.web.inbox"):
        response = await setting.post_as_alice(_activity(setting.alice).encode())
    # Then the key is unavailable (the fetched JSON is refused), a 401: no 500, nothing stored;
    # the sender learns nothing of why (step 5, item 11), the admin's log says it
    _problem(response, 401, "key_unavailable")
    assert response.json()["detail"] == "the signing key could not be fetched"
    assert "refused JSON" in caplog.text
    assert await setting.stored() == 0


BAD_CURSORS = [
    "²",
    "-1",
    "99999999999999999999999",
    "1e3",
    "%00",
    "",
    "\u0661",
    " 1",
    "0x10",
    "1.5",
]


def _paged_routes(setting: Setting) -> dict[str, str]:
    """Every paged route, with the query text before its cursor argument."""
    return {
        "outbox": "/actors/camille/outbox?page=true&cursor=",
        "followers": "/actors/camille/followers?page=true&cursor=",
        "following": "/actors/camille/following?page=true&cursor=",
        "liked": "/actors/camille/liked?page=true&cursor=",
        "replies": f"{setting.post_path}/replies?page=true&cursor=",
        "territory items": "/api/territories/commune/93048/items?before=1700000000.0_",
        "near": "/api/near?lat=48.86&lon=2.44&before=1700000000.0_",
    }


async def test_every_paged_route_answers_400_to_a_cursor_it_never_gave(setting: Setting) -> None:
    for name, prefix in _paged_routes(setting).items():
        # A cursor of ours pages normally
        good = await setting.http.get(prefix + "5", headers={"Accept": "application/activity+json"})
        assert good.status_code == 200, (name, good.text[:300])
        for cursor in BAD_CURSORS:
            # When a cursor we never minted comes back
            response = await setting.http.get(
                prefix + cursor, headers={"Accept": "application/activity+json"}
            )
            # Then it is a 400 naming the cursor, not a 500 nor a page from the start
            assert response.status_code == 400, (name, cursor, response.status_code)
            assert response.headers["content-type"].startswith(PROBLEM_JSON)
            if cursor != "%00":  # NUL is refused for every route before this one is reached
                assert response.json()["reason"] == "bad_cursor", (name, cursor, response.text)


async def test_the_events_page_shows_the_first_page_for_a_page_number_it_never_gave(
    setting: Setting,
) -> None:
    for page in ("²", "-1", "99999999999999999999999", "1e3", "9" * 5000):
        response = await setting.http.get(f"/events?page={page}", headers={"Accept": "text/html"})
        assert response.status_code == 200, (page, response.status_code)
