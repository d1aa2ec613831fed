"""Domain policies on loopback (issue 11's acceptance): a running instance, real peers on
127.0.0.1, and policies changed by the `fedicity` command in another process, which the
instance obeys on its next request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.activitypub.keys import KeyPair
from fedicity.actors import queries as actor_queries
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.remote import LookupFailure
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.workers.delivery import deliver_batch
from tests.cli_fork import run_cli
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.inbox_helpers import seed_remote_actor, signed_headers
from tests.peer import Peer, running_peer
from tests.territory_helpers import import_slice
from tests.test_cli import cli_env  # noqa: F401  (cli_env is a fixture)

KEY = fixed_keypairs()[2]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def _citizen(instance: Instance, username: str, keygen: FixedKeys) -> Actor:
    async with instance.pool.acquire() as conn:
        account = await accounts.register(
            conn, username=username, password="long enough pw", keygen=keygen
        )
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _policy(env: dict[str, str], *args: str) -> None:
    """Change the policy as an admin would: `fedicity policy ...` in its own process."""
    result = await run_cli("policy", *args, env=env)
    assert result.code == 0, result


async def _post_signed(
    instance: Instance, activity: dict[str, Any], *, key_id: str, keypair: KeyPair = KEY
) -> httpx.Response:
    body = json.dumps(activity).encode()
    url = instance.base + "/inbox"
    headers = signed_headers(url, body, key_id, keypair, instance.clock.now())
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, content=body, headers=headers)


def _like(actor: str, target: str, number: int = 1) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}#likes/{number}",
        "type": "Like",
        "actor": actor,
        "object": target,
    }


async def _delivery_states(pool: Pool, inbox_prefix: str) -> list[tuple[str, int, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state, attempts, last_error FROM deliveries WHERE inbox LIKE $1 || '%'",
            inbox_prefix,
        )
    return [(row["state"], row["attempts"], row["last_error"] or "") for row in rows]


async def _like_for(instance: Instance, author: Actor, remote: str, number: int) -> None:
    """Camille likes a remote note: one delivery row to its author's server."""
    urls = instance.urls
    async with instance.pool.acquire() as conn, conn.transaction():
        await publish(
            conn,
            actor=author,
            activity={
                "id": urls.activity(f"like{number}"),
                "type": "Like",
                "actor": urls.actor(author.username),
                "object": f"{remote}/notes/{number}",
                "to": [remote],
            },
            audience=Audience(frozenset({remote})),
            urls=urls,
            clock=instance.clock,
        )


