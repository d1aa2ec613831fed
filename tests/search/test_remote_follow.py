"""Remote follow ("follow from my own instance") over real HTTP: a visitor of one of our actors'
pages types her handle on another server (a real server on 127.0.0.1); ours reads that server's
subscribe template from WebFinger and sends her there with our actor's id."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, free_port, running_instance
from tests.peer import Peer, running_peer
from tests.territory_helpers import import_slice

JRD = "application/jrd+json"
SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def webfinger(peer: Peer, user: str, *, template: str | None) -> None:
    """The peer's WebFinger answer for user, with a subscribe template or without."""
    links: list[dict[str, str]] = [
        {"rel": "self", "type": "application/activity+json", "href": peer.url(f"/users/{user}")}
    ]
    if template is not None:
        links.append({"rel": SUBSCRIBE, "template": template})
    peer.serve(
        f"/.well-known/webfinger?resource=acct:{user}@{peer.host}",
        {"subject": f"acct:{user}@{peer.host}", "links": links},
        content_type=JRD,
    )


@asynccontextmanager
async def visiting(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> AsyncIterator[tuple[Instance, Peer, httpx.AsyncClient]]:
    """An instance serving Montreuil with Camille and an association, a peer, a visitor."""
    await import_slice(pool, tmp_path / "slice")
    async with (
        running_instance(
            pool, tmp_path, keygen, worker=False, territory_level="commune", territory_code="93048"
        ) as instance,
        running_peer() as peer,
        httpx.AsyncClient(
            trust_env=False, base_url=instance.base, headers={"Accept": "text/html"}
        ) as visitor,
    ):
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
            await actor_service.create_organization(
                conn, "amap", organization_kind="association", keygen=keygen, display_name="AMAP"
            )
        yield instance, peer, visitor


async def form_of(visitor: httpx.AsyncClient, path: str) -> tuple[str, str]:
    """The remote follow form on an actor page: (CSRF token, the account it follows)."""
    page = await visitor.get(path)
    assert page.status_code == 200, page.text
    assert 'action="/remote-follow"' in page.text, path
    token = _CSRF.search(page.text)
    account = re.search(r'name="account" value="([^"]+)"', page.text)
    assert token is not None
    assert account is not None
    return token.group(1), account.group(1)


async def test_a_visitor_is_sent_to_her_servers_subscribe_page_from_every_actor_page(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with visiting(pool, tmp_path, keygen) as (instance, peer, visitor):
        # Given Dana's server gives a subscribe template in its WebFinger document
        webfinger(peer, "dana", template=peer.url("/authorize_interaction?uri={uri}"))
        for path, actor in (
            ("/@camille", "camille"),
            ("/organizations/amap", "amap"),
            ("/territoires/commune/93048", "montreuil"),
        ):
            token, account = await form_of(visitor, path)
            assert account == actor
            # When Dana types her handle in the form
            sent = await visitor.post(
                "/remote-follow",
                data={"csrf_token": token, "account": account, "handle": f"dana@{peer.host}"},
            )
            # Then she is sent (303) to her server's page, with our actor's id, URL-encoded
            assert sent.status_code == 303, sent.text
            expected = peer.url("/authorize_interaction?uri=") + quote(
                instance.urls.actor(actor), safe=""
            )
            assert sent.headers["Location"] == expected
        # Each time her server was asked its WebFinger document, over plain HTTP here
        assert peer.paths == [f"/.well-known/webfinger?resource=acct:dana@{peer.host}"] * 3


async def test_errors_are_shown_by_the_field_with_what_was_typed(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with visiting(pool, tmp_path, keygen) as (instance, peer, visitor):
        webfinger(peer, "eve", template=None)
        webfinger(peer, "mallory", template="javascript:alert('{uri}')")
        token, _account = await form_of(visitor, "/@camille")
        host = instance.urls.base.split("://", 1)[1]
        cases = [
            ("not a handle", 422, "Tapez votre identifiant sous la forme nom@votre.serveur."),
            ("<b>@x</b>", 422, "Tapez votre identifiant"),
            ("a" * 5000 + "@example.org", 422, "Tapez votre identifiant"),
            (f"dominique@{host}", 422, "Cet identifiant est sur ce serveur"),
            (f"eve@{peer.host}", 502, "Votre serveur n&#39;indique pas d&#39;où suivre"),
            (f"mallory@{peer.host}", 502, "Votre serveur n&#39;indique pas d&#39;où suivre"),
            (f"nobody@{peer.host}", 502, "Votre serveur n&#39;a pas répondu"),
            (f"dana@127.0.0.1:{free_port()}", 502, "Votre serveur n&#39;a pas répondu"),
        ]
        for typed, status, error in cases:
            answer = await visitor.post(
                "/remote-follow",
                data={"csrf_token": token, "account": "camille", "handle": typed},
            )
            assert answer.status_code == status, (typed, answer.text[:300])
            assert error in answer.text, typed
            # The error sits by the field, which keeps what was typed (escaped)
            assert 'aria-describedby="remote-follow-error"' in answer.text
            kept = typed[:320].replace("<", "&lt;").replace(">", "&gt;")
            assert f'value="{kept}"' in answer.text, typed
            assert "javascript:" not in answer.headers.get("Location", "")
        # A form without the token, an account we do not have: refused before anything
        forged = await visitor.post(
            "/remote-follow", data={"account": "camille", "handle": f"dana@{peer.host}"}
        )
        assert forged.status_code == 400
        unknown = await visitor.post(
            "/remote-follow",
            data={"csrf_token": token, "account": "nobody", "handle": f"dana@{peer.host}"},
        )
        assert unknown.status_code == 404


async def test_remote_follows_are_counted_per_address(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with visiting(pool, tmp_path, keygen) as (_instance, peer, visitor):
        webfinger(peer, "dana", template=peer.url("/authorize_interaction?uri={uri}"))
        token, _account = await form_of(visitor, "/@camille")
        statuses = []
        for _ in range(21):
            answer = await visitor.post(
                "/remote-follow",
                data={"csrf_token": token, "account": "camille", "handle": f"dana@{peer.host}"},
            )
            statuses.append(answer.status_code)
        assert statuses == [303] * 20 + [429]
        assert int(answer.headers["Retry-After"]) > 0
        assert "Trop de tentatives depuis votre connexion" in answer.text
        assert len(peer.paths) == 20
