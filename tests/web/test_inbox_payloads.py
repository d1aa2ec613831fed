"""Every recorded real-server activity in tests/fixtures/inbound is accepted (202), processed
without a failure, signed by its own actor's key, and does what it says.

Each payload has a scenario below: what must be here first (a local account it names, a post it
likes, a follow it answers), the payload delivered, then what it stored, changed or removed, read
back through the domain queries, or, when it is ignored on purpose, the reason recorded. Where the
recording names its receiving server (Pleroma's `localtesting.pleroma.lol`, GoToSocial's
`fossbros-anonymous.io`...), the scenario puts one of our IRIs in its place and says so; the rest
of the payload is delivered byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.activitypub.accessors import get_id
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.parse import parse_remote_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import participation
from fedicity.events import queries as event_queries
from fedicity.events import service as event_service
from fedicity.events.models import Event, Location
from fedicity.events.parse import event_from_ap
from fedicity.follows import queries as follow_queries
from fedicity.moderation import queries as moderation_queries
from fedicity.posts import queries as post_queries
from fedicity.posts import service as post_service
from fedicity.posts.models import Post
from fedicity.posts.parse import post_from_ap
from fedicity.proposals import drafts, lifecycle
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals import service as proposal_service
from fedicity.proposals.models import Proposal
from fedicity.sanitize import html_to_text
from fedicity.settings import Settings
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from tests.conftest import FIXTURES, FixedKeys, fixed_keypairs
from tests.inbox_helpers import actor_document, post_signed, seed_remote_actor
from tests.peer import Peer

INBOUND = FIXTURES / "inbound"
URLS = Urls("http://fedicity.test")
KEY = fixed_keypairs()[0]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test instance, allowed to fetch from a peer on 127.0.0.1 (the Move's new account).
    No other scenario makes the worker fetch anything: what a payload refers to is seeded."""
    return dataclasses.replace(settings, allow_private_addresses=True)


def _activities() -> list[Path]:
    found = []
    for path in sorted(INBOUND.glob("*.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and get_id(document.get("actor")) is not None:
            found.append(path)
    return found


class Processed(NamedTuple):
    """What the worker recorded for the payload: its state and the reason (or detail)."""

    state: str
    detail: str | None


Deliver = Callable[..., Awaitable[Processed]]


@dataclass
class World:
    """This instance's database and clock, and the things scenarios set up in it."""

    pool: Pool
    clock: FrozenClock
    keygen: FixedKeys

    def uri(self, username: str) -> str:
        """A local actor's id."""
        return URLS.actor(username)

    async def person(self, username: str) -> Actor:
        """A citizen of this instance."""
        async with self.pool.acquire() as conn:
            return await actor_service.create_person(conn, username, keygen=self.keygen)

    async def organization(self, username: str) -> Actor:
        """An organisation of this instance (a Group actor)."""
        async with self.pool.acquire() as conn:
            return await actor_service.create_organization(
                conn, username, organization_kind="association", keygen=self.keygen
            )

    async def remote_actor(self, uri: str, **document: Any) -> RemoteActor:
        """A remote actor known here, its document overridden by `document`."""
        merged = {**actor_document(uri, fixed_keypairs()[1]), **document}
        async with self.pool.acquire() as conn:
            return await actor_queries.upsert_remote_actor(
                conn, parse_remote_actor(merged, self.clock.now())
            )

    async def follow(
        self, follower: str, followee: str, *, accepted: bool = True, activity: str | None = None
    ) -> None:
        """`follower` follows `followee` (or asked to)."""
        async with self.pool.acquire() as conn:
            await follow_queries.upsert_follow(
                conn,
                follower=follower,
                followee=followee,
                activity_uri=activity,
                accepted=accepted,
                now=self.clock.now(),
            )

    async def follow_between(self, follower: str, followee: str) -> follow_queries.Follow | None:
        """The follow between two actors, if any."""
        async with self.pool.acquire() as conn:
            return await follow_queries.select_follow(conn, follower, followee)

    async def remote_post(self, document: Mapping[str, Any]) -> Post:
        """A remote post stored as if a follower here had received it."""
        author = get_id(document.get("attributedTo"))
        assert author is not None
        data = post_from_ap(
            document, author=author, followers_uri=author + "/followers", now=self.clock.now()
        )
        assert not isinstance(data, str), data
        async with self.pool.acquire() as conn:
            return await post_queries.upsert_post(conn, data)

    async def note(self, uri: str, author: str, text: str = "a note", **fields: Any) -> Post:
        """A public remote Note stored here."""
        document = {"id": uri, "type": "Note", "attributedTo": author, "content": text}
        return await self.remote_post({"to": [PUBLIC], **document, **fields})

    async def local_post(self, actor: Actor, text: str) -> Post:
        """A public post written here."""
        async with self.pool.acquire() as conn:
            return await post_service.create_note(
                conn,
                actor=actor,
                text=text,
                visibility="public",
                urls=URLS,
                clock=self.clock,
                local_host="fedicity.test",
                resolved={},
            )

    async def post(self, uri: str, *, include_deleted: bool = False) -> Post | None:
        """The stored post with this id."""
        async with self.pool.acquire() as conn:
            return await post_queries.select_post(conn, uri, include_deleted=include_deleted)

    async def stored_post(self, uri: str) -> Post:
        """The stored post with this id, which must exist."""
        found = await self.post(uri)
        assert found is not None, f"no post {uri}"
        return found

    async def mentions(self, post: Post) -> list[str]:
        """Whom a stored post mentions (no domain query reads post_mentions back)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT actor_uri FROM post_mentions WHERE post_id = $1 ORDER BY actor_uri",
                post.id,
            )
        return [row["actor_uri"] for row in rows]

    async def tags(self, post: Post) -> list[str]:
        """A stored post's hashtags (no domain query reads post_tags back by post)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT tag FROM post_tags WHERE post_id = $1 ORDER BY tag", post.id
            )
        return [row["tag"] for row in rows]

    async def tagged(self, tag: str) -> list[str]:
        """Ids of the public posts under a hashtag."""
        async with self.pool.acquire() as conn:
            return [p.uri for p in await post_queries.select_tag_posts(conn, tag, limit=10)]

    async def feed(self, username: str) -> list[tuple[str, str | None]]:
        """A local actor's home feed as (post id, booster) pairs."""
        async with self.pool.acquire() as conn:
            entries = await post_queries.select_home_feed(conn, self.uri(username), limit=20)
        return [(entry.post.uri, entry.boosted_by) for entry in entries]

    async def interactions(self, object_uri: str, kind: str) -> int:
        """How many likes or boosts an object has."""
        async with self.pool.acquire() as conn:
            return await post_queries.count_interactions(conn, object_uri, kind)

    async def interaction(self, activity: str, kind: str, actor: str, object_uri: str) -> None:
        """A like or boost already recorded here."""
        async with self.pool.acquire() as conn:
            assert await post_queries.insert_interaction(
                conn,
                activity_uri=activity,
                kind=kind,
                actor_uri=actor,
                object_uri=object_uri,
                when=self.clock.now(),
            )

    async def reports(self) -> list[moderation_queries.Report]:
        """The open reports."""
        async with self.pool.acquire() as conn:
            return await moderation_queries.select_open_reports(conn, limit=10)

    async def blocks(self) -> list[tuple[str, str]]:
        """(blocker, blocked) pairs (no domain query lists blocks)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT blocker, blocked FROM blocks ORDER BY id")
        return [(row["blocker"], row["blocked"]) for row in rows]

    async def moves(self) -> list[tuple[str, str, bool]]:
        """(origin, target, verified) of the Moves received (no domain query lists them)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT origin, target, verified FROM moves ORDER BY id")
        return [(row["origin"], row["target"], row["verified"]) for row in rows]

    async def remote(self, uri: str) -> RemoteActor:
        """A remote actor as stored here, deleted ones included."""
        async with self.pool.acquire() as conn:
            found = await actor_queries.select_remote_actor(conn, uri)
        assert found is not None
        return found

    async def sent(self, activity_type: str) -> list[tuple[dict[str, Any], str]]:
        """Activities of a type queued for delivery, with the inbox each goes to."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT o.raw, d.inbox FROM outbox_activities o
                     JOIN deliveries d ON d.activity_id = o.id
                    WHERE o.type = $1 ORDER BY d.id""",
                activity_type,
            )
        return [(row["raw"], row["inbox"]) for row in rows]

    async def event(self, uri: str) -> Event:
        """The stored event with this id, which must exist."""
        async with self.pool.acquire() as conn:
            found = await event_queries.select_event(conn, uri)
        assert found is not None, f"no event {uri}"
        return found

    async def local_event(self, organiser: Actor) -> Event:
        """An open event organised here."""
        async with self.pool.acquire() as conn:
            return await event_service.create_event(
                conn,
                actor=organiser,
                data=event_service.EventInput(
                    title="Fête de quartier",
                    starts_at=datetime(2026, 3, 14, 9, tzinfo=UTC),
                    location=Location(place_name="Place Jean-Jaurès", locality="Montreuil"),
                ),
                place=None,
                root=None,
                urls=URLS,
                clock=self.clock,
                keygen=self.keygen,
            )

    async def participation(self, event: Event, actor_uri: str) -> str | None:
        """An actor's participation state in an event."""
        async with self.pool.acquire() as conn:
            found = await event_queries.select_participation(conn, event.id, actor_uri)
        return None if found is None else found.state

    async def open_vote(self, author: Actor, options: list[str], *, multiple: bool) -> Proposal:
        """A proposal of `author`'s, open for a week of voting on `options`."""
        env = proposal_service.Env(urls=URLS, clock=self.clock, keygen=self.keygen)
        async with self.pool.acquire() as conn:
            draft = await drafts.create_draft(
                conn,
                actor=author,
                title="Le marché du dimanche",
                text="Où le tenir ?",
                env=env,
                options=options,
                multiple=multiple,
            )
            return await lifecycle.open_voting(
                conn,
                actor=author,
                proposal=draft,
                ends=self.clock.now() + timedelta(days=7),
                env=env,
            )

    async def ballot(self, proposal: Proposal, voter: str) -> tuple[str, ...] | None:
        """The options a voter chose on a proposal."""
        async with self.pool.acquire() as conn:
            vote = await proposal_queries.select_vote(conn, proposal.id, voter)
        return None if vote is None else vote.options


