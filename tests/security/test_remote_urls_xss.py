"""Stored XSS through URLs from other servers.

A hostile peer (a real HTTP server on 127.0.0.1) serves an actor whose `url` and `icon` are
scripts, and delivers signed activities to a running instance: a Note and an Event (with a postal
code in the served commune, so it is listed without anyone asking for it) whose every URL is a
`javascript:` or `data:` URL, in the spellings browsers still run (mixed case, a tab inside the
scheme, a leading space or control character). A local citizen follows the peer and mentions it.
Every page that lists these things must link to none of those URLs, what is stored must be None
or an http(s) URL, and rows written before the fix (with such URLs in them) must not turn into
links either.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.proposals.models import ProposalData
from fedicity.proposals.parse import from_ap
from fedicity.sanitize import MAX_URL_LENGTH, safe_url
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, running_instance
from tests.inbox_helpers import signed_headers
from tests.peer import Peer
from tests.territory_helpers import import_slice

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
PUBLIC = AS_CONTEXT + "#Public"
KEY = fixed_keypairs()[3]
PASSWORD = "long enough password"
TAG = "xssdemo"
EVENT_TITLE = "Atelier vélo piégé"
NOTE_TEXT = "Bonjour Montreuil"

# What the hostile peer puts wherever a URL goes.
ACTOR_URL = "JaVaScRiPt:alert(document.domain)"
ACTOR_ICON = "java\tscript:alert('icon')"
ACTOR_IMAGE = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
NOTE_URL = " javascript:alert('note')"
NOTE_LINK = "&#106;avascript:alert('content')"
EVENT_URL = "data:text/html,<script>alert('event')</script>"
EXTERNAL_URL = "\x01javascript:alert('register')"
ONLINE_URL = "JAVASCRIPT:alert('online')"
EVENT_IMAGE = "javascript:alert('image')"

# What browsers drop before reading a URL's scheme: C0 controls, space, DEL..NBSP.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f-\xa0]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_LINK_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "srcset", "poster", "data", "background", "cite"}
)


class _LinkCollector(HTMLParser):
    """Every URL-bearing attribute of a page, decoded as a browser decodes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in _LINK_ATTRIBUTES and value is not None:
                self.found.append((tag, name, value))

    handle_startendtag = handle_starttag


def dangerous_links(page: str) -> list[tuple[str, str, str]]:
    """The href/src/action... values of `page` whose scheme is anything but http, https, mailto."""
    collector = _LinkCollector()
    collector.feed(page)
    collector.close()
    bad = []
    for tag, name, value in collector.found:
        # The parser decoded the entities once, as a browser does; decode again so that even a
        # doubly encoded scheme counts, then drop what browsers ignore inside a scheme.
        normalized = _IGNORED_IN_SCHEME.sub("", html.unescape(value)).lower()
        scheme = _SCHEME.match(normalized)
        if scheme is not None and scheme.group(1) not in ("http", "https", "mailto"):
            bad.append((tag, name, value))
    return bad


def _check_the_checker() -> None:
    """The page check is only worth something if it catches what browsers run."""
    for value in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#9;script:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;avascript:alert(1)",
        " &#1;javascript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
    ):
        assert dangerous_links(f'<a href="{value}">x</a><img src="{value}">'), value
    assert not dangerous_links('<a href="https://a.example/x">x</a><a href="/events">y</a>')


