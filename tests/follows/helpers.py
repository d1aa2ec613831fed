"""What the block and mute tests share: a running instance with a logged-in citizen, remote
actors on a loopback peer whose signed activities reach the instance's inbox over HTTP, and
reading the instance's tables."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from fedicity.activitypub.keys import KeyPair
from fedicity.activitypub.vocab import PUBLIC
from fedicity.db.pool import Pool
from fedicity.urls import new_token
from tests.flows.harness import Instance, eventually
from tests.inbox_helpers import seed_remote_actor
from tests.peer import Peer
from tests.security.inbound_http import post_signed_http

AS = "https://www.w3.org/ns/activitystreams"


class Remote:
    """An actor on a loopback peer that signs what it sends to the instance."""

    def __init__(self, peer: Peer, name: str, keypair: KeyPair) -> None:
        self.peer = peer
        self.keypair = keypair
        self.uri = peer.publish_actor(name, keypair)

    async def seed(self, pool: Pool) -> None:
        """Store the actor as if the instance had fetched it."""
        await seed_remote_actor(pool, self.uri, self.keypair, datetime.now(UTC))

    def id(self, kind: str) -> str:
        """A fresh id of an activity or object of this actor."""
        return f"{self.uri}/{kind}/{new_token()}"

    async def send(self, instance: Instance, activity: dict[str, Any]) -> str:
        """POST the activity, signed, to the instance's shared inbox; its id (202 required)."""
        activity = {"@context": AS, "actor": self.uri, **activity}
        activity.setdefault("id", self.id(activity["type"].lower()))
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await post_signed_http(
                http,
                instance.base + "/inbox",
                activity,
                key_id=self.uri + "#main-key",
                keypair=self.keypair,
                now=datetime.now(UTC),
            )
        assert answer.status_code == 202, answer.text
        return str(activity["id"])

    def note(self, text: str, *, to: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        """A public note by this actor, for a Create."""
        return {
            "id": self.id("notes"),
            "type": "Note",
            "attributedTo": self.uri,
            "content": f"<p>{text}</p>",
            "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": [PUBLIC],
            "cc": [*(to or []), self.uri + "/followers"],
            **extra,
        }

    async def post(self, instance: Instance, text: str, **extra: Any) -> str:
        """Create a public note at the instance; the note's id."""
        note = self.note(text, **extra)
        await self.send(instance, {"type": "Create", "object": note, "to": note["to"]})
        return str(note["id"])

    def received(self, kind: str) -> list[dict[str, Any]]:
        """What the peer was sent of a type, addressed to this actor (at any inbox of the peer)."""
        return [
            doc
            for doc in (json.loads(body) for _path, body in self.peer.received)
            if doc.get("type") == kind and self.uri in doc.get("to", [])
        ]


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for the instance's workers to make `check` true."""
    await eventually(check, within=20)


async def value(pool: Pool, sql: str, *args: object) -> Any:
    """One value from the instance's database."""
    async with pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def follow_state(pool: Pool, follower: str, followee: str) -> str | None:
    """How a follow stands ('pending', 'accepted'), None when there is none."""
    state: str | None = await value(
        pool, "SELECT state FROM follows WHERE follower = $1 AND followee = $2", follower, followee
    )
    return state


async def add_follow(pool: Pool, follower: str, followee: str) -> str:
    """An accepted follow, with its Follow's id."""
    activity_uri = f"{follower}/follows/{new_token()}"
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO follows (follower, followee, activity_uri, state, accepted_at)
               VALUES ($1, $2, $3, 'accepted', now())""",
            follower,
            followee,
            activity_uri,
        )
    return activity_uri