Scenario = Callable[[World, Deliver], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}
# Payloads fedicity should act on and does not yet: the scenario states the expected outcome
# and fails today (strict xfail, so fixing the handler makes it pass and turns the mark red).
KNOWN_GAPS: dict[str, str] = {}


def scenario(*stems: str) -> Callable[[Scenario], Scenario]:
    """Register what must be true before and after the named payloads."""

    def register(function: Scenario) -> Scenario:
        for stem in stems:
            assert stem not in SCENARIOS, stem
            SCENARIOS[stem] = function
        return function

    return register


def text_of(post: Post) -> str:
    """A stored post's text, as a reader sees it."""
    return html_to_text(post.content_html)


def fixture_object(stem: str) -> dict[str, Any]:
    """The object of a recorded activity (or the recorded object itself)."""
    document: dict[str, Any] = json.loads((INBOUND / f"{stem}.json").read_text())
    embedded = document.get("object")
    return embedded if isinstance(embedded, dict) else document


# --- the receiving server of the recordings, and people in them ---------------------------------

PLEROMA_LAIN = "http://localtesting.pleroma.lol/users/lain"
MASTODON_ADMIN = "http://mastodon.example.org/users/admin"
TCIT = "https://social.tcit.fr/users/tcit"
LEMMY_ALPHA = "http://ds9.lemmy.ml/u/lemmy_alpha"
LEMMY_BETA = "http://enterprise.lemmy.ml/u/lemmy_beta"
LEMMY_MAIN = "http://enterprise.lemmy.ml/c/main"
LEMMY_POST = "http://ds9.lemmy.ml/post/1"
LEMMY_COMMENT = "http://ds9.lemmy.ml/comment/1"
GTS = "http://localhost:8080/users/"
ZORK = GTS + "the_mighty_zork"


# --- follows -----------------------------------------------------------------------------------


@scenario("mastodon_follow_1")
async def _follow_of_a_citizen(w: World, deliver: Deliver) -> None:
    # Given Lain here (the recording follows her on a Pleroma test server)
    await w.person("lain")
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then tcit follows her, accepted at once, and the Accept is on its way to tcit's server
    assert processed == ("done", "accepted")
    follow = await w.follow_between(TCIT, w.uri("lain"))
    assert follow is not None
    assert (follow.state, follow.activity_uri) == ("accepted", TCIT + "#follows/2")
    [(accept, inbox)] = await w.sent("Accept")
    assert accept["actor"] == w.uri("lain")
    assert get_id(accept["object"]) == TCIT + "#follows/2"
    assert inbox == "https://social.tcit.fr/inbox"