async def test_a_suspended_domain_is_refused_before_its_key_is_fetched_and_gets_nothing(
    pool: Pool,
    tmp_path: Path,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    async with (
        running_instance(pool, tmp_path / "i", keygen, worker=False) as instance,
        running_peer() as peer,
    ):
        # Given Carol of the peer, who follows Camille, and an activity queued for her server
        carol = peer.publish_actor("carol", KEY)
        await seed_remote_actor(pool, carol, KEY, instance.clock.now())
        camille = await _citizen(instance, "camille", keygen)
        camille_uri = instance.urls.actor("camille")
        async with pool.acquire() as conn:
            await follow_queries.upsert_follow(
                conn,
                follower=carol,
                followee=camille_uri,
                activity_uri=carol + "#follow",
                accepted=True,
                now=instance.clock.now(),
            )
        await _like_for(instance, camille, carol, 1)
        assert [state for state, _a, _e in await _delivery_states(pool, peer.base)] == ["pending"]
        # When the admin suspends the peer's domain from the command line
        await _policy(cli_env, "suspend", "127.0.0.1", "--reason", "spam waves")
        # Then Carol's signed delivery is refused before her key is fetched: the peer sees
        # no request at all
        refused = await _post_signed(
            instance, _like(carol, camille_uri), key_id=carol + "#main-key"
        )
        assert refused.status_code == 403
        assert "domain_refused" in refused.text
        assert peer.requests == []
        # And the queued delivery is cancelled, her follow is gone, and the worker sends nothing
        async with pool.acquire() as conn:
            assert await follow_queries.select_follow(conn, carol, camille_uri) is None
        await _like_for(instance, camille, carol, 2)
        async with new_delivery_client(allow_private_addresses=True) as client:
            await deliver_batch(pool, client, urls=instance.urls, clock=instance.clock)
        states = await _delivery_states(pool, peer.base)
        # (the first cancelled by the suspension itself, the second refused by the worker)
        assert [state for state, _a, _e in states] == ["failed", "failed"]
        assert states[0][1] == 0
        assert all("suspended" in error for _s, _a, error in states)
        assert peer.received == []
        # And once lifted (again from another process), the same delivery gets in: the policy,
        # read on each request, was the only reason
        await _policy(cli_env, "lift", "127.0.0.1")
        accepted = await _post_signed(
            instance, _like(carol, camille_uri, 2), key_id=carol + "#main-key"
        )
        assert accepted.status_code == 202, accepted.text


async def test_a_wildcard_suspension_covers_every_subdomain(
    pool: Pool,
    tmp_path: Path,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    async with running_instance(pool, tmp_path / "i", keygen, worker=False) as instance:
        await _citizen(instance, "camille", keygen)
        target = instance.urls.actor("camille")
        await _policy(cli_env, "suspend", "*.evil.test")
        # The domain and any subdomain are refused at the gate, whatever the port
        for actor in (
            "http://evil.test/users/a",
            "http://a.evil.test/users/b",
            "http://deep.a.evil.test:8443/users/c",
        ):
            response = await _post_signed(instance, _like(actor, target), key_id=actor + "#k")
            assert response.status_code == 403, actor
            assert "domain_refused" in response.text, actor
        # A name that merely ends with the same letters is another domain: it goes on to the
        # key fetch (which fails here, so 401), not the policy
        other = "http://notevil.test/users/d"
        response = await _post_signed(instance, _like(other, target), key_id=other + "#k")
        assert response.status_code == 401
        assert "domain_refused" not in response.text


def _event(peer: Peer, organiser: str, title: str) -> dict[str, Any]:
    """A public Create(Event) in Montreuil (postal code 93100), a month from now."""
    uri = peer.url("/events/1")
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": uri + "/activity",
        "type": "Create",
        "actor": organiser,
        "to": [PUBLIC],
        "object": {
            "id": uri,
            "type": "Event",
            "attributedTo": organiser,
            "name": title,
            "content": "<p>Réunion publique</p>",
            "startTime": "2031-05-01T18:00:00Z",
            "endTime": "2031-05-01T20:00:00Z",
            "to": [PUBLIC],
            "location": {
                "type": "Place",
                "name": "Salle des fêtes",
                "address": {
                    "type": "PostalAddress",
                    "postalCode": "93100",
                    "addressLocality": "Montreuil",
                },
            },
        },
    }


async def test_a_silenced_domains_event_is_kept_but_out_of_territory_pages_and_announces(
    pool: Pool,
    tmp_path: Path,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    await import_slice(pool, tmp_path)
    async with (
        running_instance(
            pool, tmp_path / "i", keygen, territory_level="commune", territory_code="93048"
        ) as instance,
        running_peer() as peer,
        httpx.AsyncClient(timeout=30) as client,
    ):
        # Given a peer whose domain the admin silenced
        organiser = peer.publish_actor("orga", KEY)
        await _policy(cli_env, "silence", "127.0.0.1", "--public-comment", "unmoderated")
        # When it sends a public event in Montreuil, correctly signed
        title = "Assemblée silencieuse"
        response = await _post_signed(
            instance, _event(peer, organiser, title), key_id=organiser + "#main-key"
        )
        assert response.status_code == 202, response.text

        # Then it is accepted and stored, located in Montreuil
        async def stored() -> bool:
            async with pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM events WHERE uri = $1 AND territory_id IS NOT NULL",
                        peer.url("/events/1"),
                    )
                )

        await eventually(stored, within=20)
        html = {"Accept": "text/html"}
        territory = f"{instance.base}/territoires/commune/93048"
        pages = {
            "territory": territory,
            "agenda": f"{instance.base}/events",
            "items": f"{instance.base}/api/territories/commune/93048/items",
            "ics": f"{territory}/agenda.ics",
        }
        for name, url in pages.items():
            answer = await client.get(url, headers=html)
            assert answer.status_code == 200, name
            assert title not in answer.text, name
        # And the territory announces nothing of it
        outbox = await client.get(
            f"{instance.base}/actors/montreuil/outbox?page=true",
            headers={"Accept": "application/activity+json"},
        )
        assert outbox.status_code == 200
        assert peer.url("/events/1") not in outbox.text
        async with pool.acquire() as conn:
            announced = await conn.fetchval(
                "SELECT count(*) FROM outbox_activities WHERE raw::text LIKE '%' || $1 || '%'",
                peer.url("/events/1"),
            )
        assert announced == 0
        # And the public list says why the domain is limited
        about = await client.get(f"{instance.base}/about/federation", headers=html)
        assert "127.0.0.1" in about.text
        assert "unmoderated" in about.text
        # When the silence is lifted, the next request shows it: only the policy hid it
        await _policy(cli_env, "lift", "127.0.0.1")
        shown = await client.get(territory, headers=html)
        assert title in shown.text


