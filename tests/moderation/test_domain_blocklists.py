"""Subscribed block lists, served by a real HTTP server on 127.0.0.1: applied with their source,
never over an admin's own policy, entries that leave the list lifted, failures changing nothing,
and the federation policy holding for the list's own host and every redirect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest

from fedicity.audit import queries as audit_queries
from fedicity.audit.models import cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.moderation import blocklists, domains
from fedicity.moderation import queries as moderation_queries
from fedicity.settings import Settings
from fedicity.web.app import create_app
from fedicity.workers.federation import Federation, start_federation
from tests.conftest import FixedKeys
from tests.web.test_accounts_web import _csrf, _log_in, _register

HEADER = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"


@dataclass
class ListServer:
    """An HTTP server on 127.0.0.1 answering each path with a status, a type and a body."""

    answers: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """An address on this server."""
        return f"http://{host}:{self.port}{path}"

    def serve(self, path: str, text: str, *, status: int = 200, kind: str = "text/csv") -> None:
        """Answer GET `path` with `text`."""
        self.answers[path] = (status, kind, text.encode())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.decode("latin-1").split(" ", 2)[1]
        self.paths.append(path)
        if path in self.redirects:
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {self.redirects[path]}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
        else:
            status, kind, body = self.answers.get(path, (404, "text/plain", b"not found"))
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
        await writer.drain()
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[ListServer]:
    """A list server, started."""
    running = ListServer()
    listening = await asyncio.start_server(running._handle, "127.0.0.1", 0)
    running.port = listening.sockets[0].getsockname()[1]
    try:
        yield running
    finally:
        listening.close()
        await listening.wait_closed()


@pytest.fixture
async def federation(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[Federation]:
    """The instance's fetcher, allowed to reach loopback servers."""
    started = await start_federation(
        pool, replace(settings, allow_private_addresses=True), clock=clock, keygen=keygen
    )
    try:
        yield started
    finally:
        await started.close()


async def _policies(pool: Pool) -> dict[str, tuple[str, bool]]:
    """domain -> (action, came from a list)."""
    async with pool.acquire() as conn:
        found = await moderation_queries.select_domain_policies(conn, limit=100)
    return {p.domain: (p.action, p.blocklist_id is not None) for p in found}


async def test_a_subscribed_list_is_applied_kept_up_to_date_and_never_over_an_admins_policy(
    pool: Pool, federation: Federation, server: ListServer, clock: FrozenClock
) -> None:
    # Given a published list, and a domain the admin silenced by hand that the list suspends
    server.serve(
        "/blocklist.csv",
        HEADER + "spam.example,suspend,false,false,spam,false\n"
        "hand.example,suspend,false,false,,false\nbots.example,silence,true,false,,false\n",
    )
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("hand.example", "silence"),
            reason="mine",
            now=clock.now(),
        )
        subscribed = await blocklists.subscribe(
            conn, cli_actor(), server.url("/blocklist.csv"), now=clock.now()
        )
    # When it is synced
    result = await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    # Then its entries are policies marked with their source, the admin's own one untouched
    assert (result.added, result.kept_manual, result.error) == (2, 1, "")
    assert await _policies(pool) == {
        "spam.example": ("suspend", True),
        "bots.example": ("silence", True),
        "hand.example": ("silence", False),
    }
    # When the list drops a domain and changes another
    server.serve("/blocklist.csv", HEADER + "bots.example,suspend,true,false,worse now,false\n")
    result = await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    # Then the dropped one is lifted, the changed one follows, the admin's stays
    assert (result.added, result.changed, result.lifted) == (0, 1, 1)
    assert await _policies(pool) == {
        "bots.example": ("suspend", True),
        "hand.example": ("silence", False),
    }
    # And an admin who sets a policy on a listed domain takes it over from the list
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("bots.example", "silence"),
            reason="",
            now=clock.now(),
        )
    await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    assert (await _policies(pool))["bots.example"] == ("silence", False)
    # And unsubscribing lifts what the list still holds (nothing now), all of it audited
    async with pool.acquire() as conn:
        assert await blocklists.unsubscribe(conn, cli_actor(), subscribed.id, now=clock.now())
        actions = [e.action for e in reversed(await audit_queries.select_page(conn, limit=20))]
    assert actions == [
        "domain.silence",
        "blocklist.subscribe",
        "blocklist.sync",
        "blocklist.sync",
        "domain.silence",
        "blocklist.unsubscribe",
    ]
    assert server.paths == ["/blocklist.csv"] * 3


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ((404, "text/csv", "gone"), "http_error"),
        ((200, "text/html", "<html>"), "bad_content_type"),
        ((200, "text/csv", "not a domain!,suspend\nneither?,silence\n"), "no valid line"),
        ((200, "text/csv", "x" * (blocklists.MAX_LIST_BYTES + 10)), "too_large"),
    ],
)
async def test_a_list_that_cannot_be_read_changes_nothing(
    pool: Pool,
    federation: Federation,
    server: ListServer,
    clock: FrozenClock,
    answer: tuple[int, str, str],
    why: str,
) -> None:
    # Given a list that was applied once
    server.serve("/list.csv", HEADER + "spam.example,suspend,false,false,,false\n")
    async with pool.acquire() as conn:
        subscribed = await blocklists.subscribe(
            conn, cli_actor(), server.url("/list.csv"), now=clock.now()
        )
    await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    # When its server answers something unreadable
    status, kind, text = answer
    server.serve("/list.csv", text, status=status, kind=kind)
    result = await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    # Then nothing is lifted, and the admins see why
    assert why in result.error
    assert await _policies(pool) == {"spam.example": ("suspend", True)}
    async with pool.acquire() as conn:
        [listed] = await moderation_queries.select_blocklists(conn)
    assert why in listed.last_error


