"""Handles and addresses typed in the search field, over real HTTP: an instance on loopback and a
remote server on 127.0.0.1 (tests.peer) serving WebFinger, an actor, a post and an event.

Only a logged-in citizen makes the server fetch, within her share; a link from another site
fetches nothing until she confirms with her CSRF token; failures are said in plain words that
tell nothing of what answers at an address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.ratelimit.limiter import hit
from fedicity.search.resolve import LOOKUPS_PER_ACCOUNT
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, free_port, running_instance
from tests.peer import Peer, running_peer
from tests.security.federation_peers import logged_in, person

KEY = fixed_keypairs()[2]
PASSWORD = "long enough password"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
BROWSER = {"Accept": "text/html"}
JRD = "application/jrd+json"


@dataclass
class World:
    """The instance, the remote server with Dana on it, and Camille's logged-in browser."""

    instance: Instance
    peer: Peer
    http: httpx.AsyncClient
    csrf: str
    dana: str

    async def search(self, q: str, **headers: str) -> httpx.Response:
        """GET /search?q=..., as from one of our pages unless headers say otherwise."""
        return await self.http.get(
            self.instance.base + "/search", params={"q": q}, headers=headers or SAME_SITE
        )


def serve_dana(peer: Peer) -> str:
    """Dana's WebFinger document, actor, posts and event on the peer; her id."""
    dana = peer.url("/users/dana")
    peer.serve(
        f"/.well-known/webfinger?resource=acct:dana@{peer.host}",
        {
            "subject": f"acct:dana@{peer.host}",
            "links": [
                {"rel": "self", "type": "application/activity+json", "href": dana},
                {
                    "rel": "http://ostatus.org/schema/1.0/subscribe",
                    "template": peer.url("/authorize_interaction?uri={uri}"),
                },
            ],
        },
        content_type=JRD,
    )
    peer.serve(
        "/users/dana",
        {
            **person(dana, KEY, username="dana"),
            "name": "Dana Lefèvre",
            "summary": "<p>Jardinière à Bagnolet</p>",
            "url": peer.url("/@dana"),
        },
    )
    tomatoes = note(peer, 1, "Les tomates sont mûres !", [PUBLIC])
    peer.serve("/users/dana/statuses/1", tomatoes)
    # Its web page answers ActivityStreams too, as Mastodon's do.
    peer.serve("/@dana/1", tomatoes)
    peer.serve("/users/dana/statuses/2", note(peer, 2, "Pour mes abonnés", [dana + "/followers"]))
    peer.serve(
        "/events/1",
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": peer.url("/events/1"),
            "type": "Event",
            "name": "Troc de graines",
            "content": "<p>Apportez vos graines.</p>",
            "startTime": "2031-04-05T14:30:00+02:00",
            "endTime": "2031-04-05T17:00:00+02:00",
            "attributedTo": dana,
            "to": [PUBLIC],
            "url": peer.url("/e/troc"),
        },
    )
    peer.serve(
        "/users/dana/outbox",
        {"id": peer.url("/users/dana/outbox"), "type": "OrderedCollection", "totalItems": 0},
    )
    return dana