@scenario("lemmy_follow_group_1")
async def _follow_of_an_organisation(w: World, deliver: Deliver) -> None:
    # Given an organisation here in place of the Lemmy community the recording follows
    await w.organization("main")
    processed = await deliver({LEMMY_MAIN: w.uri("main")})
    # Then Lemmy's user follows it
    assert processed == ("done", "accepted")
    follow = await w.follow_between(LEMMY_ALPHA, w.uri("main"))
    assert follow is not None
    assert follow.state == "accepted"
    assert follow.activity_uri == (
        "http://ds9.lemmy.ml/activities/follow/6abcd50b-b8ca-4952-86b0-a6dd8cc12866"
    )


@scenario("mastodon_accept_follow_1")
async def _accept_of_our_follow(w: World, deliver: Deliver) -> None:
    # Given Lain's follow request to the Mastodon admin, waiting
    await w.person("lain")
    ours = w.uri("lain") + "#follows/4"
    await w.follow(w.uri("lain"), MASTODON_ADMIN, accepted=False, activity=ours)
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then it is accepted
    assert processed == ("done", None)
    follow = await w.follow_between(w.uri("lain"), MASTODON_ADMIN)
    assert follow is not None
    assert follow.state == "accepted"


@scenario("lemmy_accept_follow_1")
async def _accept_by_a_community(w: World, deliver: Deliver) -> None:
    # Given Lain's follow request to a Lemmy community, sent with an activity id of ours
    await w.person("lain")
    recorded_follow = "http://ds9.lemmy.ml/activities/follow/6abcd50b-b8ca-4952-86b0-a6dd8cc12866"
    ours = URLS.activity("6abcd50b-b8ca-4952-86b0-a6dd8cc12866")
    await w.follow(w.uri("lain"), LEMMY_MAIN, accepted=False, activity=ours)
    processed = await deliver({LEMMY_ALPHA: w.uri("lain"), recorded_follow: ours})
    # Then the community accepted it
    assert processed == ("done", None)
    follow = await w.follow_between(w.uri("lain"), LEMMY_MAIN)
    assert follow is not None
    assert follow.state == "accepted"


@scenario("mastodon_reject_follow_1")
async def _reject_of_our_follow(w: World, deliver: Deliver) -> None:
    # Given Lain's follow request to the Mastodon admin, waiting
    await w.person("lain")
    ours = w.uri("lain") + "#follows/4"
    await w.follow(w.uri("lain"), MASTODON_ADMIN, accepted=False, activity=ours)
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then there is no follow any more
    assert processed == ("done", None)
    assert await w.follow_between(w.uri("lain"), MASTODON_ADMIN) is None


@scenario("mastodon_undo_follow_1")
async def _unfollow_of_a_citizen(w: World, deliver: Deliver) -> None:
    # Given tcit following Lain
    await w.person("lain")
    await w.follow(TCIT, w.uri("lain"), activity=TCIT + "#follows/2")
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then he does not any more
    assert processed == ("done", None)
    assert await w.follow_between(TCIT, w.uri("lain")) is None


@scenario("lemmy_undo_follow_1")
async def _unfollow_of_an_organisation(w: World, deliver: Deliver) -> None:
    # Given Lemmy's user following an organisation here (the recording's community)
    await w.organization("main")
    await w.follow(LEMMY_ALPHA, w.uri("main"))
    processed = await deliver({LEMMY_MAIN: w.uri("main")})
    # Then the follow is gone
    assert processed == ("done", None)
    assert await w.follow_between(LEMMY_ALPHA, w.uri("main")) is None


@scenario("gotosocial_accept_announce_interaction_1", "gotosocial_accept_like_interaction_1")
async def _interaction_approval_is_no_follow_accept(w: World, deliver: Deliver) -> None:
    # Given Lain's follow request to zork, waiting
    await w.person("lain")
    await w.follow(w.uri("lain"), ZORK, accepted=False, activity=URLS.activity("f1"))
    processed = await deliver()
    # Then GoToSocial's approval of a boost or like (by its id) accepts no follow: ignored
    assert processed == ("ignored", "no follow of ours matches this Accept")
    follow = await w.follow_between(w.uri("lain"), ZORK)
    assert follow is not None
    assert follow.state == "pending"


# --- posts -------------------------------------------------------------------------------------


@scenario("mastodon_create_note_1")
async def _note_mentioning_a_citizen(w: World, deliver: Deliver) -> None:
    # Given Lain here, the one the note mentions (on a Pleroma test server in the recording)
    await w.person("lain")
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then the note is stored with its author, audience, content warning and mention
    assert processed == ("done", None)
    post = await w.stored_post(MASTODON_ADMIN + "/statuses/99512778738411822")
    assert post.author_uri == MASTODON_ADMIN
    assert "@lain" in text_of(post)
    assert (post.visibility, post.summary, post.sensitive) == ("public", "cw", True)
    assert post.published == datetime(2018, 2, 12, 14, 8, 20, tzinfo=UTC)
    assert post.url == "http://mastodon.example.org/@admin/99512778738411822"
    assert await w.mentions(post) == [w.uri("lain")]
    assert await w.tags(post) == []
    # And Lain finds it in her home feed
    assert (post.uri, None) in await w.feed("lain")


@scenario("mastodon_create_note_contentmap_1")
async def _note_with_only_a_content_map(w: World, deliver: Deliver) -> None:
    # Given Lain here following the Mastodon admin
    await w.person("lain")
    await w.follow(w.uri("lain"), MASTODON_ADMIN)
    processed = await deliver()
    # Then the note's text is read from its contentMap, with the map's language
    assert processed == ("done", None)
    post = await w.stored_post(MASTODON_ADMIN + "/statuses/99512778738411822")
    assert "@lain" in text_of(post)
    assert post.language == "en"
    assert (post.visibility, post.summary) == ("public", "cw")
    assert await w.mentions(post) == [PLEROMA_LAIN]
    assert (post.uri, None) in await w.feed("lain")


@scenario("mastodon_create_note_hashtag_1")
async def _note_with_a_hashtag(w: World, deliver: Deliver) -> None:
    # Given Lain here following the Mastodon admin
    await w.person("lain")
    await w.follow(w.uri("lain"), MASTODON_ADMIN)
    processed = await deliver()
    # Then the note is stored under its hashtag, with its mention
    assert processed == ("done", None)
    post = await w.stored_post(MASTODON_ADMIN + "/statuses/99512778738411822")
    assert "#moo" in text_of(post)
    assert await w.tags(post) == ["moo"]
    assert await w.tagged("moo") == [post.uri]
    assert await w.mentions(post) == [PLEROMA_LAIN]