async def test_the_worker_syncs_lists_when_they_fall_due(
    pool: Pool, federation: Federation, server: ListServer, clock: FrozenClock
) -> None:
    server.serve("/list.csv", HEADER + "spam.example,suspend,false,false,,false\n")
    async with pool.acquire() as conn:
        await blocklists.subscribe(conn, cli_actor(), server.url("/list.csv"), now=clock.now())
    period = timedelta(hours=6)
    # A new list is due at once, then not before its period has passed
    assert await blocklists.sync_due(pool, federation.fetcher, now=clock.now(), period=period) == 1
    assert await blocklists.sync_due(pool, federation.fetcher, now=clock.now(), period=period) == 0
    later = clock.now() + period + timedelta(minutes=1)
    assert await blocklists.sync_due(pool, federation.fetcher, now=later, period=period) == 1
    assert server.paths == ["/list.csv", "/list.csv"]
    assert await _policies(pool) == {"spam.example": ("suspend", True)}


async def test_the_federation_policy_holds_for_the_list_and_its_redirects(
    pool: Pool,
    settings: Settings,
    federation: Federation,
    server: ListServer,
    clock: FrozenClock,
    keygen: FixedKeys,
) -> None:
    # Given a list on 127.0.0.1 that redirects to "localhost", a suspended name
    server.serve("/real.csv", HEADER + "spam.example,suspend,false,false,,false\n")
    server.redirects["/moved.csv"] = server.url("/real.csv", host="localhost")
    async with pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("localhost", "suspend"),
            reason="",
            now=clock.now(),
        )
        moved = await blocklists.subscribe(
            conn, cli_actor(), server.url("/moved.csv"), now=clock.now()
        )
    # When it is synced, the redirect is not followed to the suspended name
    result = await blocklists.sync(pool, federation.fetcher, moved, now=clock.now())
    assert "refused_by_policy" in result.error
    assert server.paths == ["/moved.csv"]
    # And in allowlist mode a list on a host that is not allowed is never fetched
    strict = await start_federation(
        pool,
        replace(settings, allow_private_addresses=True, federation_allowlist=True),
        clock=clock,
        keygen=keygen,
    )
    try:
        result = await blocklists.sync(pool, strict.fetcher, moved, now=clock.now())
    finally:
        await strict.close()
    assert "allowlist" in result.error
    assert server.paths == ["/moved.csv"]
    assert "spam.example" not in await _policies(pool)


async def test_a_subscription_must_be_a_web_address(pool: Pool, clock: FrozenClock) -> None:
    async with pool.acquire() as conn:
        for url in ("javascript:alert(1)", "file:///etc/passwd", "", "http://" + "a" * 3000):
            with pytest.raises(domains.PolicyError) as refused:
                await blocklists.subscribe(conn, cli_actor(), url, now=clock.now())
            assert refused.value.code == "blocklist_url_invalid"
        await blocklists.subscribe(
            conn, cli_actor(), "https://lists.example/b.csv", now=clock.now()
        )
        with pytest.raises(domains.PolicyError) as twice:
            await blocklists.subscribe(
                conn, cli_actor(), "https://lists.example/b.csv", now=clock.now()
            )
    assert twice.value.code == "blocklist_exists"


