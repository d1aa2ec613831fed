"""Every list a citizen reads is paged by keyset: following "next" links shows each item once, in
order, however long the list; a cursor that was not taken from a page is a 400, never a 500."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from quart.typing import TestClientProtocol

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follow_service
from fedicity.organizations import queries as organization_queries
from fedicity.organizations import service as organizations
from fedicity.posts import service as post_service
from tests.conftest import FixedKeys
from tests.web.test_social_feedback import URLS, citizen, log_in, page, write

_NEXT = re.compile(r'<a rel="next" href="([^"]+)"')
MARKED = re.compile(r"\bitem-(\d{3})\b")


async def walk(client: TestClientProtocol, start: str) -> list[list[str]]:
    """The marked items of each page, following rel=next links from `start` to the end."""
    pages: list[list[str]] = []
    path: str | None = start
    while path is not None:
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        body = await response.get_data(as_text=True)
        pages.append(MARKED.findall(body))
        found = _NEXT.search(body)
        # A browser keeps the #fragment to itself.
        path = html_lib.unescape(found.group(1)).split("#")[0] if found else None
        assert len(pages) < 20, "the pages never end"
    return pages


def flat(pages: list[list[str]]) -> list[str]:
    """Items of all pages in order, each post counted once even when a page shows it twice."""
    seen: list[str] = []
    for items in pages:
        for item in items:
            if not seen or seen[-1] != item:
                seen.append(item)
    return seen


async def test_feed_profile_and_tag_show_every_post_once_a_page_at_a_time(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given 45 tagged posts by Camille, followed by Dominique, two of them shared by Camille
    # later (a boost sits in the feed at the moment it was made)
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    dominique = await citizen(pool, keygen, "dominique", "Dominique Petit")
    async with pool.acquire() as conn:
        await follow_service.follow(
            conn, actor=dominique, target=URLS.actor("camille"), urls=URLS, clock=clock
        )
        asked = await follow_queries.select_follow(
            conn, URLS.actor("dominique"), URLS.actor("camille")
        )
        assert asked is not None
        await follow_queries.accept_follow(conn, asked.id, clock.now())
    posts = []
    for number in range(45):
        clock.advance(timedelta(minutes=1))
        posts.append(await write(pool, clock, camille, f"item-{number:03d} #marche"))
    clock.advance(timedelta(minutes=1))
    async with pool.acquire() as conn:
        await post_service.interact(
            conn, actor=camille, post=posts[3], kind="announce", urls=URLS, clock=clock
        )
    newest_first = [f"{n:03d}" for n in reversed(range(45))]
    # When Dominique reads her feed to the end
    await log_in(client, "dominique")
    pages = await walk(client, "/home")
    # Then it takes two pages, the boost first, then every post once, newest first
    assert [len(p) for p in pages] == [40, 6]
    assert flat(pages) == ["003", *newest_first]
    # And Camille's profile and the hashtag page page the same way, without the boost
    for start, sizes in (("/@camille", [20, 20, 5]), ("/tags/marche", [40, 5])):
        pages = await walk(client, start)
        assert [len(p) for p in pages] == sizes, start
        assert flat(pages) == newest_first, start


async def test_a_thread_with_many_replies_shows_them_all(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given a post with 105 replies
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    root = await write(pool, clock, camille, "Question du jour")
    for number in range(105):
        clock.advance(timedelta(seconds=1))
        await write(pool, clock, camille, f"item-{number:03d}", in_reply_to=root)
    # When a visitor reads the thread to the end
    pages = await walk(client, root.uri)
    # Then all replies are there, oldest first, on two pages
    assert [len(p) for p in pages] == [100, 5]
    assert flat(pages) == [f"{n:03d}" for n in range(105)]


@pytest.mark.parametrize(
    "path",
    [
        "/home?before=abc",
        "/home?before=99999999999999999999_1",
        "/home?before=1.5_",
        "/home?before=%00",
        "/home?before=-99999999999_1",
        "/@camille?before=-1",
        "/@camille?before=1e9",
        "/tags/marche?before=%F0%9F%98%80",
    ],
)
async def test_a_cursor_not_taken_from_a_page_is_a_400(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, path: str
) -> None:
    # Given a logged-in citizen
    await citizen(pool, keygen, "camille", "Camille Martin")
    await log_in(client, "camille")
    # When she asks for a page with a cursor no page gave
    response = await client.get(path)
    # Then she is told it is a bad request, not a server error
    assert response.status_code == 400, path


async def test_follow_requests_are_named_and_paged(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given 55 remote accounts asking to follow Camille
    await citizen(pool, keygen, "camille", "Camille Martin")
    async with pool.acquire() as conn:
        for number in range(55):
            await follow_queries.upsert_follow(
                conn,
                follower=f"https://social.invalid/users/item-{number:03d}",
                followee=URLS.actor("camille"),
                activity_uri=None,
                accepted=False,
                now=clock.now(),
            )
    # When she reads her follow requests to the end
    await log_in(client, "camille")
    pages = await walk(client, "/follow-requests")
    # Then every asker is there once, oldest first, 50 on the first page
    assert [len(dict.fromkeys(p)) for p in pages] == [50, 5]
    assert flat(pages) == [f"{n:03d}" for n in range(55)]
    # named by handle, not by id
    first = await page(client, "/follow-requests")
    assert "@item-000@social.invalid" in first


async def test_an_organisations_members_are_paged_admins_first(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given an association created by Camille, with 105 more members, one of them a moderator
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    async with pool.acquire() as conn:
        organization = await organizations.create(
            conn,
            creator=camille,
            username="velo",
            organization_kind="association",
            display_name="Vélo Montreuil",
            keygen=keygen,
            env=organizations.Env(urls=URLS, clock=clock),
        )
        for number in range(105):
            await organization_queries.upsert_membership(
                conn,
                organization_id=organization.id,
                member_uri=f"https://social.invalid/users/item-{number:03d}",
                state="accepted",
                role="moderator" if number == 104 else "member",
                activity_uri=None,
                invited_by=None,
                now=clock.now(),
            )
    # When a visitor reads the members to the end
    pages = await walk(client, "/organizations/velo")
    # Then the admin comes first, then the moderator, then everyone once in order of arrival
    assert [len(dict.fromkeys(page)) for page in pages] == [99, 6]
    members = flat([list(dict.fromkeys(page)) for page in pages])
    assert members == ["104", *(f"{n:03d}" for n in range(104))]