@scenario("mastodon_create_note_nsfw_hashtag_1")
async def _note_with_a_warning_and_nsfw_tag(w: World, deliver: Deliver) -> None:
    # Given Lain here following the Mastodon admin
    await w.person("lain")
    await w.follow(w.uri("lain"), MASTODON_ADMIN)
    processed = await deliver()
    # Then the tag is kept in lower case (#NSFW, /tags/nsfw), found whatever the case asked,
    # and the content warning is its summary (no "sensitive" key: not marked sensitive)
    assert processed == ("done", None)
    post = await w.stored_post(MASTODON_ADMIN + "/statuses/99512778738411822")
    assert await w.tags(post) == ["nsfw"]
    assert await w.tagged("NSFW") == [post.uri]
    assert (post.summary, post.sensitive) == ("cw", False)


@scenario("mastodon_create_note_attachment_1")
async def _note_with_an_image(w: World, deliver: Deliver) -> None:
    # Given Lain here following the Mastodon admin
    await w.person("lain")
    await w.follow(w.uri("lain"), MASTODON_ADMIN)
    processed = await deliver()
    # Then the note is stored with its link and, in its document, its image attachment
    assert processed == ("done", None)
    post = await w.stored_post(MASTODON_ADMIN + "/statuses/99541822081679796")
    assert "mastodon.example.org/media/hw4" in text_of(post)
    assert (post.visibility, post.summary, post.sensitive) == ("public", None, False)
    assert post.raw is not None
    [image] = post.raw["attachment"]
    assert image["mediaType"] == "image/jpeg"
    assert image["url"] == (
        "http://mastodon.example.org/system/media_attachments/files/000/000/002/original/"
        "334ce029e7bfb920.jpg"
    )


@scenario("mastodon_create_note_direct_1")
async def _direct_message_to_a_citizen(w: World, deliver: Deliver) -> None:
    # Given tcit here (on framapiaf.org in the recording), the only one addressed
    await w.person("tcit")
    processed = await deliver({"https://framapiaf.org/users/tcit": w.uri("tcit")})
    # Then the message is stored as direct, for tcit's eyes only
    assert processed == ("done", None)
    author = "https://framapiaf.org/users/admin"
    post = await w.stored_post(author + "/statuses/19512778738411823")
    assert "here is a private message" in text_of(post)
    assert (post.author_uri, post.visibility) == (author, "direct")
    assert post.to_uris == [w.uri("tcit")]
    assert await w.mentions(post) == [w.uri("tcit")]
    assert (post.uri, None) in await w.feed("tcit")
    async with w.pool.acquire() as conn:
        assert await post_queries.select_author_posts(conn, author, limit=10) == []


@scenario("mastodon_create_note_to_group_1")
async def _note_to_a_lemmy_community(w: World, deliver: Deliver) -> None:
    # Given Lain here following the Mastodon user
    author = "https://masto.qa.urbanwildlife.biz/users/mastodon"
    await w.person("lain")
    await w.follow(w.uri("lain"), author)
    processed = await deliver()
    # Then the post is stored, public, mentioning the community it was written to
    assert processed == ("done", None)
    post = await w.stored_post(author + "/statuses/110435994705014161")
    assert "Test post to community" in text_of(post)
    assert post.visibility == "public"
    assert await w.mentions(post) == ["https://lemmy.qa.urbanwildlife.biz/c/lemmy_community"]
    assert (post.uri, None) in await w.feed("lain")


@scenario("lemmy_create_note_comment_1")
async def _lemmy_comment(w: World, deliver: Deliver) -> None:
    # Given Lain here following Lemmy's user
    await w.person("lain")
    await w.follow(w.uri("lain"), LEMMY_ALPHA)
    processed = await deliver()
    # Then the comment is stored as a public reply to its post
    assert processed == ("done", None)
    post = await w.stored_post(LEMMY_COMMENT)
    assert text_of(post) == "hello"
    assert (post.author_uri, post.in_reply_to, post.visibility) == (
        LEMMY_ALPHA,
        LEMMY_POST,
        "public",
    )
    async with w.pool.acquire() as conn:
        replies = await post_queries.select_replies(conn, LEMMY_POST, limit=10)
    assert [reply.uri for reply in replies] == [LEMMY_COMMENT]


@scenario("lemmy_create_page_1")
async def _lemmy_post(w: World, deliver: Deliver) -> None:
    # Given Lain here following Lemmy's user
    await w.person("lain")
    await w.follow(w.uri("lain"), LEMMY_ALPHA)
    processed = await deliver()
    # Then the post is stored as a Page with its title, body and link
    assert processed == ("done", None)
    post = await w.stored_post(LEMMY_POST)
    assert (post.type, post.name, post.visibility) == ("Page", "test post", "public")
    assert "test body" in text_of(post)
    assert post.raw is not None
    assert post.raw["attachment"] == [
        {"type": "Link", "href": "https://lemmy.ml/pictrs/image/xl8W7FZfk9.jpg"}
    ]


@scenario("lemmy_create_private_message_1")
async def _lemmy_private_message(w: World, deliver: Deliver) -> None:
    # Given Lain here in place of the Lemmy user the message is sent to
    await w.person("lain")
    processed = await deliver({LEMMY_ALPHA: w.uri("lain")})
    # Then it is stored as a direct message to her
    assert processed == ("done", None)
    post = await w.stored_post("http://enterprise.lemmy.ml/private_message/1")
    assert text_of(post) == "hello"
    assert (post.author_uri, post.visibility) == (LEMMY_BETA, "direct")
    assert (post.uri, None) in await w.feed("lain")


@scenario("mastodon_create_question_1")
async def _mastodon_poll(w: World, deliver: Deliver) -> None:
    # Given Lain here following the poll's author
    rin = "https://mastodon.sdf.org/users/rinpatch"
    await w.person("lain")
    await w.follow(w.uri("lain"), rin)
    processed = await deliver()
    # Then the poll is stored as a post, and as a remote proposal with its options, its end
    # and the counts it came with
    assert processed == ("done", None)
    uri = rin + "/statuses/102070944809637304"
    post = await w.stored_post(uri)
    assert post.type == "Question"
    assert "Why is Tenshi eating a corndog so cute?" in text_of(post)
    async with w.pool.acquire() as conn:
        proposal = await proposal_queries.select_proposal(conn, uri)
    assert proposal is not None
    assert not proposal.local
    assert proposal.options == (
        "Dunno",
        "Everyone knows that!",
        "25 char limit is dumb",
        "I can't even fit a funny",
    )
    assert proposal.voting_ends == datetime(2019, 5, 11, 9, 3, 36, tzinfo=UTC)
    assert proposal.remote_tallies == {
        "Dunno": 0,
        "Everyone knows that!": 1,
        "25 char limit is dumb": 0,
        "I can't even fit a funny": 1,
    }