async def test_an_admin_subscribes_syncs_and_unsubscribes_from_the_page(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys, server: ListServer
) -> None:
    server.serve("/list.csv", HEADER + "spam.example,suspend,false,false,spam,false\n")
    app = create_app(
        replace(settings, allow_private_addresses=True), pool=pool, clock=clock, keygen=keygen
    )
    async with app.test_app():
        await _register(pool, keygen, "root_admin", is_admin=True)
        client = app.test_client()
        await _log_in(client, "root_admin")
        token = await _csrf(client, "/admin/domains")
        # A hostile address is refused by its field, what was typed kept
        refused = await client.post(
            "/admin/domains/blocklists", form={"csrf_token": token, "url": "javascript:alert(1)"}
        )
        assert refused.status_code == 400
        page = await refused.get_data(as_text=True)
        assert 'id="url-error"' in page
        assert 'value="javascript:alert(1)"' in page
        # Subscribing fetches the list at once
        response = await client.post(
            "/admin/domains/blocklists", form={"csrf_token": token, "url": server.url("/list.csv")}
        )
        assert "notice=subscribed" in response.headers["Location"]
        assert await _policies(pool) == {"spam.example": ("suspend", True)}
        listed = await (await client.get("/admin/domains")).get_data(as_text=True)
        assert server.url("/list.csv") in listed
        # "Fetch now" fetches it again; unsubscribing lifts its entries
        server.serve("/list.csv", HEADER)
        await client.post("/admin/domains/sync", form={"csrf_token": token})
        assert await _policies(pool) == {}
        async with pool.acquire() as conn:
            [subscribed] = await moderation_queries.select_blocklists(conn)
        await client.post(
            f"/admin/domains/blocklists/{subscribed.id}/delete", form={"csrf_token": token}
        )
        missing = await client.post(
            f"/admin/domains/blocklists/{subscribed.id}/delete", form={"csrf_token": token}
        )
        assert missing.status_code == 404
    async with pool.acquire() as conn:
        assert await moderation_queries.select_blocklists(conn) == []
        entries = await audit_queries.select_page(conn, limit=10)
    assert [(e.actor_name, e.action) for e in reversed(entries)] == [
        ("root_admin", "blocklist.subscribe"),
        ("root_admin", "blocklist.sync"),
        ("root_admin", "blocklist.sync"),
        ("root_admin", "blocklist.unsubscribe"),
    ]


async def test_the_policies_are_listed_a_page_at_a_time(
    pool: Pool, settings: Settings, clock: FrozenClock, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        for number in range(55):
            await moderation_queries.upsert_domain_policy(
                conn, f"d{number:02d}.example", "silence", ""
            )
    app = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with app.test_app():
        await _register(pool, keygen, "root_admin", is_admin=True)
        client = app.test_client()
        await _log_in(client, "root_admin")
        first = await (await client.get("/admin/domains")).get_data(as_text=True)
        assert "d49.example" in first
        assert "d50.example" not in first
        second = await (await client.get("/admin/domains?after=d49.example")).get_data(as_text=True)
        assert "d50.example" in second
        assert "d54.example" in second
        assert "d49.example" not in second


async def test_a_lists_suspensions_end_follows_in_one_pass(
    pool: Pool, federation: Federation, server: ListServer, clock: FrozenClock
) -> None:
    # Given follows with people on 25 domains a list is about to suspend, and one elsewhere
    listed = [f"d{number}.example" for number in range(25)]
    async with pool.acquire() as conn:
        for domain in [*listed, "friend.example"]:
            await follow_queries.upsert_follow(
                conn,
                follower=f"https://{domain}/users/x",
                followee="http://fedicity.test/actors/camille",
                activity_uri=f"https://{domain}/follows/1",
                accepted=True,
                now=clock.now(),
            )
        subscribed = await blocklists.subscribe(
            conn, cli_actor(), server.url("/big.csv"), now=clock.now()
        )
    server.serve("/big.csv", HEADER + "".join(f"{d},suspend,false,false,,false\n" for d in listed))
    # When the list is applied
    result = await blocklists.sync(pool, federation.fetcher, subscribed, now=clock.now())
    # Then every suspended domain's follow ended, the friend's stays, and the log counts them
    assert result.added == 25
    async with pool.acquire() as conn:
        followers = await conn.fetch("SELECT follower FROM follows")
        [entry] = [
            e
            for e in await audit_queries.select_page(conn, limit=5)
            if e.action == "blocklist.sync"
        ]
    assert [row["follower"] for row in followers] == ["https://friend.example/users/x"]
    assert entry.details["follows_ended"] == 25
