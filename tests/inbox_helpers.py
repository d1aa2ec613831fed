"""Signed inbox requests from seeded remote actors, for inbox tests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from quart import Response
from quart.typing import TestClientProtocol

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import RemoteActor
from fedicity.actors.parse import parse_remote_actor
from fedicity.db.pool import Pool


def actor_document(uri: str, keypair: KeyPair, *, username: str = "someone") -> dict[str, Any]:
    """A minimal Mastodon-shaped actor document publishing `keypair`."""
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": username,
        "inbox": uri + "/inbox",
        "followers": uri + "/followers",
        "endpoints": {"sharedInbox": uri.rsplit("/", 2)[0] + "/inbox"},
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": keypair.public_pem},
    }


async def seed_remote_actor(pool: Pool, uri: str, keypair: KeyPair, now: datetime) -> RemoteActor:
    """Store a remote actor as if its document had been fetched."""
    async with pool.acquire() as conn:
        return await actor_queries.upsert_remote_actor(
            conn, parse_remote_actor(actor_document(uri, keypair), now)
        )


def signed_headers(
    url: str, body: bytes, key_id: str, keypair: KeyPair, now: datetime
) -> dict[str, str]:
    """Mastodon-style draft-cavage headers for a POST."""
    headers = {"Content-Type": "application/activity+json"}
    headers.update(
        sign_cavage(
            "POST",
            url,
            headers,
            body,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            now,
        )
    )
    return headers


async def post_signed(
    client: TestClientProtocol,
    path: str,
    activity: dict[str, Any] | bytes,
    *,
    key_id: str,
    keypair: KeyPair,
    now: datetime,
    base: str = "http://fedicity.test",
) -> Response:
    """POST an activity to an inbox path, signed as `key_id`."""
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    headers = signed_headers(base + path, body, key_id, keypair, now)
    return await client.post(path, data=body, headers=headers)
