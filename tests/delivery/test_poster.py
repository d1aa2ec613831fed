"""The delivery client's address policy, against a real server on 127.0.0.1: the resolver checks
every address and the connection goes to the address checked; names are looked up once per
TTL; blocked addresses, literal or resolved, are never connected to."""

from __future__ import annotations

import ipaddress

from fedicity.activitypub.fetch import IPAddress
from fedicity.activitypub.fetch.poster import new_delivery_client
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
