"""Remote follow between two fedicity instances on loopback: Dana, on B, visits Camille's profile
on A, types her handle, is sent to B's /authorize_interaction (the template B's WebFinger gives),
confirms there, follows; A accepts."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from tests.conftest import FixedKeys
from tests.flows.harness import eventually, running_instance
from tests.security.federation_peers import logged_in

PASSWORD = "long enough password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_a_visitor_follows_from_her_own_fedicity(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path / "a", keygen) as a,
        running_instance(pool_b, tmp_path / "b", keygen) as b,
        # Two clients: cookies do not tell ports apart, and both instances are on 127.0.0.1.
        httpx.AsyncClient(trust_env=False, headers={"Accept": "text/html"}) as on_a,
        httpx.AsyncClient(trust_env=False, headers={"Accept": "text/html"}) as browser,
    ):
        async with a.pool.acquire() as conn:
            await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
        async with b.pool.acquire() as conn:
            await accounts.register(conn, username="dana", password=PASSWORD, keygen=keygen)
        b_token = await logged_in(browser, b.base, "dana", PASSWORD)
        camille = a.urls.actor("camille")

        # Dana, not logged in on A, opens Camille's profile and types her handle on B
        profile = await on_a.get(a.base + "/@camille")
        token = _CSRF.search(profile.text)
        assert token is not None
        sent = await on_a.post(
            a.base + "/remote-follow",
            data={
                "csrf_token": token.group(1),
                "account": "camille",
                "handle": f"dana@{b.settings.host}",
            },
        )
        # A sends her to B's subscribe page with Camille's id
        assert sent.status_code == 303, sent.text
        location = sent.headers["Location"]
        assert location == f"{b.base}/authorize_interaction?uri={quote(camille, safe='')}"

        # On B, logged in, she is asked to confirm, then sees Camille with a Follow button
        asked = await browser.get(location)
        assert asked.status_code == 200
        assert camille in asked.text
        shown = await browser.post(
            b.base + "/authorize_interaction", data={"uri": camille, "csrf_token": b_token}
        )
        assert shown.status_code == 200, shown.text
        assert 'action="/follow"' in shown.text
        followed = await browser.post(
            b.base + "/follow", data={"handle": camille, "csrf_token": b_token}
        )
        assert followed.status_code == 303

        # And A accepts: Dana follows Camille
        async def accepted() -> bool:
            async with b.pool.acquire() as conn:
                found = await follow_queries.select_follow(conn, b.urls.actor("dana"), camille)
            return found is not None and found.state == "accepted"

        await eventually(accepted)