@scenario("mastodon_create_pollvote_1")
async def _mastodon_vote(w: World, deliver: Deliver) -> None:
    # Given Rin's proposal here, open, with the option the recorded vote names (the recording's
    # poll is on testing.uguu.ltd)
    rin = await w.person("rin")
    proposal = await w.open_vote(rin, ["suya..", "not suya"], multiple=False)
    voter = "https://mastodon.sdf.org/users/rinpatch"
    processed = await deliver(
        {
            "https://testing.uguu.ltd/objects/9d300947-2dcb-445d-8978-9a3b4b84fa14": proposal.uri,
            "https://testing.uguu.ltd/users/rin": w.uri("rin"),
        }
    )
    # Then the vote is counted for that option, and nothing is stored as a post
    assert processed == ("done", None)
    assert await w.ballot(proposal, voter) == ("suya..",)
    async with w.pool.acquire() as conn:
        tally = await proposal_queries.tally(conn, proposal.id)
    assert (tally.federated, tally.federated_voters) == ({"suya..": 1}, 1)
    assert await w.post(voter + "#votes/387") is None


def _gotosocial_vote(option: str) -> Scenario:
    async def vote(w: World, deliver: Deliver) -> None:
        # Given a multiple-choice proposal here in place of the recording's poll
        satan = await w.person("foss_satan")
        proposal = await w.open_vote(satan, ["tissues", "financial times", "bread"], multiple=True)
        poll = "http://fossbros-anonymous.io/users/foss_satan/statuses/01HEN2QRFA8H3C6QPN7RD4KSR6"
        processed = await deliver(
            {
                poll: proposal.uri,
                "http://fossbros-anonymous.io/users/foss_satan": w.uri("foss_satan"),
            }
        )
        # Then zork's ballot holds the option this Create carries (GoToSocial sends one each)
        assert processed == ("done", None)
        assert await w.ballot(proposal, ZORK) == (option,)

    return vote


scenario("gotosocial_create_pollvote_1")(_gotosocial_vote("tissues"))
scenario("gotosocial_create_pollvote_2")(_gotosocial_vote("financial times"))


@scenario("mastodon_announce_1")
async def _boost(w: World, deliver: Deliver) -> None:
    # Given Lain following tcit, and tcit's post known by the id his Announce names
    boosted = "https://social.tcit.fr/@tcit/101188891162897047"
    await w.person("lain")
    await w.follow(w.uri("lain"), TCIT)
    await w.note(boosted, TCIT, "un pouet")
    processed = await deliver()
    # Then the boost is counted and shows in Lain's feed as tcit's
    assert processed == ("done", None)
    assert await w.interactions(boosted, "announce") == 1
    assert (boosted, TCIT) in await w.feed("lain")


@scenario("mastodon_announce_private_1")
async def _boost_of_a_private_post_nobody_follows(w: World, deliver: Deliver) -> None:
    processed = await deliver()
    # Then, nobody here following the booster, it is ignored, and the followers-only note it
    # embeds is not taken from it
    assert processed == ("ignored", "nobody here follows the booster and the post is unknown")
    assert await w.post("http://mastodon.example.org/@admin/99541947525187368") is None
    assert (
        await w.interactions("http://mastodon.example.org/@admin/99541947525187368", "announce")
        == 0
    )


@scenario("gotosocial_announce_self_followers_only_1")
async def _self_boost_of_a_followers_only_post(w: World, deliver: Deliver) -> None:
    # Given Lain following zork, and his followers-only post known here
    boosted = ZORK + "/statuses/01FCTA44PW9H1TB328S9AQXKDS"
    await w.person("lain")
    await w.follow(w.uri("lain"), ZORK)
    await w.note(boosted, ZORK, "for my followers", to=[ZORK + "/followers"])
    processed = await deliver()
    # Then the boost is counted, but a followers-only post is never shown as boosted
    assert processed == ("done", None)
    assert await w.interactions(boosted, "announce") == 1
    assert await w.feed("lain") == [(boosted, None)]


@scenario("mastodon_like_1")
async def _like_of_our_post(w: World, deliver: Deliver) -> None:
    # Given Lain's post here (a Pleroma object in the recording)
    lain = await w.person("lain")
    post = await w.local_post(lain, "Bonjour tout le monde")
    recorded = "http://localtesting.pleroma.lol/objects/eb92579d-3417-42a8-8652-2492c2d4f454"
    processed = await deliver({recorded: post.uri})
    # Then the admin's like is counted, and listed among what he liked
    assert processed == ("done", None)
    assert await w.interactions(post.uri, "like") == 1
    async with w.pool.acquire() as conn:
        liked = await post_queries.select_liked_page(conn, MASTODON_ADMIN, limit=10)
    assert [uri for _, uri in liked] == [post.uri]


@scenario("lemmy_like_note_1")
async def _lemmy_upvote(w: World, deliver: Deliver) -> None:
    # Given the Lemmy comment known here
    await w.remote_post(fixture_object("lemmy_create_note_comment_1"))
    processed = await deliver()
    # Then the upvote counts as a like
    assert processed == ("done", None)
    assert await w.interactions(LEMMY_COMMENT, "like") == 1


@scenario("lemmy_dislike_page_1")
async def _lemmy_downvote(w: World, deliver: Deliver) -> None:
    # Given the Lemmy post known here
    await w.remote_post(fixture_object("lemmy_create_page_1"))
    processed = await deliver()
    # Then a downvote, which fedicity has no notion of, is ignored: nothing is counted
    assert processed == ("ignored", "no handler for Dislike")
    assert await w.interactions(LEMMY_POST, "like") == 0


@scenario("mastodon_undo_like_1")
async def _unlike_of_our_post(w: World, deliver: Deliver) -> None:
    # Given the admin's like of Lain's post
    lain = await w.person("lain")
    post = await w.local_post(lain, "Bonjour tout le monde")
    await w.interaction(MASTODON_ADMIN + "#likes/2", "like", MASTODON_ADMIN, post.uri)
    recorded = "http://localtesting.pleroma.lol/objects/eb92579d-3417-42a8-8652-2492c2d4f454"
    processed = await deliver({recorded: post.uri})
    # Then it is gone
    assert processed == ("done", None)
    assert await w.interactions(post.uri, "like") == 0


