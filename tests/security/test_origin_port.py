"""Another port of our host name is another server: it cannot speak for our objects.

The attack, over real HTTP: our instance serves http://127.0.0.1:P. A server on another port of
the same host name (127.0.0.1:Q: another service, another tenant) serves a document with the id
of one of our posts and new text, and its actor, whom a local citizen follows, announces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.fetch import FetchError, FetchFailure
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.peer import running_peer
from tests.security.federation_peers import person, signed_post

KEY = fixed_keypairs()[4]
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"


async def test_announce_of_a_document_from_another_port_of_our_host_leaves_our_post_alone(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        # Given camille's public post on our instance
        async with pool.acquire() as conn:
            camille = await actor_service.create_person(conn, "camille", keygen=keygen)
            post = await posts.create_note(
                conn,
                actor=camille,
                text="Réunion de quartier jeudi",
                visibility="public",
                urls=instance.urls,
                clock=instance.clock,
                local_host=instance.settings.host,
                resolved={},
            )
        original = post.content_html
        # And Mallory, on another port of our host name, whom camille follows
        assert peer.base.rsplit(":", 1)[0] == instance.base.rsplit(":", 1)[0]
        mallory = peer.url("/users/mallory")
        peer.serve("/users/mallory", person(mallory, KEY, username="mallory"))
        async with pool.acquire() as conn:
            await follow_queries.upsert_follow(
                conn,
                follower=instance.urls.actor("camille"),
                followee=mallory,
                activity_uri=None,
                accepted=True,
                now=instance.clock.now(),
            )
        # And a document on Mallory's port that claims to be camille's post, rewritten
        forged: dict[str, Any] = {
            "@context": AS_CONTEXT,
            "id": post.uri,
            "type": "Note",
            "attributedTo": instance.urls.actor("camille"),
            "content": "<p>Réunion annulée, rendez-vous sur evil.example</p>",
            "to": [PUBLIC],
            "cc": [],
            "published": "2026-01-01T00:00:00Z",
        }
        peer.serve("/forged", forged)

        # When Mallory announces that document to our inbox
        announce = {
            "@context": AS_CONTEXT,
            "id": mallory + "/announces/1",
            "type": "Announce",
            "actor": mallory,
            "object": peer.url("/forged"),
            "to": [PUBLIC],
        }
        body = json.dumps(announce).encode()
        inbox = instance.base + "/inbox"
        headers = signed_post(inbox, body, mallory + "#main-key", KEY, instance.clock)
        response = await http.post(inbox, content=body, headers=headers)
        assert response.status_code == 202, response.text

        async def processed() -> bool:
            async with pool.acquire() as conn:
                state = await conn.fetchval(
                    "SELECT state FROM inbox_items WHERE activity_uri = $1", announce["id"]
                )
            return state in ("done", "ignored", "failed")

        await eventually(processed)

        # Then the forged document was fetched (the attack ran) and refused
        assert "/forged" in [seen.path for seen in peer.requests]
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1",
                announce["id"],
            )
            kept = await post_queries.select_post(conn, post.uri)
        assert row is not None
        assert row["state"] == "ignored", dict(row)
        # And camille's post keeps its text and its author
        assert kept is not None
        assert kept.content_html == original
        assert kept.local_actor_id == camille.id


async def test_the_fetcher_never_takes_our_own_objects_from_the_network(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
    ):
        async with pool.acquire() as conn:
            camille = await actor_service.create_person(conn, "camille", keygen=keygen)
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
        fetcher = instance.federation.fetcher
        # A URL of ours is read from the database, never fetched
        ours = await fetcher.document(post.uri)
        assert isinstance(ours, FetchError), ours
        assert ours.reason is FetchFailure.LOCAL
        # Nor can a remote server hand us one of our documents through a redirect
        peer.redirect("/bounce", post.uri)
        bounced = await fetcher.document(peer.url("/bounce"))
        assert isinstance(bounced, FetchError), bounced
        assert bounced.reason is FetchFailure.LOCAL
        assert [seen.path for seen in peer.requests] == ["/bounce"]
        # And one host has one spelling: user info and default ports do not make it another
        assert host_of("http://u@127.0.0.1:80/x") == "127.0.0.1"
        assert host_of("https://City.Example:443/x") == host_of("https://city.example/y")
        assert host_of("https://city.example:8443/x") != host_of("https://city.example/x")