async def test_in_allowlist_mode_an_unlisted_domain_is_refused_and_never_fetched(
    pool: Pool,
    tmp_path: Path,
    keygen: FixedKeys,
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    async with (
        running_instance(
            pool, tmp_path / "i", keygen, federation_allowlist=True, worker=False
        ) as instance,
        running_peer() as peer,
    ):
        carol = peer.publish_actor("carol", KEY)
        peer.serve(
            "/.well-known/webfinger",
            {
                "subject": "acct:carol@" + peer.host,
                "links": [{"rel": "self", "href": carol, "type": "application/activity+json"}],
            },
            content_type="application/jrd+json",
        )
        camille = await _citizen(instance, "camille", keygen)
        camille_uri = instance.urls.actor("camille")
        # When an unlisted domain delivers, correctly signed, it is refused without a fetch
        refused = await _post_signed(
            instance, _like(carol, camille_uri), key_id=carol + "#main-key"
        )
        assert refused.status_code == 403
        assert "domain_refused" in refused.text
        # And nothing here fetches from it: neither its actor, nor its WebFinger
        found = await instance.federation.directory.actor(carol)
        assert isinstance(found, LookupFailure)
        assert found.reason == "refused_by_policy"
        looked_up = await find_actor(
            pool, instance.federation.directory, f"@carol@{peer.host}", local_host="x"
        )
        assert isinstance(looked_up, LookupFailure)
        assert looked_up.reason == "refused_by_policy", looked_up
        assert peer.requests == []
        # And nothing is delivered to it
        await seed_remote_actor(pool, carol, KEY, instance.clock.now())
        await _like_for(instance, camille, carol, 1)
        async with new_delivery_client(allow_private_addresses=True) as client:
            await deliver_batch(
                pool,
                client,
                urls=instance.urls,
                clock=instance.clock,
                allowlist_mode=True,
            )
        states = await _delivery_states(pool, peer.base)
        assert [state for state, _a, _e in states] == ["failed"]
        assert "allowlist" in states[0][2]
        assert peer.requests == []
        # When the admin allows the domain, the next delivery gets in (its key fetched)
        await _policy(cli_env, "allow", "127.0.0.1")
        accepted = await _post_signed(
            instance, _like(carol, camille_uri, 2), key_id=carol + "#main-key"
        )
        assert accepted.status_code == 202, accepted.text
