"""A reply forwarded by another server (issue 12's acceptance): its author's Linked Data
signature makes the forwarded copy good enough to store, with no fetch from the author's server;
a copy the forwarder altered, or one signed by someone else, is fetched from its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.activitypub import ldsig
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.inbox_helpers import signed_headers
from tests.peer import Peer, running_peer

AUTHOR_KEY, FORWARDER_KEY, OTHER_KEY = fixed_keypairs()[:3]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _reply(author: str, number: int, content: str, camille: str, thread: str) -> dict[str, Any]:
    """The author's Create of a reply, as Mastodon shapes it (mentioning camille)."""
    note = author + f"/statuses/{number}"
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"},
        ],
        "id": note + "/activity",
        "type": "Create",
        "actor": author,
        "published": "2026-12-05T20:00:00Z",
        "to": [PUBLIC],
        "cc": [author + "/followers", camille],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": author,
            "inReplyTo": thread,
            "published": "2026-12-05T20:00:00Z",
            "sensitive": False,
            "content": content,
            "to": [PUBLIC],
            "cc": [author + "/followers", camille],
            "tag": [{"type": "Mention", "href": camille, "name": "@camille"}],
        },
    }


def _ld_signed(activity: dict[str, Any], keypair: KeyPair, creator: str) -> dict[str, Any]:
    signed = ldsig.sign(
        activity,
        load_private_key(keypair.private_pem),
        creator=creator,
        created="2026-12-05T20:00:01Z",
        loader=ldsig.offline_loader(),
    )
    assert isinstance(signed, dict), signed
    return signed


async def _forward(instance: Instance, activity: dict[str, Any], forwarder: str) -> int:
    """POST the activity to our shared inbox, HTTP-signed by the forwarding server's actor."""
    body = json.dumps(activity).encode()
    url = instance.base + "/inbox"
    headers = signed_headers(
        url, body, forwarder + "#main-key", FORWARDER_KEY, instance.clock.now()
    )
    async with httpx.AsyncClient(timeout=30) as client:
        return (await client.post(url, content=body, headers=headers)).status_code


async def _content(pool: Pool, uri: str) -> str | None:
    async with pool.acquire() as conn:
        content: str | None = await conn.fetchval(
            "SELECT content_html FROM posts WHERE uri = $1", uri
        )
    return content


async def _stored(pool: Pool, uri: str) -> str:
    async def present() -> bool:
        return await _content(pool, uri) is not None

    await eventually(present, within=20)
    content = await _content(pool, uri)
    assert content is not None
    return content


def _gets(peer: Peer, path: str) -> int:
    return sum(1 for seen in peer.requests if seen.method == "GET" and seen.path == path)


async def test_a_forwarded_reply_signed_by_its_author_is_stored_without_a_fetch(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "instance", keygen) as instance,
        running_peer() as server_a,
        running_peer() as server_b,
    ):
        # Given camille here, an author on server A and a thread's host on server B
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
        camille = instance.urls.actor("camille")
        author = server_a.publish_actor("author", AUTHOR_KEY)
        forwarder = server_b.publish_actor("host", FORWARDER_KEY)
        thread = forwarder + "/statuses/100"
        # (A serves the note too, so a fetch, if any were made, would succeed and be seen)
        reply = _reply(author, 1, "<p>the author, in her own words</p>", camille, thread)
        server_a.serve("/users/author/statuses/1", reply["object"])

        # When B forwards the author's reply, LD-signed by the author, HTTP-signed by B
        signed = _ld_signed(reply, AUTHOR_KEY, author + "#main-key")
        assert await _forward(instance, signed, forwarder) == 202

        # Then the reply is stored with its content, and A was never asked for the object
        assert "the author, in her own words" in await _stored(pool, reply["object"]["id"])
        assert _gets(server_a, "/users/author/statuses/1") == 0
        # (only the author's key was fetched from A, through the actor directory)
        assert set(server_a.paths) <= {"/users/author"}


async def test_a_tampered_or_misattributed_forwarded_reply_is_fetched_from_its_origin(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "instance", keygen) as instance,
        running_peer() as server_a,
        running_peer() as server_b,
    ):
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
        camille = instance.urls.actor("camille")
        author = server_a.publish_actor("author", AUTHOR_KEY)
        other = server_a.publish_actor("other", OTHER_KEY)
        forwarder = server_b.publish_actor("host", FORWARDER_KEY)
        thread = forwarder + "/statuses/100"

        # Given a reply signed by its author, whose words B changed before forwarding
        original = _reply(author, 2, "<p>what the author wrote</p>", camille, thread)
        server_a.serve("/users/author/statuses/2", original["object"])
        tampered = _ld_signed(original, AUTHOR_KEY, author + "#main-key")
        tampered["object"] = {**tampered["object"], "content": "<p>words put in her mouth</p>"}
        # And a reply LD-signed by another actor of A than its author
        other_signed = _reply(author, 3, "<p>the author, truly</p>", camille, thread)
        server_a.serve("/users/author/statuses/3", other_signed["object"])
        forged = _ld_signed(
            {
                **other_signed,
                "object": {**other_signed["object"], "content": "<p>not the author</p>"},
            },
            OTHER_KEY,
            other + "#main-key",
        )

        # When B forwards both
        assert await _forward(instance, tampered, forwarder) == 202
        assert await _forward(instance, forged, forwarder) == 202

        # Then neither forwarded copy is trusted: each note is fetched from A and stored as A
        # serves it
        assert "what the author wrote" in await _stored(pool, original["object"]["id"])
        assert "the author, truly" in await _stored(pool, other_signed["object"]["id"])
        assert _gets(server_a, "/users/author/statuses/2") == 1
        assert _gets(server_a, "/users/author/statuses/3") == 1
        async with pool.acquire() as conn:
            forged_words = await conn.fetchval(
                "SELECT count(*) FROM posts WHERE content_html LIKE '%put in her mouth%'"
                " OR content_html LIKE '%not the author%'"
            )
        assert forged_words == 0