@scenario("mastodon_undo_like_compact_1")
async def _unlike_by_id_only(w: World, deliver: Deliver) -> None:
    # Given the admin's like of Lain's post, under the id the Undo names
    lain = await w.person("lain")
    post = await w.local_post(lain, "Bonjour tout le monde")
    await w.interaction(MASTODON_ADMIN + "#likes/2", "like", MASTODON_ADMIN, post.uri)
    processed = await deliver()
    # Then it is gone
    assert processed == ("done", None)
    assert await w.interactions(post.uri, "like") == 0


@scenario("lemmy_undo_like_page_1")
async def _lemmy_vote_undone(w: World, deliver: Deliver) -> None:
    # Given Lemmy's beta user's upvote of the Lemmy post
    await w.remote_post(fixture_object("lemmy_create_page_1"))
    like = "http://enterprise.lemmy.ml/activities/like/2227ab2c-79e2-4fca-a1d2-1d67dacf2457"
    await w.interaction(like, "like", LEMMY_BETA, LEMMY_POST)
    processed = await deliver()
    # Then it is gone
    assert processed == ("done", None)
    assert await w.interactions(LEMMY_POST, "like") == 0


@scenario("mastodon_undo_announce_1")
async def _boost_undone(w: World, deliver: Deliver) -> None:
    # Given the admin's boost of his post
    boosted = "http://mastodon.example.org/@admin/99541947525187367"
    await w.note(boosted, MASTODON_ADMIN)
    announce = MASTODON_ADMIN + "/statuses/99542391527669785/activity"
    await w.interaction(announce, "announce", MASTODON_ADMIN, boosted)
    processed = await deliver()
    # Then it is gone
    assert processed == ("done", None)
    assert await w.interactions(boosted, "announce") == 0


# --- deletions ---------------------------------------------------------------------------------


async def _deleted(w: World, uri: str) -> None:
    assert await w.post(uri) is None
    gone = await w.post(uri, include_deleted=True)
    assert gone is not None
    assert (gone.deleted_at, gone.content_html, gone.raw) == (w.clock.now(), "", None)


@scenario("mastodon_delete_note_tombstone_1")
async def _delete_by_tombstone(w: World, deliver: Deliver) -> None:
    # Given gargron's post known here
    uri = "http://mastodon.example.org/users/gargron/statuses/99620895606148759"
    await w.note(uri, "http://mastodon.example.org/users/gargron")
    processed = await deliver()
    # Then it is tombstoned
    assert processed == ("done", None)
    await _deleted(w, uri)


@scenario("gotosocial_delete_note_1")
async def _gotosocial_delete(w: World, deliver: Deliver) -> None:
    # Given GoToSocial's admin's post known here (its recorded Note)
    post = await w.remote_post(fixture_object("gotosocial_note_hashtag_emoji_attachment_1"))
    assert post.uri == GTS + "admin/statuses/01F8MH75CBF9JFX4ZAD54N0W0R"
    processed = await deliver()
    # Then it is tombstoned, though the Delete has no id of its own
    assert processed == ("done", None)
    await _deleted(w, post.uri)
    assert await w.tagged("welcome") == []


@scenario("gotosocial_delete_note_direct_1")
async def _gotosocial_delete_of_a_direct_message(w: World, deliver: Deliver) -> None:
    # Given turtle's direct message to zork known here
    uri = GTS + "1happyturtle/statuses/01FN3VJGFH10KR7S2PB0GFJZYG"
    await w.note(uri, GTS + "1happyturtle", to=[ZORK])
    processed = await deliver()
    # Then it is tombstoned
    assert processed == ("done", None)
    await _deleted(w, uri)


@scenario("lemmy_delete_page_1")
async def _lemmy_delete_by_author(w: World, deliver: Deliver) -> None:
    # Given the Lemmy post known here
    await w.remote_post(fixture_object("lemmy_create_page_1"))
    processed = await deliver()
    # Then its author's Delete tombstones it
    assert processed == ("done", None)
    await _deleted(w, LEMMY_POST)


@scenario("lemmy_delete_note_mod_removal_1")
async def _lemmy_removal_by_a_moderator(w: World, deliver: Deliver) -> None:
    # Given the Lemmy comment known here
    await w.remote_post(fixture_object("lemmy_create_note_comment_1"))
    processed = await deliver()
    # Then a community moderator's removal is not its author's Delete: ignored, and kept
    assert processed == ("ignored", "no post of this actor has that id")
    assert text_of(await w.stored_post(LEMMY_COMMENT)) == "hello"


def _account_deletion(actor: str) -> Scenario:
    async def deletion(w: World, deliver: Deliver) -> None:
        # Given Lain and the actor following each other, and a post of the actor's here
        post_uri = actor + "/statuses/1"
        await w.person("lain")
        await w.follow(w.uri("lain"), actor)
        await w.follow(actor, w.uri("lain"))
        await w.note(post_uri, actor)
        processed = await deliver()
        # Then the actor is marked deleted, the follows are gone and the post is tombstoned
        assert processed == ("done", None)
        assert (await w.remote(actor)).deleted_at == w.clock.now()
        assert await w.follow_between(w.uri("lain"), actor) is None
        assert await w.follow_between(actor, w.uri("lain")) is None
        await _deleted(w, post_uri)

    return deletion


scenario("mastodon_delete_actor_1")(_account_deletion("https://framapiaf.org/users/admin"))
scenario("lemmy_delete_actor_1")(_account_deletion(LEMMY_ALPHA))


# --- moderation --------------------------------------------------------------------------------


def _report(reporter: str, targets: list[str], content: str) -> Scenario:
    async def report(w: World, deliver: Deliver) -> None:
        processed = await deliver()
        # Then the report is kept for the admins with its reason and what it names
        assert processed == ("done", None)
        [kept] = await w.reports()
        assert (kept.reporter, kept.targets, kept.content) == (reporter, targets, content)

    return report


scenario("mastodon_flag_1")(
    _report(
        "https://mastodon.example/actor",
        [
            "https://example.com/users/1",
            "https://example.com/posts/380590",
            "https://example.com/posts/380591",
        ],
        "Please take a look at this user and their posts",
    )
)
scenario("gotosocial_flag_1")(
    _report(
        GTS + "localhost:8080",
        [
            "http://fossbros-anonymous.io/users/foss_satan",
            "http://fossbros-anonymous.io/users/foss_satan/statuses/01FVW7JHQFSFK166WWKR8CBA6M",
        ],
        "dark souls sucks, please yeet this nerd",
    )
)
scenario("lemmy_flag_report_page_1")(
    _report(LEMMY_ALPHA, ["http://enterprise.lemmy.ml/post/7"], "report this post")
)


