"""Each notification kind, from the local action and from the inbound activity (signed, through
the real inbox and worker), and never twice for the same thing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import participation
from fedicity.events import service as event_service
from fedicity.events.models import Location
from fedicity.events.service import EventInput
from fedicity.follows import service as follow_service
from fedicity.organizations import memberships
from fedicity.organizations import service as organization_service
from fedicity.organizations.service import Env as OrganizationEnv
from fedicity.posts import service as post_service
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.proposals import comments, drafts, lifecycle, votes
from fedicity.proposals.service import Env as ProposalEnv
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.inbound.test_handlers import (
    ALICE,
    BOB,
    CAMILLE,
    DOMINIQUE,
    REMOTE,
    Inbox,
    activity,
    note,
)

URLS = Urls("http://fedicity.test")
SQUARE = Location(place_name="Square Jean-Moulin", locality="Montreuil")
Seen = tuple[str, str, str]


async def notifications_of(pool: Pool, actor: Actor) -> list[Seen]:
    """(kind, who, object) of every notification of `actor`, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT kind, actor_uri, object_uri FROM notifications
                WHERE recipient_id = $1 ORDER BY id""",
            actor.id,
        )
    return [(row["kind"], row["actor_uri"], row["object_uri"]) for row in rows]


@pytest.fixture
async def dominique(pool: Pool, keygen: FixedKeys) -> Actor:
    """Another local citizen."""
    async with pool.acquire() as conn:
        return await actor_service.create_person(conn, "dominique", keygen=keygen)


async def write(
    pool: Pool,
    clock: FrozenClock,
    author: Actor,
    text: str,
    *,
    in_reply_to: Post | None = None,
    resolved: dict[tuple[str, str], Mention] | None = None,
) -> Post:
    """A public note by a local author."""
    async with pool.acquire() as conn:
        return await post_service.create_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            urls=URLS,
            clock=clock,
            local_host="fedicity.test",
            resolved=resolved or {},
            in_reply_to=in_reply_to,
        )


# --- follows -----------------------------------------------------------------------------------


async def test_local_follow_notifies_once(
    pool: Pool, clock: FrozenClock, camille: Actor, dominique: Actor
) -> None:
    # When Dominique follows Camille, twice
    for _ in range(2):
        async with pool.acquire() as conn:
            await follow_service.follow(
                conn, actor=dominique, target=CAMILLE, urls=URLS, clock=clock
            )
    # Then Camille is told once
    assert await notifications_of(pool, camille) == [("follow", DOMINIQUE, DOMINIQUE)]
    # And Dominique, who did it, is told nothing
    assert await notifications_of(pool, dominique) == []


async def test_inbound_follow_notifies_once_even_redelivered(
    inbox: Inbox, pool: Pool, camille: Actor
) -> None:
    # When Alice follows Camille, and follows again with a new activity
    assert (await inbox.receive(activity("Follow", CAMILLE))).state == "done"
    assert (await inbox.receive(activity("Follow", CAMILLE, name="2"))).state == "done"
    # Then Camille has one notification
    assert await notifications_of(pool, camille) == [("follow", ALICE, ALICE)]


async def test_follow_request_when_approving_by_hand(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor, dominique: Actor
) -> None:
    # Given Camille approves followers by hand
    async with pool.acquire() as conn:
        camille = await actor_service.update_profile(
            conn,
            camille,
            display_name="",
            summary="",
            manually_approves_followers=True,
            discoverable=True,
        )
    # When Alice (remote) and Dominique (local) ask to follow her
    assert (await inbox.receive(activity("Follow", CAMILLE))).state == "done"
    async with pool.acquire() as conn:
        await follow_service.follow(conn, actor=dominique, target=CAMILLE, urls=URLS, clock=clock)
    # Then she has two follow requests
    assert await notifications_of(pool, camille) == [
        ("follow_request", ALICE, ALICE),
        ("follow_request", DOMINIQUE, DOMINIQUE),
    ]


# --- mentions and replies ----------------------------------------------------------------------


async def test_local_mention_and_reply(
    pool: Pool, clock: FrozenClock, camille: Actor, dominique: Actor
) -> None:
    # Given a post by Camille
    post = await write(pool, clock, camille, "Marché samedi")
    # When Dominique replies to it, and mentions Camille in another post
    reply = await write(pool, clock, dominique, "J'y serai", in_reply_to=post)
    mention = await write(
        pool,
        clock,
        dominique,
        "Avec @camille",
        resolved={("camille", "fedicity.test"): Mention("@camille", CAMILLE, CAMILLE)},
    )
    # Then Camille is told of the reply (once: not also as a mention) and of the mention
    assert await notifications_of(pool, camille) == [
        ("reply", DOMINIQUE, reply.uri),
        ("mention", DOMINIQUE, mention.uri),
    ]


async def test_inbound_mention_and_reply_notify_once(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given a post by Camille
    post = await write(pool, clock, camille, "Marché samedi")
    # When Alice mentions her, and replies to her post (a public reply not addressed to her)
    mentioning = {
        **note(1),
        "tag": [{"type": "Mention", "href": CAMILLE, "name": "@camille@fedicity.test"}],
    }
    reply = {
        **note(2, to=["https://www.w3.org/ns/activitystreams#Public"]),
        "inReplyTo": post.uri,
    }
    assert (await inbox.receive(activity("Create", mentioning))).state == "done"
    assert (await inbox.receive(activity("Create", reply, name="2"))).state == "done"
    # And the mention's Create comes again
    await inbox.receive(activity("Create", mentioning, name="3"))
    # Then Camille has one notification of each
    assert await notifications_of(pool, camille) == [
        ("mention", ALICE, REMOTE + "/notes/1"),
        ("reply", ALICE, REMOTE + "/notes/2"),
    ]


async def test_private_reply_not_addressed_to_the_author_does_not_notify(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor, dominique: Actor
) -> None:
    # Given a post by Camille, and Dominique addressed by Alice
    post = await write(pool, clock, camille, "Marché samedi")
    # When Alice sends Dominique a direct reply to Camille's post
    reply = {**note(4, to=[DOMINIQUE]), "inReplyTo": post.uri}
    assert (await inbox.receive(activity("Create", reply))).state == "done"
    # Then Camille is not told of a post she cannot read
    assert await notifications_of(pool, camille) == []


# --- likes and shares --------------------------------------------------------------------------


async def test_local_like_and_share_notify_the_author(
    pool: Pool, clock: FrozenClock, camille: Actor, dominique: Actor
) -> None:
    # Given a post by Camille
    post = await write(pool, clock, camille, "Marché samedi")
    # When Dominique likes and shares it, and Camille likes her own post
    async with pool.acquire() as conn:
        for kind in ("like", "announce"):
            await post_service.interact(
                conn, actor=dominique, post=post, kind=kind, urls=URLS, clock=clock
            )
        await post_service.interact(
            conn, actor=camille, post=post, kind="like", urls=URLS, clock=clock
        )
    # Then Camille is told of Dominique's like and share, not of her own like
    assert await notifications_of(pool, camille) == [
        ("like", DOMINIQUE, post.uri),
        ("announce", DOMINIQUE, post.uri),
    ]


async def test_inbound_like_and_share_notify_once(
    inbox: Inbox, pool: Pool, clock: FrozenClock, camille: Actor
) -> None:
    # Given a post by Camille
    post = await write(pool, clock, camille, "Marché samedi")
    # When Alice likes it (twice, with two activities) and Bob shares it
    assert (await inbox.receive(activity("Like", post.uri))).state == "done"
    assert (await inbox.receive(activity("Like", post.uri, name="2"))).state == "ignored"
    announce = activity("Announce", post.uri, actor=BOB)
    assert (await inbox.receive(announce, signer=BOB)).state == "done"
    # Then Camille has one like and one share
    assert await notifications_of(pool, camille) == [
        ("like", ALICE, post.uri),
        ("announce", BOB, post.uri),
    ]


# --- events, proposals, organisations ---------------------------------------------------------


async def test_rsvps_notify_the_organiser_and_answers_the_participant(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, camille: Actor, dominique: Actor
) -> None:
    starts = clock.now() + timedelta(days=3)
    async with pool.acquire() as conn:
        free = await event_service.create_event(
            conn,
            actor=camille,
            data=EventInput(title="Troc de plantes", starts_at=starts, location=SQUARE),
            place=None,
            root=None,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        approval = await event_service.create_event(
            conn,
            actor=camille,
            data=EventInput(
                title="Atelier vélo", starts_at=starts, join_mode="restricted", location=SQUARE
            ),
            place=None,
            root=None,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        # When Dominique takes part in both (twice in the first: one notification)
        for event in (free, approval, free):
            await participation.answer_join(
                conn, event=event, actor_uri=DOMINIQUE, join=None, urls=URLS, clock=clock
            )
        # And Camille approves her for the workshop
        assert await participation.decide_pending(
            conn, event=approval, actor_uri=DOMINIQUE, approve=True, urls=URLS, clock=clock
        )
    assert await notifications_of(pool, camille) == [
        ("rsvp", DOMINIQUE, free.uri),
        ("rsvp", DOMINIQUE, approval.uri),
    ]
    assert await notifications_of(pool, dominique) == [("rsvp_accepted", CAMILLE, approval.uri)]


async def test_votes_and_comments_notify_the_proposals_author_but_a_secret_ballot_names_nobody(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, camille: Actor, dominique: Actor
) -> None:
    env = ProposalEnv(urls=URLS, clock=clock, keygen=keygen)
    async with pool.acquire() as conn:
        opened = []
        for ballot in ("nominal", "secret"):
            draft = await drafts.create_draft(
                conn,
                actor=camille,
                title="Un composteur rue de Paris",
                text="",
                env=env,
                ballot=ballot,
            )
            opened.append(
                await lifecycle.open_voting(
                    conn,
                    actor=camille,
                    proposal=draft,
                    ends=clock.now() + timedelta(days=7),
                    env=env,
                )
            )
        public, secret = opened
        for proposal in (public, secret):
            await votes.vote_locally(
                conn, actor=dominique, proposal=proposal, options=["Pour"], env=env
            )
        await comments.comment(
            conn, actor=dominique, proposal=public, stance="for", text="Oui !", env=env
        )
    assert await notifications_of(pool, camille) == [
        ("proposal_vote", DOMINIQUE, public.uri),
        ("proposal_comment", DOMINIQUE, public.uri),
    ]


async def test_membership_requests_notify_the_admins_and_answers_the_member(
    pool: Pool, clock: FrozenClock, keygen: FixedKeys, camille: Actor, dominique: Actor
) -> None:
    env = OrganizationEnv(urls=URLS, clock=clock)
    async with pool.acquire() as conn:
        velo = await organization_service.create(
            conn,
            creator=camille,
            username="velo",
            organization_kind="association",
            env=env,
            keygen=keygen,
        )
        await organization_service.update_settings(
            conn,
            organization=velo,
            by=camille,
            membership_mode="approval",
            hide_members=False,
            env=env,
        )
        await memberships.join(conn, organization=velo, member_uri=DOMINIQUE, env=env)
        await memberships.answer_request(
            conn, organization=velo, by=camille, member_uri=DOMINIQUE, accept=True, env=env
        )
    velo_uri = URLS.actor("velo")
    assert await notifications_of(pool, camille) == [("membership_request", DOMINIQUE, velo_uri)]
    assert await notifications_of(pool, dominique) == [("membership_accepted", velo_uri, velo_uri)]
