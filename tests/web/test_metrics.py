"""/metrics over real HTTP on loopback: it parses with prometheus_client's own parser, its
counters move when a peer's signed delivery is accepted, processed and answered, and only those
allowed may read it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from prometheus_client.parser import text_string_to_metric_families
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web.metrics import create_metrics_app, metrics_refusal
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, free_port, running_instance
from tests.inbox_helpers import signed_headers
from tests.peer import running_peer

TOKEN = "s3cret-metrics-token-0123456789"
KEY = fixed_keypairs()[0]
OTHER_KEY = fixed_keypairs()[1]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels, read by prometheus_client."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a labelled counter not yet touched)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(base: str, **headers: str) -> Samples:
    """GET /metrics over HTTP and parse it."""
    async with httpx.AsyncClient() as client:
        response = await client.get(base + "/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_a_signed_delivery_moves_the_inbox_delivery_and_request_counters(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with running_peer() as peer, running_instance(pool, tmp_path, keygen) as instance:
        # Given a citizen here and a remote actor on a loopback peer
        async with pool.acquire() as conn:
            await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
        remote = peer.publish_actor("alice", KEY)
        before = await scrape(instance.base)

        # When the peer delivers a signed Follow to the shared inbox
        follow = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": remote + "#follows/1",
            "type": "Follow",
            "actor": remote,
            "object": instance.urls.actor("camille"),
        }
        body = json.dumps(follow).encode()
        url = instance.base + "/inbox"
        headers = signed_headers(url, body, remote + "#main-key", KEY, datetime.now(UTC))
        async with httpx.AsyncClient() as client:
            accepted = await client.post(url, content=body, headers=headers)
            # and the same once more, and once signed with a key that is not the actor's
            again = await client.post(url, content=body, headers=headers)
            forged = dict(
                signed_headers(url, body, remote + "#main-key", OTHER_KEY, datetime.now(UTC))
            )
            refused = await client.post(url, content=body, headers=forged)
        assert (accepted.status_code, again.status_code) == (202, 202)
        assert refused.status_code == 401, refused.text

        # Then the web counters moved: one stored, one duplicate, one refused with its reason
        after = await scrape(instance.base)
        accepted_total = "fedicity_inbox_accepted_total"
        assert value(after, accepted_total, outcome="stored") == (
            value(before, accepted_total, outcome="stored") + 1
        )
        assert value(after, accepted_total, outcome="duplicate") == (
            value(before, accepted_total, outcome="duplicate") + 1
        )
        reason = refused.json()["reason"]
        assert reason.startswith("signature_")
        refused_total = "fedicity_inbox_refused_total"
        assert value(after, refused_total, reason=reason) == (
            value(before, refused_total, reason=reason) + 1
        )
        requests = "fedicity_http_requests_total"
        inbox_202 = {"method": "POST", "route": "/inbox", "status": "202"}
        assert value(after, requests, **inbox_202) == value(before, requests, **inbox_202) + 2
        # and the route is the rule, never the path
        assert not any("camille" in dict(labels).get("route", "") for _, labels in after)

        # Then the worker processes the Follow and delivers the Accept to the peer
        async def answered() -> bool:
            return any(doc.get("type") == "Accept" for doc in peer.received_json())

        await eventually(answered)

        async def counted() -> bool:
            now = await scrape(instance.base)
            return value(now, "fedicity_deliveries_total", result="delivered") > value(
                before, "fedicity_deliveries_total", result="delivered"
            ) and value(now, "fedicity_inbox_processed_total", outcome="done") > value(
                before, "fedicity_inbox_processed_total", outcome="done"
            )

        await eventually(counted)
        final = await scrape(instance.base)
        # The loops' timings and the database's figures are there too
        assert value(final, "fedicity_worker_loop_step_seconds_count", loop="inbox") > 0
        assert value(final, "fedicity_database_up") == 1
        assert ("fedicity_queue_pending", (("queue", "delivery"),)) in final
        assert ("fedicity_queue_lag_seconds", (("queue", "inbox"),)) in final


@contextlib.asynccontextmanager
async def metrics_served(pool: Pool, settings: Settings) -> AsyncIterator[str]:
    """The worker's own /metrics app on a loopback port; its base URL."""
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    app = create_metrics_app(settings, pool, FrozenClock())
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await server


