"""WebFinger resolves a registered citizen to its actor document."""

from __future__ import annotations

from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys


async def test_webfinger_acct_resolves_to_actor(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    async with pool.acquire() as conn:
        await accounts.register(conn, username="camille", password="long enough", keygen=keygen)
    # When a server looks up her handle
    response = await client.get("/.well-known/webfinger?resource=acct:camille@fedicity.test")
    # Then it gets a JRD whose self link is her actor
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = await response.get_json()
    assert document["subject"] == "acct:camille@fedicity.test"
    self_link = next(link for link in document["links"] if link["rel"] == "self")
    assert self_link["href"] == "http://fedicity.test/actors/camille"
    actor = await client.get(self_link["href"], headers={"Accept": "application/activity+json"})
    assert actor.status_code == 200
    assert (await actor.get_json())["publicKey"]["owner"] == self_link["href"]
