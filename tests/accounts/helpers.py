"""What the account tests share: pictures made with Pillow, a logged-in HTTP client on a
running instance, remote followers on a loopback peer, and the check of a signed delivery."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import httpx
from PIL import Image

from fedicity.accounts import service as accounts
from fedicity.accounts.models import Account
from fedicity.activitypub.httpsig import ParsedSignature, parse_signature, verify
from fedicity.activitypub.keys import KeyPair, load_public_key
from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from tests.conftest import FixedKeys
from tests.inbox_helpers import seed_remote_actor
from tests.peer import Peer, Posted

PASSWORD = "quatre mots sans rapport"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def picture(
    width: int, height: int, fmt: str = "PNG", colour: tuple[int, ...] = (30, 120, 80)
) -> bytes:
    """A real image of one colour (RGBA for PNG, RGB otherwise)."""
    mode = "RGBA" if fmt == "PNG" and len(colour) == 4 else "RGB"
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format=fmt)
    return out.getvalue()


def csrf_in(html: str) -> str:
    """The CSRF token of a page's first form."""
    found = _CSRF.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


async def register(pool: Pool, keygen: FixedKeys, username: str, **extra: object) -> Account:
    """An account made the administrator's way, with an e-mail address."""
    async with pool.acquire() as conn:
        return await accounts.register(
            conn,
            username=username,
            password=PASSWORD,
            keygen=keygen,
            email=f"{username}@example.org",
            **extra,  # type: ignore[arg-type]
        )


async def log_in(http: httpx.AsyncClient, login: str, password: str = PASSWORD) -> str:
    """Log `http` (whose base_url is the instance) in; a CSRF token of the new session."""
    token = csrf_in((await http.get("/login")).text)
    answer = await http.post(
        "/login", data={"login": login, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text
    return csrf_in((await http.get("/settings")).text)


async def remote_follower(
    pool: Pool, peer: Peer, name: str, keypair: KeyPair, followee: str
) -> str:
    """A Mastodon-shaped actor on the peer who follows `followee` (accepted); its id."""
    uri = peer.publish_actor(name, keypair)
    await seed_remote_actor(pool, uri, keypair, datetime.now(UTC))
    async with pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=uri,
            followee=followee,
            activity_uri=uri + "#follow",
            accepted=True,
            now=datetime.now(UTC),
        )
    return uri


async def assert_signed_by(pool: Pool, post: Posted, peer: Peer, username: str) -> None:
    """The POST carries a valid draft-cavage signature by the local actor's key, over its body."""
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(
            conn,
            await conn.fetchval(
                "SELECT id FROM actors WHERE lower(username) = lower($1)", username
            ),
        )
    assert actor is not None
    assert actor.public_key_pem is not None
    parsed = parse_signature("POST", peer.url(post.path), post.headers)
    assert isinstance(parsed, ParsedSignature), parsed
    assert parsed.key_id.endswith(f"/actors/{username}#main-key"), parsed.key_id
    failure = verify(
        parsed,
        load_public_key(actor.public_key_pem),
        method="POST",
        body=post.body,
        headers=post.headers,
        now=datetime.now(UTC),
        authority=peer.host,
    )
    assert failure is None, failure
