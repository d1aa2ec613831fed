"""Remote servers for the federation security tests: real HTTP/1.1 servers on 127.0.0.1.

The servers are tests.peer's Peer; this module adds what these tests build with them.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.activitypub.keys import KeyPair, load_private_key
from fedicity.clock import Clock


def person(uri: str, keypair: KeyPair, *, username: str = "someone") -> dict[str, Any]:
    """A Mastodon-shaped actor document publishing `keypair`, inbox on its own server."""
    base = uri.split("/users/", 1)[0]
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": username,
        "inbox": uri + "/inbox",
        "outbox": uri + "/outbox",
        "followers": uri + "/followers",
        "endpoints": {"sharedInbox": base + "/inbox"},
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": keypair.public_pem},
    }


def signed_post(
    url: str, body: bytes, key_id: str, keypair: KeyPair, clock: Clock
) -> dict[str, str]:
    """Mastodon-style draft-cavage headers for POSTing `body` to `url` (Host from `url`)."""
    headers = {"Content-Type": "application/activity+json"}
    headers.update(
        sign_cavage(
            "POST",
            url,
            headers,
            body,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            clock.now(),
        )
    )
    return headers


def signed_get(
    url: str, key_id: str, keypair: KeyPair, clock: Clock, accept: str
) -> dict[str, str]:
    """Mastodon-style draft-cavage headers for a GET of `url`."""
    headers = {"Accept": accept} if accept else {}
    headers.update(
        sign_cavage(
            "GET",
            url,
            headers,
            None,
            SigningKey(key_id, load_private_key(keypair.private_pem)),
            clock.now(),
        )
    )
    return headers


def problem_reason(response: httpx.Response) -> str | None:
    """The `reason` of a problem document, or None when the body is not one."""
    try:
        document = response.json()
    except ValueError:
        return None
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) else None


async def logged_in(http: httpx.AsyncClient, base: str, login: str, password: str) -> str:
    """Log `http` in through the login form; the session's CSRF token for later forms."""
    page = await http.get(base + "/login")
    token = _csrf_in(page.text)
    answer = await http.post(
        base + "/login",
        data={"login": login, "password": password, "csrf_token": token, "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return _csrf_in((await http.get(base + "/home")).text)


def _csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)