@scenario("mastodon_block_1")
async def _block_of_a_citizen(w: World, deliver: Deliver) -> None:
    # Given Lain and the Mastodon admin following each other
    await w.person("lain")
    await w.follow(w.uri("lain"), MASTODON_ADMIN)
    await w.follow(MASTODON_ADMIN, w.uri("lain"))
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then the block is recorded and both follows end
    assert processed == ("done", None)
    assert await w.blocks() == [(MASTODON_ADMIN, w.uri("lain"))]
    assert await w.follow_between(w.uri("lain"), MASTODON_ADMIN) is None
    assert await w.follow_between(MASTODON_ADMIN, w.uri("lain")) is None


@scenario("mastodon_undo_block_1")
async def _block_lifted(w: World, deliver: Deliver) -> None:
    # Given the Mastodon admin blocking Lain
    await w.person("lain")
    async with w.pool.acquire() as conn:
        await moderation_queries.insert_block(
            conn,
            activity_uri=MASTODON_ADMIN + "#follows/2",
            blocker=MASTODON_ADMIN,
            blocked=w.uri("lain"),
            now=w.clock.now(),
        )
    processed = await deliver({PLEROMA_LAIN: w.uri("lain")})
    # Then the block is lifted, though the Undo has no id
    assert processed == ("done", None)
    assert await w.blocks() == []


@scenario("lemmy_block_user_community_1")
async def _community_ban(w: World, deliver: Deliver) -> None:
    # Given Lain here in place of the Lemmy user banned from a community, following its mod
    await w.person("lain")
    await w.follow(w.uri("lain"), LEMMY_BETA)
    processed = await deliver({LEMMY_ALPHA: w.uri("lain")})
    # Then a ban from one community (its target) is not a block of Lain: ignored, nothing changes
    assert processed.state == "ignored"
    assert await w.blocks() == []
    assert await w.follow_between(w.uri("lain"), LEMMY_BETA) is not None


# --- actors ------------------------------------------------------------------------------------


@scenario("mastodon_update_person_1")
async def _profile_update(w: World, deliver: Deliver) -> None:
    processed = await deliver()
    # Then the actor's profile is the new one
    assert processed == ("done", None)
    actor = await w.remote("https://framapiaf.org/users/framasoft")
    assert (actor.display_name, actor.summary_html) == ("nextsoft", "<p>Some bio</p>")
    assert actor.icon_url == (
        "https://files.mastodon.social/accounts/avatars/000/000/001/original/d96d39a0abb45b92.jpg"
    )


@scenario("lemmy_update_group_1")
async def _group_update_by_someone_else(w: World, deliver: Deliver) -> None:
    # Given the Lemmy community known here under its old name
    await w.remote_actor(LEMMY_MAIN, type="Group", name="Main")
    processed = await deliver()
    # Then a moderator's edit of the community is not the community's own: ignored, unchanged
    assert processed == ("ignored", "an actor can only update itself")
    assert (await w.remote(LEMMY_MAIN)).display_name == "Main"


@scenario("gotosocial_move_1")
async def _account_move(w: World, deliver: Deliver) -> None:
    # Given Lain following turtle, and turtle's new account on a real server (127.0.0.1 in
    # place of another-server.com) that lists the old one in alsoKnownAs
    origin = "https://example.org/users/1happyturtle"
    await w.person("lain")
    await w.follow(w.uri("lain"), origin)
    peer = Peer()
    await peer.start()
    try:
        target = peer.url("/users/my_new_account_hurray")
        peer.serve(
            "/users/my_new_account_hurray",
            {**actor_document(target, fixed_keypairs()[2]), "alsoKnownAs": [origin]},
        )
        processed = await deliver(
            {"https://another-server.com/users/my_new_account_hurray": target}
        )
    finally:
        await peer.stop()
    # Then the move is verified and recorded, and Lain now follows the new account
    assert processed == ("done", "followers migrated")
    assert await w.moves() == [(origin, target, True)]
    assert (await w.remote(origin)).moved_to == target
    assert await w.follow_between(w.uri("lain"), origin) is None
    follow = await w.follow_between(w.uri("lain"), target)
    assert follow is not None
    assert follow.state == "pending"
    [(sent, _)] = await w.sent("Follow")
    assert get_id(sent["object"]) == target


# --- events ------------------------------------------------------------------------------------


@scenario("mobilizon_create_event_1")
async def _mobilizon_event(w: World, deliver: Deliver) -> None:
    # Given Lain following the organiser
    alicia = "https://test.mobilizon.org/@Alicia"
    await w.person("lain")
    await w.follow(w.uri("lain"), alicia)
    processed = await deliver()
    # Then the event is stored with its name, start, place and address; no end is invented,
    # and with no timezone given it is shown in the instance's default one
    assert processed == ("done", None)
    event = await w.event("https://test.mobilizon.org/events/39026210-0c69-4238-b3cc-986f33f98ed0")
    assert (event.organizer_uri, event.title) == (alicia, "My first event")
    assert event.starts_at == datetime(2018, 2, 12, 14, 8, 20, tzinfo=UTC)
    assert event.ends_at is None
    assert event.timezone == "Europe/Paris"
    assert event.location == Location(
        place_name="Locaux de Framasoft",
        street="10 Rue Jangot",
        postal_code="69007",
        locality="Lyon",
        region="Auvergne Rhône Alpes",
        country="France",
    )
    assert (event.public, event.category, event.is_local) == (True, None, False)
    async with w.pool.acquire() as conn:
        listed = await event_queries.select_by_organizer(conn, alicia, limit=10)
    assert [e.uri for e in listed] == [event.uri]


