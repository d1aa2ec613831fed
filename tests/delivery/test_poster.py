"""The delivery client's address policy, against a real server on 127.0.0.1: the resolver checks
every address and the connection goes to the address checked; names are looked up once per
TTL; blocked addresses, literal or resolved, are never connected to."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fedicity.activitypub.fetch import IPAddress
from fedicity.activitypub.fetch.poster import SNIPPET, new_delivery_client
from fedicity.activitypub.retry import parse_retry_after
from tests.peer import running_peer

LOOPBACK = ipaddress.ip_address("127.0.0.1")
PUBLIC = ipaddress.ip_address("93.184.216.34")


class Names:
    """A resolver that maps every name to fixed addresses and records what it was asked."""

    def __init__(self, *addresses: IPAddress) -> None:
        self.addresses = list(addresses)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return self.addresses


async def test_a_name_goes_to_the_checked_address_looked_up_once_per_ttl() -> None:
    async with running_peer() as peer:
        # Given a virtual name that our resolver maps to the peer's loopback address
        names = Names(LOOPBACK)
        url = f"http://inbox.example:{peer.port}/inbox"
        async with new_delivery_client(allow_private_addresses=True, resolve=names) as client:
            # When two activities are POSTed to it
            first = await client.post(url, b"{}", {"Content-Type": "text/plain"}, timeout=5)
            second = await client.post(url, b"{}", {"Content-Type": "text/plain"}, timeout=5)

        # Then both reach the server, addressed to the name
        assert (first.refused, second.refused) == (False, False)
        assert first.status == second.status
        assert first.status is not None
        assert [seen.host for seen in peer.requests] == [f"inbox.example:{peer.port}"] * 2
        # And the name was resolved once, though the server closed the first connection (the
        # DNS cache keeps checked answers)
        assert peer.connections == 2
        assert names.asked == [("inbox.example", peer.port)]


async def test_a_name_with_any_blocked_address_is_refused_without_connecting() -> None:
    async with running_peer() as peer:
        # Given a name answering a public address and the peer's loopback address
        names = Names(PUBLIC, LOOPBACK)
        async with new_delivery_client(resolve=names) as client:
            # When an activity is POSTed to it under the strict address policy
            posted = await client.post(
                f"http://rebind.example:{peer.port}/inbox", b"{}", {}, timeout=5
            )

        # Then it is refused (final), and nothing reached the server
        assert posted.refused
        assert posted.status is None
        assert "127.0.0.1" in posted.detail
        assert peer.connections == 0


async def test_blocked_literals_and_other_schemes_are_refused_before_any_lookup() -> None:
    async with running_peer() as peer:
        names = Names(PUBLIC)
        async with new_delivery_client(resolve=names) as client:
            # When activities are POSTed to a loopback literal, an IPv6 one, and a non-http URL
            answers = [
                await client.post(url, b"{}", {}, timeout=5)
                for url in (
                    f"http://127.0.0.1:{peer.port}/inbox",
                    f"http://[::ffff:127.0.0.1]:{peer.port}/inbox",
                    "ftp://files.example/inbox",
                )
            ]

        # Then each is refused for good, nothing was resolved, nothing connected
        assert [(answer.refused, answer.status) for answer in answers] == [(True, None)] * 3
        assert names.asked == []
        assert peer.connections == 0


async def test_a_name_that_does_not_resolve_is_a_retryable_failure() -> None:
    async def nowhere(host: str, port: int) -> list[IPAddress]:
        return []

    async with new_delivery_client(resolve=nowhere) as client:
        posted = await client.post("http://gone.example/inbox", b"{}", {}, timeout=5)

    # Not refused: a name that comes back later is tried again on the usual curve
    assert (posted.refused, posted.status) == (False, None)
    assert "gone.example" in posted.detail


async def test_the_path_is_sent_as_written_so_the_signature_covers_it() -> None:
    async with running_peer() as peer:
        names = Names(LOOPBACK)
        path = "/users/a%7Eb/inbox"
        async with new_delivery_client(allow_private_addresses=True, resolve=names) as client:
            await client.post(f"http://inbox.example:{peer.port}{path}", b"{}", {}, timeout=5)

        # The (request-target) signed is the URL's path: it must reach the server unchanged
        assert peer.paths == [path]


async def test_numeric_ipv4_forms_are_refused_for_good_without_connecting() -> None:
    async with running_peer() as peer:
        names = Names(PUBLIC)
        async with new_delivery_client(resolve=names) as client:
            # When activities are POSTed to loopback and the unspecified address written as
            # getaddrinfo reads them too: decimal, octal, shortened, and 0.0.0.0
            hosts = ("2130706433", "0177.0.0.1", "127.1", "0", "0.0.0.0", "[::]")  # noqa: S104
            answers = [
                await client.post(f"http://{host}:{peer.port}/inbox", b"{}", {}, timeout=5)
                for host in hosts
            ]

        # Then each is refused (final, not retried on the curve), and nothing connected
        assert [(answer.refused, answer.status) for answer in answers] == [(True, None)] * len(
            hosts
        ), [answer.detail for answer in answers]
        assert peer.connections == 0


async def test_userinfo_does_not_hide_the_host_connected_to() -> None:
    async with running_peer() as peer:
        # Given a resolver that maps every name to the peer's loopback address
        names = Names(LOOPBACK)
        async with new_delivery_client(resolve=names) as client:
            # When an inbox URL puts a harmless-looking name or address in its userinfo
            answers = [
                await client.post(url, b"{}", {}, timeout=5)
                for url in (
                    f"http://93.184.216.34@127.0.0.1:{peer.port}/inbox",
                    f"http://user:secret@inbox.example:{peer.port}/inbox",
                )
            ]

        # Then the host judged is the one connected to: both are refused, nothing connected
        assert [(answer.refused, answer.status) for answer in answers] == [(True, None)] * 2
        assert names.asked == [("inbox.example", peer.port)]
        assert peer.connections == 0


class RawServer:
    """An HTTP server on 127.0.0.1 that answers every request with `answer`."""

    def __init__(self, answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> None:
        self.answer = answer
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            await self.answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def test_a_redirect_is_answered_not_followed() -> None:
    async def redirect(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    async with (
        RawServer(redirect) as server,
        new_delivery_client(allow_private_addresses=True, resolve=Names(LOOPBACK)) as client,
    ):
        posted = await client.post(
            f"http://inbox.example:{server.port}/inbox", b"{}", {}, timeout=5
        )

    # The 307 is the answer (retried on the curve like any 3xx), and no second request was made
    assert (posted.status, posted.refused) == (307, False)
    assert server.requests == 1


async def test_an_endless_body_is_read_no_further_than_the_snippet() -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
        for _ in range(100_000):  # bounded: the client hangs up long before
            writer.write(b"x" * 65536)
            await writer.drain()

    async with (
        RawServer(endless) as server,
        new_delivery_client(allow_private_addresses=True, resolve=Names(LOOPBACK)) as client,
    ):
        posted = await asyncio.wait_for(
            client.post(f"http://inbox.example:{server.port}/inbox", b"{}", {}, timeout=5),
            timeout=10,
        )

    assert posted.status == 200
    assert set(posted.detail) == {"x"}
    assert len(posted.detail) <= SNIPPET


async def test_a_server_trickling_its_answer_is_cut_off_by_the_timeout() -> None:
    async def trickle(writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    async with (
        RawServer(trickle) as server,
        new_delivery_client(allow_private_addresses=True, resolve=Names(LOOPBACK)) as client,
    ):
        posted = await asyncio.wait_for(
            client.post(f"http://inbox.example:{server.port}/inbox", b"{}", {}, timeout=1),
            timeout=5,
        )

    # A timeout is retried later, not refused
    assert (posted.status, posted.refused, posted.detail) == (None, False, "timed out")


async def test_an_absurd_retry_after_is_passed_on_and_capped_by_the_retry_policy() -> None:
    async def busy(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: " + b"9" * 5000 + b"\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        await writer.drain()

    async with (
        RawServer(busy) as server,
        new_delivery_client(allow_private_addresses=True, resolve=Names(LOOPBACK)) as client,
    ):
        posted = await client.post(
            f"http://inbox.example:{server.port}/inbox", b"{}", {}, timeout=5
        )

    assert posted.status == 429
    now = datetime.now(UTC)
    assert parse_retry_after(posted.retry_after, now) == timedelta(days=1)