@pytest.mark.parametrize(
    "value",
    [
        "https://mobilizon.example/events/1",
        "HTTP://Mastodon.Example/@alice",
        "http://127.0.0.1:8080/users/a?x=1#main-key",
        "https://[2001:db8::1]/notes/1",
        "https://gancio.example/événement/fête-de-la-musique",
        "https://a.example/" + "a" * (MAX_URL_LENGTH - len("https://a.example/")),
    ],
)
def test_safe_url_keeps_web_addresses_as_they_are(value: str) -> None:
    assert safe_url(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        42,
        ["https://a.example/"],
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        " https://a.example/",
        "\x01javascript:alert(1)",
        "https://a.example/\n",
        "https://a.example/\u202ecod.exe",
        "https://a.example/\u200b",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "mailto:a@a.example",
        "ftp://a.example/",
        "//a.example/x",
        "/relative",
        "https:a.example",
        "https:///path",
        "https://",
        "https:\\\\a.example\\x",
        "https://good.example@evil.example/",
        "https://a.example:99999/",
        'https://a.example/"onmouseover="alert(1)',
        "https://a.example/<script>",
        "https://a.example/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_safe_url_refuses_everything_else(value: object) -> None:
    assert safe_url(value) is None


def test_a_remote_question_keeps_no_script() -> None:
    # A Question is stored as a proposal: its official answer is HTML shown as is, its links are
    # listed, its id is linked from territory pages.
    author = "https://agora.example/users/mairie"
    question = {
        "id": "https://agora.example/questions/1",
        "type": "Question",
        "name": "Un parc ?",
        "oneOf": [{"type": "Note", "name": "Oui"}, {"type": "Note", "name": "Non"}],
        "officialAnswer": '<p>Adopté <img src=x onerror="alert(1)"><script>alert(2)</script></p>',
        "attachment": [
            {"type": "Link", "href": "JaVaScRiPt:alert(3)", "name": "Le plan"},
            {"type": "Link", "href": "https://agora.example/plan.pdf", "name": "Le vrai plan"},
        ],
    }
    data = from_ap(question, author=author, now=datetime.now(UTC))
    assert isinstance(data, ProposalData)
    assert data.official_answer == "<p>Adopté </p>"
    assert [a.href for a in data.attachments] == ["https://agora.example/plan.pdf"]
    hostile_id = {**question, "id": "javascript://agora.example/%0Aalert(4)"}
    assert from_ap(hostile_id, author=author, now=datetime.now(UTC)) == (
        "the object's id is not an http(s) URL"
    )


@dataclass
class HostilePeer(Peer):
    """A fediverse server on 127.0.0.1 that serves one actor whose every link is a script, and
    keeps what it is sent."""

    @property
    def actor(self) -> str:
        """The id of its one actor."""
        return self.url("/users/mallory")

    def actor_document(self) -> dict[str, Any]:
        """An actor whose every link is a script."""
        return {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": "mallory",
            "name": "Mallory",
            "url": ACTOR_URL,
            "icon": {"type": "Image", "url": ACTOR_ICON},
            "image": {"type": "Image", "url": ACTOR_IMAGE},
            "inbox": self.actor + "/inbox",
            "outbox": self.actor + "/outbox",
            "followers": self.actor + "/followers",
            "endpoints": {"sharedInbox": self.url("/inbox")},
            "publicKey": {
                "id": self.actor + "#main-key",
                "owner": self.actor,
                "publicKeyPem": KEY.public_pem,
            },
        }

    async def start(self) -> None:
        """Listen on an ephemeral port, serving the actor."""
        await super().start()
        self.serve("/users/mallory", self.actor_document())

    async def deliver(self, instance: Instance, activity: dict[str, Any]) -> None:
        """POST a signed activity to the instance's shared inbox, as Mastodon does."""
        inbox = instance.urls.shared_inbox
        body = json.dumps(activity).encode()
        headers = signed_headers(inbox, body, self.actor + "#main-key", KEY, datetime.now(UTC))
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(inbox, content=body, headers=headers)
        assert response.status_code == 202, response.text


@dataclass
class World:
    """The instance, the peer, and a browser session of camille, who follows the peer."""

    instance: Instance
    peer: HostilePeer
    browser: httpx.AsyncClient
    note_uri: str
    event_uri: str

    async def page(self, path: str) -> str:
        """A page as camille's browser gets it."""
        response = await self.browser.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text

    async def csrf(self, path: str) -> str:
        """The CSRF token of the forms on a page."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', await self.page(path))
        assert found is not None, path
        return found.group(1)


async def _processed(pool: Pool, activity_id: str) -> bool:
    async with pool.acquire() as conn:
        state = await conn.fetchval(
            "SELECT state FROM inbox_items WHERE activity_uri = $1", activity_id
        )
    return state in ("done", "ignored")


@asynccontextmanager
async def hostile_world(pool: Pool, tmp_path: Path, keygen: FixedKeys) -> AsyncIterator[World]:
    """Camille on a Montreuil instance follows mallory, whose Note and Event have arrived."""
    await import_slice(pool, tmp_path)
    peer = HostilePeer()
    await peer.start()
    try:
        async with (
            running_instance(
                pool,
                tmp_path / "instance",
                keygen,
                territory_level="commune",
                territory_code="93048",
            ) as instance,
            httpx.AsyncClient(base_url=instance.base, timeout=20) as browser,
        ):
            async with pool.acquire() as conn:
                await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
            world = World(instance, peer, browser, "", "")
            # Camille logs in and follows mallory by the URL of her actor.
            token = await world.csrf("/login")
            response = await browser.post(
                "/login", data={"csrf_token": token, "login": "camille", "password": PASSWORD}
            )
            assert response.status_code == 303, response.text
            token = await world.csrf("/home")
            response = await browser.post(
                "/follow", data={"csrf_token": token, "handle": peer.actor}
            )
            assert response.status_code == 303
            assert "error" not in response.headers["location"], response.headers["location"]

            async def follow_arrived() -> bool:
                return any(item.get("type") == "Follow" for item in peer.received_json())

            await eventually(follow_arrived, within=20)
            follow = next(item for item in peer.received_json() if item.get("type") == "Follow")
            camille = instance.urls.actor("camille")
            accept = {
                "@context": AS_CONTEXT,
                "id": peer.url("/accepts/1"),
                "type": "Accept",
                "actor": peer.actor,
                "object": follow,
            }
            await peer.deliver(instance, accept)

            async def accepted() -> bool:
                async with pool.acquire() as conn:
                    found = await follow_queries.select_follow(conn, camille, peer.actor)
                return found is not None and found.state == "accepted"

            await eventually(accepted, within=20)

            # Mallory posts a Note and announces an Event in Montreuil (postal code 93100).
            note_uri = peer.url("/notes/1")
            create_note: dict[str, Any] = {
                "@context": AS_CONTEXT,
                "id": note_uri + "/activity",
                "type": "Create",
                "actor": peer.actor,
                "to": [PUBLIC],
                "cc": [peer.actor + "/followers"],
                "object": {
                    "id": note_uri,
                    "type": "Note",
                    "attributedTo": peer.actor,
                    "to": [PUBLIC],
                    "cc": [peer.actor + "/followers"],
                    "content": (
                        f'<p>{NOTE_TEXT} <a href="{NOTE_LINK}">lien</a> '
                        f'<a href="{peer.url("/tags/" + TAG)}" class="mention hashtag" '
                        f'rel="tag">#{TAG}</a></p>'
                    ),
                    "url": NOTE_URL,
                    "published": datetime.now(UTC).isoformat(),
                    "tag": [{"type": "Hashtag", "name": "#" + TAG, "href": NOTE_URL}],
                    "attachment": [
                        {"type": "Document", "mediaType": "image/png", "url": EVENT_IMAGE}
                    ],
                },
            }
            event_uri = peer.url("/events/1")
            starts = datetime.now(UTC) + timedelta(days=7)
            create_event: dict[str, Any] = {
                "@context": AS_CONTEXT,
                "id": event_uri + "/activity",
                "type": "Create",
                "actor": peer.actor,
                "to": [PUBLIC],
                "object": {
                    "id": event_uri,
                    "type": "Event",
                    "attributedTo": peer.actor,
                    "to": [PUBLIC],
                    "name": EVENT_TITLE,
                    "content": "<p>Venez nombreux</p>",
                    "startTime": starts.isoformat(),
                    "endTime": (starts + timedelta(hours=2)).isoformat(),
                    "url": EVENT_URL,
                    "joinMode": "external",
                    "externalParticipationUrl": EXTERNAL_URL,
                    "location": [
                        {
                            "type": "Place",
                            "name": "Salle des fêtes",
                            "address": {
                                "type": "PostalAddress",
                                "postalCode": "93100",
                                "addressLocality": "Montreuil",
                            },
                        },
                        {"type": "VirtualLocation", "url": ONLINE_URL},
                    ],
                    "image": {"type": "Image", "url": EVENT_IMAGE},
                    "icon": {"type": "Image", "url": ACTOR_IMAGE},
                    "attachment": [
                        {"type": "Link", "href": ONLINE_URL, "mediaType": "text/html"},
                        {"type": "Document", "mediaType": "image/jpeg", "url": ACTOR_IMAGE},
                    ],
                },
            }
            # And a Note whose id is a script on her host (the host check alone lets it pass).
            create_hostile_id = {
                **create_note,
                "id": peer.url("/notes/2/activity"),
                "object": {
                    **create_note["object"],
                    "id": f"javascript://{peer.host}/%0Aalert('id')",
                    "url": None,
                },
            }
            await peer.deliver(instance, create_note)
            await peer.deliver(instance, create_event)
            await peer.deliver(instance, create_hostile_id)
            for activity in (create_note, create_event, create_hostile_id):
                await eventually(lambda a=activity: _processed(pool, a["id"]), within=20)
            async with pool.acquire() as conn:
                # Refusing the URLs must not lose the activities: both are kept, without them.
                assert await conn.fetchval("SELECT count(*) FROM posts WHERE uri = $1", note_uri)
                assert await conn.fetchval("SELECT count(*) FROM events WHERE uri = $1", event_uri)
            world.note_uri, world.event_uri = note_uri, event_uri
            yield world
    finally:
        await peer.stop()


async def _mention_mallory(world: World) -> str:
    """Camille writes a public post mentioning mallory by handle; its id."""
    token = await world.csrf("/home")
    response = await world.browser.post(
        "/notes",
        data={
            "csrf_token": token,
            "text": f"@mallory@{world.peer.host} on se voit à l'atelier #{TAG}",
            "visibility": "public",
            "territory": "93048",
        },
    )
    assert response.status_code == 303
    assert "error" not in response.headers["location"], response.headers["location"]
    async with world.instance.pool.acquire() as conn:
        uri: str = await conn.fetchval(
            "SELECT uri FROM posts WHERE local_actor_id IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
    return uri


async def _pages(world: World, extra: tuple[str, ...] = ()) -> dict[str, str]:
    paths = ("/events", f"/tags/{TAG}", "/territoires/commune/93048", "/home", "/@camille")
    return {path: await world.page(path) for path in (*paths, *extra)}


def _assert_no_script_links(pages: dict[str, str]) -> None:
    for path, page in pages.items():
        assert dangerous_links(page) == [], path


def _is_web_url(value: str | None) -> bool:
    return value is None or re.fullmatch(r"https?://[^\s\x00-\x1f]+", value) is not None


async def test_remote_urls_are_stored_only_when_http(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with hostile_world(pool, tmp_path, keygen) as world:
        # Then nothing of what mallory sent as a URL was kept, but the rest was
        async with pool.acquire() as conn:
            actor = await conn.fetchrow(
                "SELECT url, icon_url FROM remote_actors WHERE uri = $1", world.peer.actor
            )
            note = await conn.fetchrow("SELECT url FROM posts WHERE uri = $1", world.note_uri)
            event = await conn.fetchrow(
                """SELECT url, external_url, online_url, image_url, title, postal_code
                     FROM events WHERE uri = $1""",
                world.event_uri,
            )
            located = await conn.fetch("SELECT object_uri, url FROM located_items")
        assert actor is not None
        assert note is not None
        assert event is not None
        for value in (
            actor["url"],
            actor["icon_url"],
            note["url"],
            event["url"],
            event["external_url"],
            event["online_url"],
            event["image_url"],
            *(row["url"] for row in located),
        ):
            assert _is_web_url(value), value
        assert event["title"] == EVENT_TITLE
        async with pool.acquire() as conn:
            uris = [row["uri"] for row in await conn.fetch("SELECT uri FROM posts")]
        assert uris == [world.note_uri]
        assert event["postal_code"] == "93100"
        assert world.event_uri in {row["object_uri"] for row in located}


async def test_pages_listing_remote_things_link_to_no_script(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with hostile_world(pool, tmp_path, keygen) as world:
        _check_the_checker()
        # When anyone looks at the pages that list mallory's Note and Event
        pages = await _pages(world)
        # Then they are listed...
        assert EVENT_TITLE in pages["/events"]
        assert EVENT_TITLE in pages["/territoires/commune/93048"]
        assert NOTE_TEXT in pages[f"/tags/{TAG}"]
        assert NOTE_TEXT in pages["/home"]
        # ...and no href, src or form action on any of them runs a script
        _assert_no_script_links(pages)


async def test_a_mention_of_a_hostile_actor_writes_no_script_link(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with hostile_world(pool, tmp_path, keygen) as world:
        # When camille mentions mallory, whose profile url is a script
        uri = await _mention_mallory(world)
        # Then the stored and federated HTML of her post links to mallory's actor instead
        async with pool.acquire() as conn:
            content = await conn.fetchval("SELECT content_html FROM posts WHERE uri = $1", uri)
        assert dangerous_links(content) == []
        assert f'href="{world.peer.actor}"' in content
        # And no page showing her post links to a script
        path = uri.removeprefix(world.instance.base)
        _assert_no_script_links(await _pages(world, (path,)))


async def test_rows_stored_before_the_fix_render_no_script_link(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with hostile_world(pool, tmp_path, keygen) as world:
        uri = await _mention_mallory(world)
        # Given rows written by an older version, with scripts wherever a URL goes
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE remote_actors SET url = $1, icon_url = $2 WHERE uri = $3",
                ACTOR_URL,
                ACTOR_ICON,
                world.peer.actor,
            )
            await conn.execute("UPDATE posts SET url = $1 WHERE uri = $2", NOTE_URL, world.note_uri)
            await conn.execute(
                """UPDATE events SET url = $1, external_url = $2, online_url = $3, image_url = $4
                    WHERE uri = $5""",
                EVENT_URL,
                EXTERNAL_URL,
                ONLINE_URL,
                EVENT_IMAGE,
                world.event_uri,
            )
            await conn.execute("UPDATE located_items SET url = $1", EVENT_URL)
            # What the old compose wrote for a mention of mallory.
            await conn.execute(
                "UPDATE posts SET content_html = $1 WHERE uri = $2",
                '<p><span class="h-card"><a href="JaVaScRiPt:alert(document.domain)" '
                'class="u-url mention">@<span>mallory</span></a></span> '
                "<a href=' javascript:alert(1)'>x</a> <a href=java&#9;script:alert(2)>y</a></p>",
                uri,
            )
        # When the pages are shown
        path = uri.removeprefix(world.instance.base)
        pages = await _pages(world, (path,))
        # Then the things are still listed, but none is a link to a script
        assert EVENT_TITLE in pages["/events"]
        assert EVENT_TITLE in pages["/territoires/commune/93048"]
        assert NOTE_TEXT in pages["/home"]
        assert "mallory" in pages[path]
        _assert_no_script_links(pages)


@pytest.mark.parametrize("path", ["/events", "/territoires/commune/93048"])
async def test_an_old_event_row_with_a_script_url_is_not_a_link(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, path: str
) -> None:
    async with hostile_world(pool, tmp_path, keygen) as world:
        # Given an event row from before the fix, its url a script and its id unusable as a link
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE events SET url = $1, uri = $2 WHERE uri = $3",
                EVENT_URL,
                "javascript:alert('id')//",
                world.event_uri,
            )
            await conn.execute(
                "UPDATE located_items SET url = $1, object_uri = $2 WHERE object_uri = $3",
                EVENT_URL,
                "javascript:alert('id')//",
                world.event_uri,
            )
        # When the list is shown, the title is there as text, not as a link
        page = await world.page(path)
        assert EVENT_TITLE in page
        assert re.search(r"<a [^>]*>\s*" + re.escape(html.escape(EVENT_TITLE)), page) is None
        assert dangerous_links(page) == []


async def _logged_in(instance: Instance, client: httpx.AsyncClient, keygen: FixedKeys) -> None:
    async with instance.pool.acquire() as conn:
        await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
    page = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = await client.post(
        "/login", data={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    assert response.status_code == 303, response.text


# Local forms: (field, address, the start of the form's error). Mailto, credentials and bidi
# controls are no scripts, but an address people are sent to is a plain web address or nothing.
LOCAL_ADDRESSES = (
    ("online_url", "mailto:mairie@montreuil.example", "The online address must"),
    ("online_url", "JaVaScRiPt:alert(1)", "The online address must"),
    ("online_url", "https://user:secret@visio.example/room", "The online address must"),
    ("external_url", "data:text/html,<script>alert(1)</script>", "External registration"),
    ("external_url", "//inscriptions.example/atelier", "External registration"),
    ("image_url", "java\tscript:alert(1)", "The image must be a web address"),
    ("image_url", "https://images.example/\u202egnp.exe", "The image must be a web address"),
)


async def test_the_event_form_refuses_addresses_that_are_not_http(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        httpx.AsyncClient(
            base_url=instance.base, timeout=20, headers={"Accept-Language": "en"}
        ) as client,
    ):
        await _logged_in(instance, client, keygen)
        for field, value, message in LOCAL_ADDRESSES:
            form_page = (await client.get("/events/new")).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form_page)
            assert token is not None
            fields = {
                "csrf_token": token.group(1),
                "title": "Atelier vélo",
                "starts_at": (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
                "timezone": "Europe/Paris",
                "place_name": "Salle des fêtes",
                "join_mode": "external" if field == "external_url" else "free",
                field: value,
            }
            # When camille organises an event with that address
            response = await client.post("/events", data=fields)
            # Then the form comes back saying what is wrong, and nothing is stored
            assert response.status_code == 200, (field, value, response.status_code)
            assert message in response.text, (field, value)
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM events") == 0, (field, value)


async def test_the_proposal_form_refuses_links_that_are_not_http(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        httpx.AsyncClient(
            base_url=instance.base, timeout=20, headers={"Accept-Language": "en"}
        ) as client,
    ):
        await _logged_in(instance, client, keygen)
        for links in ("javascript:alert(1) Le plan", "https://a.example/\u202eplan Le plan"):
            page = (await client.get("/proposals/new")).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            response = await client.post(
                "/proposals",
                data={
                    "csrf_token": token.group(1),
                    "title": "Un parc",
                    "text": "Planter des arbres",
                    "links": links,
                },
                follow_redirects=True,
            )
            assert "A link is an http or https address" in response.text, links
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM proposals") == 0