async def test_the_worker_endpoint_reads_queue_depth_and_lag_from_the_database(
    pool: Pool, settings: Settings, keygen: FixedKeys
) -> None:
    clock = FrozenClock()
    # Given two inbox rows due for a minute and a half, stored by another process
    async with pool.acquire() as conn:
        for number in (1, 2):
            await conn.execute(
                """INSERT INTO inbox_items (activity_uri, actor_uri, type, raw, key_id,
                                            received_at, next_attempt_at, origin_host)
                   VALUES ($1, 'https://a.example/u', 'Like', '{}', 'k', $2, $2, 'a.example')""",
                f"https://a.example/likes/{number}",
                clock.now().replace(microsecond=0) - timedelta(seconds=90),
            )
    async with metrics_served(pool, settings) as base:
        samples = await scrape(base)
        # and refuses what it must, without pages to render even for a browser
        async with httpx.AsyncClient() as client:
            relayed = await client.get(
                base + "/metrics", headers={"X-Forwarded-For": "127.0.0.1", "Accept": "text/html"}
            )
        assert relayed.status_code == 403
        assert relayed.headers["content-type"] == "application/problem+json"
        assert relayed.json()["reason"] == "metrics_denied"
        # and serves nothing else
        async with httpx.AsyncClient() as client:
            for path in ("/static/fedicity.css", "/", "/inbox"):
                assert (await client.get(base + path)).status_code == 404, path
    # Then the worker's endpoint tells them, with its own counters beside
    assert value(samples, "fedicity_queue_pending", queue="inbox") == 2
    assert value(samples, "fedicity_queue_due", queue="inbox") == 2
    assert value(samples, "fedicity_queue_lag_seconds", queue="inbox") >= 90
    assert value(samples, "fedicity_queue_pending", queue="delivery") == 0
    assert ("fedicity_deliveries_total", (("result", "delivered"),)) in samples


async def test_a_token_is_required_when_set(pool: Pool, tmp_path: Path, keygen: FixedKeys) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, metrics_token=TOKEN) as instance,
        httpx.AsyncClient() as client,
    ):
        url = instance.base + "/metrics"
        missing = await client.get(url)
        wrong = await client.get(url, headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
        basic = await client.get(url, headers={"Authorization": "Basic " + TOKEN})
        right = await client.get(url, headers={"Authorization": "Bearer " + TOKEN})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "fedicity_" not in refused.text
    assert right.status_code == 200
    assert "fedicity_http_requests_total" in right.text


async def test_without_a_token_a_proxied_loopback_request_is_refused(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with running_instance(pool, tmp_path, keygen, worker=False) as instance:
        # A scraper on this machine reads it
        await scrape(instance.base)
        async with httpx.AsyncClient() as client:
            url = instance.base + "/metrics"
            # but not a visitor relayed by a proxy on this machine, whatever address it claims
            for header in (
                {"X-Forwarded-For": "127.0.0.1"},
                {"X-Real-IP": "127.0.0.1"},
                {"Forwarded": "for=127.0.0.1"},
                {"Via": "1.1 nginx"},
            ):
                relayed = await client.get(url, headers=header)
                assert relayed.status_code == 403, header
                assert "fedicity_" not in relayed.text
    # and when the proxy itself is on loopback (FEDICITY_TRUSTED_PROXIES), a token is needed
    async with (
        running_instance(
            pool,
            tmp_path,
            keygen,
            worker=False,
            trusted_proxies=(ip_network("127.0.0.0/8"),),
        ) as proxied,
        httpx.AsyncClient() as client,
    ):
        assert (await client.get(proxied.base + "/metrics")).status_code == 403


async def test_a_peer_elsewhere_is_refused(client: TestClientProtocol) -> None:
    response = await client.get("/metrics", scope_base={"client": ("203.0.113.7", 40000)})
    assert response.status_code == 403
    assert (await response.get_json())["reason"] == "metrics_denied"


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("127.0.0.1", (), None),
        ("127.8.9.10", (), None),
        ("::1", (), None),
        ("::ffff:127.0.0.1", (), None),
        ("10.0.0.2", (), 403),
        ("::ffff:192.0.2.1", (), 403),
        ("", (), 403),
        (None, (), 403),
        ("not an address", (), 403),
        ("127.0.0.1", ("X-Forwarded-Proto",), 403),
        ("127.0.0.1", ("x-forwarded-host",), 403),
    ],
)
def test_who_may_read_without_a_token(
    peer: str | None, headers: tuple[str, ...], expected: int | None
) -> None:
    assert (
        metrics_refusal(
            token="", authorization=None, peer=peer, header_names=headers, trusted_proxies=()
        )
        == expected
    )


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, 401),
        ("", 401),
        ("Bearer", 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Bearer {TOKEN[:-1]}", 401),
        (f"bearer {TOKEN}", None),
        (f"Bearer {TOKEN}", None),
        ("Bearer \u00e9\u0000" + TOKEN, 401),
    ],
)
def test_a_token_holder_may_read_from_anywhere(
    authorization: str | None, expected: int | None
) -> None:
    assert (
        metrics_refusal(
            token=TOKEN,
            authorization=authorization,
            peer="203.0.113.7",
            header_names=("X-Forwarded-For",),
            trusted_proxies=(),
        )
        == expected
    )