@scenario("gancio_create_event_1")
async def _gancio_event(w: World, deliver: Deliver) -> None:
    # Given Lain following the Gancio instance
    gancio = "https://demo.gancio.org/federation/u/gancio"
    await w.person("lain")
    await w.follow(w.uri("lain"), gancio)
    processed = await deliver()
    # Then the event is stored at the exact instants its +02:00 times name, with its place
    # (a name only), its tag and its image
    assert processed == ("done", None)
    event = await w.event("https://demo.gancio.org/federation/m/1")
    assert event.title == "Demo event"
    assert event.starts_at == datetime(2021, 7, 14, 15, 30, 57, tzinfo=UTC)
    assert event.ends_at == datetime(2021, 7, 14, 16, 30, 57, tzinfo=UTC)
    assert event.timezone == "Europe/Paris"
    assert event.location == Location(place_name="Colosseo")
    assert event.tags == ("test",)
    assert event.image_url == "https://demo.gancio.org/media/7215892e7326a9b326b6bcad5b57642e.jpg"
    assert "Colosseo" in html_to_text(event.description_html)
    assert event.url == "https://demo.gancio.org/event/demo-event"


@scenario("mobilizon_join_event_1")
async def _join_of_our_event(w: World, deliver: Deliver) -> None:
    # Given Camille's open event here (a Pleroma-hosted event in the recording)
    camille = await w.person("camille")
    event = await w.local_event(camille)
    recorded = "https://pleroma.mkljczk.pl/objects/b800bdb9-2cbb-40b6-9b29-196cfbd42398"
    processed = await deliver({recorded: event.uri})
    # Then tcit takes part, and is told so
    participant = "https://mobilizon.org/@tcit"
    assert processed == ("done", "accepted")
    assert await w.participation(event, participant) == "accepted"
    [(accept, _)] = await w.sent("Accept")
    assert get_id(accept["object"]["object"]) == event.uri


@scenario("mobilizon_accept_join_1")
async def _accept_of_our_join(w: World, deliver: Deliver) -> None:
    # Given Lain's pending Join to a Mobilizon event. In the recording the Accept comes from
    # mobilizon.org while the event lives on mobilizon.mkljczk.pl: an event is stored only from
    # its organiser's host, so the organiser here is the same account on the event's host.
    organiser = "https://mobilizon.mkljczk.pl/@tcit"
    lain = await w.person("lain")
    document = {
        "id": "https://mobilizon.mkljczk.pl/events/d9d08e46-81af-4ee9-91e5-1298f49beea9",
        "type": "Event",
        "name": "Apéro",
        "startTime": "2026-02-01T18:00:00Z",
        "to": [PUBLIC],
    }
    data = event_from_ap(document, organizer=organiser, now=w.clock.now())
    assert not isinstance(data, str), data
    async with w.pool.acquire() as conn:
        event = await event_queries.upsert_event(conn, data)
        assert event is not None
        await participation.join_remote(conn, actor=lain, event=event, urls=URLS, clock=w.clock)
    processed = await deliver(
        {
            "https://mobilizon.org/@tcit": organiser,
            "https://pleroma.mkljczk.pl/users/mkljczk": w.uri("lain"),
        }
    )
    # Then Lain takes part
    assert processed == ("done", "accepted")
    assert await w.participation(event, w.uri("lain")) == "accepted"


# --- ignored on purpose ------------------------------------------------------------------------


def _ignored(reason: str) -> Scenario:
    async def ignored(w: World, deliver: Deliver) -> None:
        assert await deliver() == ("ignored", reason)

    return ignored


# Lemmy moderation of its own communities: fedicity keeps no Lemmy moderator lists or locks.
scenario("lemmy_add_moderator_1")(_ignored("no handler for Add"))
scenario("lemmy_lock_page_1")(_ignored("no handler for Lock"))


@scenario("lemmy_announce_create_page_1")
async def _community_relay(w: World, deliver: Deliver) -> None:
    # Given Lain following the Lemmy community
    await w.person("lain")
    await w.follow(w.uri("lain"), LEMMY_MAIN)
    processed = await deliver()
    # Then a community's relayed post is not taken: only territory actors' relays are
    assert processed == ("ignored", "only territory actors' announces are aggregated")
    assert await w.post("http://enterprise.lemmy.ml/post/7") is None


# --- the test ----------------------------------------------------------------------------------


def _localised(payload: bytes, ours: Mapping[str, str]) -> bytes:
    """The recorded payload with the recording's receiving-server IRIs replaced by ours."""
    text = payload.decode()
    for recorded, replacement in ours.items():
        assert recorded in text, f"{recorded} is not in the payload"
        text = text.replace(recorded, replacement)
    return text.encode()


def test_every_recorded_activity_has_a_scenario() -> None:
    assert set(SCENARIOS) == {path.stem for path in _activities()}
    assert set(KNOWN_GAPS) <= set(SCENARIOS)


def _params() -> list[Any]:
    return [
        pytest.param(
            path,
            id=path.stem,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[path.stem])]
            if path.stem in KNOWN_GAPS
            else [],
        )
        for path in _activities()
    ]


@pytest.mark.parametrize("path", _params())
async def test_recorded_activity_is_accepted_and_processed(
    path: Path,
    app: Quart,
    client: TestClientProtocol,
    pool: Pool,
    clock: FrozenClock,
    keygen: FixedKeys,
) -> None:
    delivered: list[Processed] = []

    async def deliver(ours: Mapping[str, str] | None = None) -> Processed:
        # Given the payload's actor, known with a key we hold
        payload = _localised(path.read_bytes(), ours or {})  # noqa: ASYNC240 -- a small fixture
        activity: dict[str, Any] = json.loads(payload)
        actor = get_id(activity["actor"])
        assert actor is not None
        await seed_remote_actor(pool, actor, KEY, clock.now())
        # When it is delivered, signed, to the shared inbox
        response = await post_signed(
            client, "/inbox", payload, key_id=actor + "#main-key", keypair=KEY, now=clock.now()
        )
        # Then it is accepted and stored once
        assert response.status_code == 202, await response.get_data(as_text=True)
        again = await post_signed(
            client, "/inbox", payload, key_id=actor + "#main-key", keypair=KEY, now=clock.now()
        )
        assert again.status_code == 202
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 1
            # (a type nothing handles is stored already ignored, for the worker to skip)
            waiting = await conn.fetchval(
                "SELECT count(*) FROM inbox_items WHERE state = 'pending'"
            )
        # And the worker handles it without a failure (done or knowingly ignored)
        app_state: AppState = app.extensions["fedicity"]
        handled = await process_batch(
            pool, directory=app_state.fed.directory, urls=app_state.urls, clock=clock
        )
        assert handled == waiting
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT state, last_error FROM inbox_items")
        assert row is not None
        assert row["state"] in {"done", "ignored"}, row["last_error"]
        delivered.append(Processed(row["state"], row["last_error"]))
        return delivered[-1]

    await SCENARIOS[path.stem](World(pool, clock, keygen), deliver)
    assert len(delivered) == 1, "each scenario delivers its payload once"