def note(peer: Peer, number: int, text: str, to: list[str]) -> dict[str, Any]:
    """One of Dana's notes."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": peer.url(f"/users/dana/statuses/{number}"),
        "type": "Note",
        "attributedTo": peer.url("/users/dana"),
        "content": f"<p>{text}</p>",
        "published": "2026-03-01T10:00:00Z",
        "to": to,
        "url": peer.url(f"/@dana/{number}"),
    }


@asynccontextmanager
async def world(pool: Pool, tmp_path: Path, keygen: FixedKeys) -> AsyncIterator[World]:
    """Camille logged in on a running instance; Dana served by a peer."""
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False, headers=BROWSER) as http,
    ):
        async with pool.acquire() as conn:
            await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
        csrf = await logged_in(http, instance.base, "camille", PASSWORD)
        yield World(instance, peer, http, csrf, serve_dana(peer))


async def test_a_typed_handle_is_looked_up_and_shown_with_a_follow_button(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        # When Camille types Dana's handle in the search field
        found = await w.search(f"@dana@{w.peer.host}")
        # Then Dana is found on her server through WebFinger, and shown by name
        assert found.status_code == 200, found.text
        assert w.peer.paths == [
            f"/.well-known/webfinger?resource=acct:dana@{w.peer.host}",
            "/users/dana",
        ]
        assert "Dana Lefèvre" in found.text
        assert f"@dana@{w.peer.host}" in found.text
        assert "Jardinière à Bagnolet" in found.text
        assert f'href="{w.peer.url("/@dana")}"' in found.text
        # ... with the follow button of the existing /follow route
        follow = (
            '<form method="post" action="/follow"><input type="hidden" name="csrf_token" '
            f'value="{w.csrf}"><input type="hidden" name="handle" value="{w.dana}">'
        )
        assert follow in found.text
        # When she follows
        followed = await w.http.post(
            w.instance.base + "/follow", data={"csrf_token": w.csrf, "handle": w.dana}
        )
        assert followed.status_code == 303
        # Then the same search says the request is on its way, and asks nothing of the peer
        again = await w.search(f"dana@{w.peer.host}")
        assert "Demande d'abonnement envoyée." in again.text
        assert len(w.peer.paths) == 2
        # And anyone now finds Dana by name among the accounts we know
        async with httpx.AsyncClient(trust_env=False, headers=BROWSER) as visitor:
            listed = await visitor.get(w.instance.base + "/search", params={"q": "dana"})
        assert listed.status_code == 200
        assert "Dana Lefèvre" in listed.text


async def test_a_link_from_another_site_fetches_nothing_until_confirmed(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        address = w.peer.url("/users/dana/statuses/1")
        # When Camille follows a link to the search from another site, or a client sends no
        # Sec-Fetch-Site
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            asked = await w.search(address, **headers)
            # Then she is asked to confirm, and nothing was fetched
            assert asked.status_code == 200
            assert "Chercher cet identifiant ou cette adresse sur son serveur ?" in asked.text
            assert 'action="/search"' in asked.text
        bare = await w.http.get(w.instance.base + "/search", params={"q": address})
        assert "Chercher cet identifiant" in bare.text
        assert w.peer.connections == 0
        # When a cross-site form posts the lookup without her token: refused, nothing fetched
        forged = await w.http.post(w.instance.base + "/search", data={"q": address})
        assert forged.status_code == 400
        assert w.peer.connections == 0
        # When she confirms: the post is shown
        confirmed = await w.http.post(
            w.instance.base + "/search", data={"q": address, "csrf_token": w.csrf}
        )
        assert confirmed.status_code == 200, confirmed.text
        assert "Les tomates sont mûres !" in confirmed.text


async def test_addresses_of_posts_and_events_are_shown_with_a_link_to_the_original(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        # A public post's web address: shown with its author by name, and its original
        shown = await w.search(w.peer.url("/@dana/1"))
        assert shown.status_code == 200, shown.text
        assert "Les tomates sont mûres !" in shown.text
        assert "Dana Lefèvre" in shown.text
        original = w.peer.url("/@dana/1")
        assert f'<a href="{original}" rel="noopener noreferrer">Voir l\'original</a>' in (
            shown.text
        )
        # ... shown, not kept: a lookup puts nothing in our tag pages or agenda
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM posts") == 0
        assert "suivez son auteur" in shown.text
        # A followers-only post is not shown
        private = await w.search(w.peer.url("/users/dana/statuses/2"))
        assert private.status_code == 404
        assert "n&#39;est pas public" in private.text
        assert "Pour mes abonnés" not in private.text
        # An event: its title, its time where it happens, its organiser, its original
        event = await w.search(w.peer.url("/events/1"))
        assert event.status_code == 200, event.text
        assert "Troc de graines" in event.text
        assert "14:30" in event.text
        assert "Organisé par" in event.text
        assert "Dana Lefèvre" in event.text
        assert f'href="{w.peer.url("/e/troc")}"' in event.text
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_failures_are_said_plainly_and_alike(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        unreachable = "le serveur n&#39;a pas répondu, ou il n&#39;a pas ce compte ou ce message"
        # Nothing at that path, nothing listening at that port, a handle nobody has there
        for typed in (
            w.peer.url("/users/nobody"),
            f"http://127.0.0.1:{free_port()}/users/nobody",
            f"nobody@{w.peer.host}",
            f"nobody@127.0.0.1:{free_port()}",
        ):
            answer = await w.search(typed)
            assert answer.status_code == 502, (typed, answer.text)
            assert unreachable in answer.text, typed
            assert "ConnectError" not in answer.text
        # Something that is no account, post or event
        answer = await w.search(w.peer.url("/users/dana/outbox"))
        assert answer.status_code == 422
        assert "ne contient ni compte, ni message, ni événement" in answer.text
        # A server this instance suspended is not asked
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO domain_policies (domain, action) VALUES ('127.0.0.1', 'suspend')"
            )
        asked = len(w.peer.paths)
        answer = await w.search(w.peer.url("/users/dana"))
        assert answer.status_code == 403
        assert "ne fédère pas avec ce serveur" in answer.text
        assert len(w.peer.paths) == asked


async def test_lookups_are_counted_per_account(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        # Given Camille has used her share of lookups
        async with pool.acquire() as conn:
            account_id = await conn.fetchval(
                """SELECT a.id FROM accounts a JOIN actors p ON p.id = a.actor_id
                    WHERE p.username = 'camille'"""
            )
            for _ in range(LOOKUPS_PER_ACCOUNT.limit):
                await hit(conn, LOOKUPS_PER_ACCOUNT, f"account:{account_id}", datetime.now(UTC))
        # When she looks up one more address
        answer = await w.search(w.peer.url("/users/dana"))
        # Then she is told to wait, and nothing is fetched
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
        assert "réessayez dans quelques minutes" in answer.text
        assert w.peer.connections == 0


async def test_anonymous_visitors_never_make_the_server_fetch(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        world(pool, tmp_path, keygen) as w,
        httpx.AsyncClient(trust_env=False, headers=BROWSER) as visitor,
    ):
        for typed in (f"@dana@{w.peer.host}", w.peer.url("/users/dana")):
            answer = await visitor.get(
                w.instance.base + "/search", params={"q": typed}, headers=SAME_SITE
            )
            assert answer.status_code == 200
            assert "Connectez-vous pour chercher" in answer.text
        # ... nor by posting the confirmation form (sent to log in first)
        page = await visitor.get(w.instance.base + "/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        posted = await visitor.post(
            w.instance.base + "/search", data={"q": w.peer.url("/users/dana"), "csrf_token": token}
        )
        assert posted.status_code == 303
        assert "/login" in posted.headers["Location"]
        assert w.peer.connections == 0


async def test_a_remote_servers_interaction_link_to_a_post_shows_the_post(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with world(pool, tmp_path, keygen) as w:
        # Our WebFinger gives remote servers our subscribe template...
        jrd = await w.http.get(
            w.instance.base + "/.well-known/webfinger",
            params={"resource": f"acct:camille@{w.instance.urls.base.split('://')[1]}"},
        )
        [template] = [
            link["template"]
            for link in jrd.json()["links"]
            if link["rel"] == "http://ostatus.org/schema/1.0/subscribe"
        ]
        assert template == w.instance.base + "/authorize_interaction?uri={uri}"
        # ... which they fill with a post as well as an account: the post is shown once
        # confirmed
        address = w.peer.url("/users/dana/statuses/1")
        confirmed = await w.http.post(
            w.instance.base + "/authorize_interaction",
            data={"uri": address, "csrf_token": w.csrf},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert "Les tomates sont mûres !" in confirmed.text
