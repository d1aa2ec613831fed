"""Real HTTP on loopback for the inbound security tests: a remote peer that publishes actors and
takes deliveries, and signed POSTs to a running instance's inbox."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def post_signed_http(
    http: httpx.AsyncClient,
    url: str,
    body: bytes | dict[str, Any],
    *,
    key_id: str,
    keypair: KeyPair,
    now: datetime,
    content_type: str = "application/activity+json",
) -> httpx.Response:
    """POST a body to an inbox URL over HTTP, signed Mastodon-style (draft-cavage) as `key_id`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    key = SigningKey(key_id, load_private_key(keypair.private_pem))
    headers.update(sign_cavage("POST", url, headers, data, key, now))
    return await http.post(url, content=data, headers=headers)
