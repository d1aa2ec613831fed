"""Organisations: membership rules, federation (Join/Accept/Reject/Leave/Invite/Add/Remove),
official identifiers, posting on behalf and on the wall, members' votes. Each rule is attacked."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.audit.models import SYSTEM, cli_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.moderation import domains
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import identifiers, invitations, memberships, posting, queries, service
from fedicity.organizations.identifiers import luhn_valid, normalize_identifier
from fedicity.organizations.service import Env, MembershipError
from fedicity.proposals import drafts, lifecycle, votes
from fedicity.proposals import service as proposals
from fedicity.proposals.service import ProposalError
from fedicity.urls import Urls
from fedicity.web.app import AppState
from fedicity.workers.inbox import process_batch
from fedicity.workers.router import build_router
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor

BASE = "http://fedicity.test"
URLS = Urls(BASE)
ALICE = "https://mobilizon.invalid/users/alice"
BOB = "https://social.invalid/users/bob"
KEYS = {ALICE: fixed_keypairs()[3], BOB: fixed_keypairs()[4]}
PASSWORD = "correct horse battery staple"
AP = "application/activity+json"


@dataclasses.dataclass
class World:
    """An instance with Camille (admin of `velo`), Dominique (a citizen), Alice and Bob (remote)."""

    app: Quart
    client: TestClientProtocol
    pool: Pool
    clock: FrozenClock
    keygen: FixedKeys
    camille: Actor
    dominique: Actor
    org: Actor

    @property
    def env(self) -> Env:
        """The services' environment."""
        return Env(urls=URLS, clock=self.clock)

    @property
    def state(self) -> AppState:
        """The app's state."""
        found: AppState = self.app.extensions["fedicity"]
        return found

    async def set_mode(self, mode: str) -> None:
        """Change how people join (as Camille)."""
        async with self.pool.acquire() as conn:
            await service.update_settings(
                conn,
                organization=self.org,
                by=self.camille,
                membership_mode=mode,
                hide_members=False,
                env=self.env,
            )

    async def receive(self, activity: dict[str, Any], *, signer: str | None = None) -> str:
        """POST a signed activity to the shared inbox and run the worker: 'state: detail'."""
        signer = signer or activity["actor"]
        response = await post_signed(
            self.client,
            "/inbox",
            activity,
            key_id=signer + "#main-key",
            keypair=KEYS[signer],
            now=self.clock.now(),
        )
        assert response.status_code == 202, await response.get_data(as_text=True)
        await process_batch(
            self.pool,
            directory=self.state.fed.directory,
            urls=URLS,
            clock=self.clock,
            keygen=self.keygen,
        )
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, last_error FROM inbox_items WHERE activity_uri = $1",
                activity["id"],
            )
        assert row is not None
        return f"{row['state']}: {row['last_error'] or ''}"

    async def outbox(self, kind: str) -> list[dict[str, Any]]:
        """Activities of a type we published, in order."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT raw FROM outbox_activities WHERE type = $1 ORDER BY id", kind
            )
        return [row["raw"] for row in rows]

    async def membership(self, uri: str) -> Any:
        """A membership row of the organisation."""
        async with self.pool.acquire() as conn:
            return await queries.select_membership(conn, self.org.id, uri)


@pytest.fixture
async def world(app: Quart, pool: Pool, clock: FrozenClock, keygen: FixedKeys) -> World:
    """Camille created `velo` (approval mode) and is its admin."""
    async with pool.acquire() as conn:
        people = []
        for name in ("camille", "dominique"):
            account = await accounts.register(
                conn, username=name, password=PASSWORD, keygen=keygen, locale="fr"
            )
            found = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert found is not None
            people.append(found)
        org = await service.create(
            conn,
            creator=people[0],
            username="velo",
            organization_kind="association",
            display_name="Vélo Montreuil",
            keygen=keygen,
            env=Env(urls=URLS, clock=clock),
        )
    for uri, keypair in KEYS.items():
        await seed_remote_actor(pool, uri, keypair, clock.now())
    return World(app, app.test_client(), pool, clock, keygen, people[0], people[1], org)


def _uri(actor: Actor) -> str:
    return URLS.actor(actor.username)


def _join(actor: str, target: str = URLS.actor("velo"), number: int = 1) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/join/{number}",
        "type": "Join",
        "actor": actor,
        "object": target,
    }


# --- identifiers ----------------------------------------------------------------------------


def test_siren_needs_nine_digits_and_a_valid_luhn_checksum() -> None:
    assert luhn_valid("123456782")
    assert normalize_identifier("siren", "123 456 782") == ("SIREN", "123456782")
    for bad in ("123456789", "12345678", "1234567820", "12345678a"):
        with pytest.raises(MembershipError) as refused:
            normalize_identifier("SIREN", bad)
        assert refused.value.code == "siren_invalid"


def test_rna_is_w_and_nine_digits() -> None:
    assert normalize_identifier("RNA", "w931234567") == ("RNA", "W931234567")
    for bad in ("931234567", "W93123456", "X931234567"):
        with pytest.raises(MembershipError) as refused:
            normalize_identifier("RNA", bad)
        assert refused.value.code == "rna_invalid"
    with pytest.raises(MembershipError):
        normalize_identifier("VAT", "FR123")


async def test_verified_identifier_appears_in_the_actor_document(world: World) -> None:
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError):
            await identifiers.verify_identifier(
                conn,
                organization=world.org,
                kind="SIREN",
                value="123456789",
                by=SYSTEM,
                clock=world.clock,
            )
        document = await (await world.client.get("/actors/velo", headers={"Accept": AP})).json
        assert "officialIdentifier" not in document
        assert document["members"] == URLS.actor("velo") + "/members"
        await identifiers.verify_identifier(
            conn,
            organization=world.org,
            kind="SIREN",
            value="123456782",
            by=SYSTEM,
            clock=world.clock,
        )
    world.state.actor_documents.clear()
    document = await (await world.client.get("/actors/velo", headers={"Accept": AP})).json
    assert document["officialIdentifier"] == {"kind": "SIREN", "value": "123456782"}
    assert document["organizationKind"] == "association"
    assert "officialIdentifier" in json.dumps(document["@context"])


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    await client.post(
        "/login", form={"csrf_token": match.group(1), "login": username, "password": PASSWORD}
    )
    page = await (await client.get("/organizations/new")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def test_only_instance_admins_verify_through_the_web(world: World) -> None:
    csrf = await _log_in(world.client, "camille")  # admin of the organisation, not of the instance
    response = await world.client.post(
        "/organizations/velo/verify",
        form={"csrf_token": csrf, "kind": "RNA", "value": "W931234567"},
    )
    assert response.status_code == 403
    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE accounts SET is_admin = true")
    response = await world.client.post(
        "/organizations/velo/verify",
        form={"csrf_token": csrf, "kind": "SIREN", "value": "123456789"},
    )
    assert "error=siren_invalid" in response.headers["Location"]
    response = await world.client.post(
        "/organizations/velo/verify",
        form={"csrf_token": csrf, "kind": "RNA", "value": "W931234567"},
    )
    assert "notice=saved" in response.headers["Location"]
    async with world.pool.acquire() as conn:
        settings = await queries.select_settings(conn, world.org.id)
    assert settings.official_identifier is not None
    assert settings.official_identifier.value == "W931234567"
    assert settings.official_identifier.verified_by is not None
    # And the verification is in the audit log, with the admin who made it
    async with world.pool.acquire() as conn:
        entry = await conn.fetchrow("SELECT actor_name, action, target, details FROM audit_log")
    assert entry is not None
    assert (entry["actor_name"], entry["action"], entry["target"]) == (
        "camille",
        "organization.verify",
        "velo",
    )
    assert entry["details"] == {"kind": "RNA", "value": "W931234567"}


# --- local membership rules -----------------------------------------------------------------


async def test_creator_is_admin_and_approval_mode_keeps_requests_pending(world: World) -> None:
    assert (await world.membership(_uri(world.camille))).is_admin
    async with world.pool.acquire() as conn:
        requested = await memberships.join(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
        assert requested.state == "pending"
        # A non-admin cannot approve, not even their own request
        with pytest.raises(MembershipError) as refused:
            await memberships.answer_request(
                conn,
                organization=world.org,
                by=world.dominique,
                member_uri=_uri(world.dominique),
                accept=True,
                env=world.env,
            )
        assert refused.value.code == "not_admin"
        approved = await memberships.answer_request(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=_uri(world.dominique),
            accept=True,
            env=world.env,
        )
    assert approved.accepted
    adds = await world.outbox("Add")
    assert adds[-1]["object"] == _uri(world.dominique)
    assert adds[-1]["target"] == URLS.actor("velo") + "/members"


async def test_open_mode_accepts_and_invitation_mode_refuses_the_uninvited(world: World) -> None:
    await world.set_mode("invitation")
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError) as refused:
            await memberships.join(
                conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
            )
        assert refused.value.code == "invitation_only"
        assert await world.membership(_uri(world.dominique)) is None
        # Accepting an invitation nobody sent does nothing
        with pytest.raises(MembershipError):
            await invitations.answer_invitation(
                conn,
                organization=world.org,
                member_uri=_uri(world.dominique),
                accept=True,
                env=world.env,
            )
        # Invited: now the join (or the acceptance) goes through
        await invitations.invite(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=_uri(world.dominique),
            env=world.env,
        )
        joined = await memberships.join(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
        assert joined.accepted
    await world.set_mode("open")
    async with world.pool.acquire() as conn:
        await memberships.leave(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
        rejoined = await memberships.join(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
    assert rejoined.accepted
    assert rejoined.role == "member"


async def test_the_last_admin_cannot_leave_be_demoted_or_removed(world: World) -> None:
    camille = _uri(world.camille)
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError) as refused:
            await memberships.leave(conn, organization=world.org, member_uri=camille, env=world.env)
        assert refused.value.code == "last_admin"
        with pytest.raises(MembershipError) as refused:
            await memberships.change_role(
                conn,
                organization=world.org,
                by=world.camille,
                member_uri=camille,
                role="member",
                env=world.env,
            )
        assert refused.value.code == "last_admin"
        with pytest.raises(MembershipError) as refused:
            await memberships.remove(
                conn, organization=world.org, by=world.camille, member_uri=camille, env=world.env
            )
        assert refused.value.code == "last_admin"
        # With a second admin, the first may step down
        await world.set_mode("open")
        await memberships.join(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
        # A plain member cannot promote themself
        with pytest.raises(MembershipError):
            await memberships.change_role(
                conn,
                organization=world.org,
                by=world.dominique,
                member_uri=_uri(world.dominique),
                role="admin",
                env=world.env,
            )
        promoted = await memberships.change_role(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=_uri(world.dominique),
            role="admin",
            roles=["trésorière", " "],
            env=world.env,
        )
        assert promoted.is_admin
        assert promoted.roles == ("trésorière",)
        with pytest.raises(MembershipError):
            await memberships.change_role(
                conn,
                organization=world.org,
                by=world.camille,
                member_uri=camille,
                role="chief",
                env=world.env,
            )
        assert await memberships.leave(
            conn, organization=world.org, member_uri=camille, env=world.env
        )
    removes = await world.outbox("Remove")
    assert removes[-1]["object"] == camille


# --- federation -----------------------------------------------------------------------------


async def test_remote_join_through_the_inbox_in_each_mode(world: World) -> None:
    # approval: pending, no answer yet
    assert (await world.receive(_join(ALICE))).startswith("done: awaiting approval")
    assert (await world.membership(ALICE)).state == "pending"
    assert await world.outbox("Accept") == []
    async with world.pool.acquire() as conn:
        await memberships.answer_request(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=ALICE,
            accept=True,
            env=world.env,
        )
    accept = (await world.outbox("Accept"))[-1]
    assert accept["actor"] == URLS.actor("velo")
    assert accept["object"] == {
        "type": "Join",
        "actor": ALICE,
        "object": URLS.actor("velo"),
        "id": f"{ALICE}/join/1",
    }
    # open: accepted at once
    await world.set_mode("open")
    assert (await world.receive(_join(BOB))).startswith("done: accepted")
    assert (await world.outbox("Accept"))[-1]["object"]["actor"] == BOB
    # leaving sends Remove to followers
    leave = {**_join(BOB, number=2), "type": "Leave"}
    assert (await world.receive(leave)).startswith("done")
    assert await world.membership(BOB) is None
    assert (await world.outbox("Remove"))[-1]["object"] == BOB
    # invitation: the uninvited get a Reject
    await world.set_mode("invitation")
    assert "invitation_only" in await world.receive(_join(BOB, number=3))
    reject = (await world.outbox("Reject"))[-1]
    assert reject["object"]["id"] == f"{BOB}/join/3"
    assert await world.membership(BOB) is None


async def test_join_of_something_else_still_reaches_events(world: World) -> None:
    # The dispatcher sends a Join whose object is not a local organisation to the events handler
    outcome = await world.receive(_join(ALICE, target=BASE + "/events/nope"))
    assert "organisation" not in outcome
    handler = build_router().lookup({"type": "Join", "object": URLS.actor("velo")})
    assert handler is not None
    assert "Organisations first" in (handler.__doc__ or "")


async def test_remote_invitation_accepted_by_the_invitee_only(world: World) -> None:
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError):
            await invitations.invite(
                conn, organization=world.org, by=world.dominique, member_uri=ALICE, env=world.env
            )
        await invitations.invite(
            conn, organization=world.org, by=world.camille, member_uri=ALICE, env=world.env
        )
    invite = (await world.outbox("Invite"))[-1]
    assert invite["actor"] == invite["object"] == URLS.actor("velo")
    assert invite["target"] == ALICE
    embedded = {k: v for k, v in invite.items() if k != "@context"}
    # Bob forges an acceptance of Alice's invitation: nothing changes
    forged = {"id": f"{BOB}/accept/1", "type": "Accept", "actor": BOB, "object": embedded}
    assert (await world.receive(forged)).startswith("ignored")
    assert await world.membership(BOB) is None
    assert (await world.membership(ALICE)).state == "invited"
    # An Accept by Alice of another (made-up) Invite does nothing either
    fake = {**embedded, "id": BASE + "/activities/made-up"}
    made_up = {"id": f"{ALICE}/accept/0", "type": "Accept", "actor": ALICE, "object": fake}
    assert (await world.receive(made_up)).startswith("ignored")
    # Alice accepts: a member, announced with Add
    accept = {"id": f"{ALICE}/accept/1", "type": "Accept", "actor": ALICE, "object": embedded}
    assert (await world.receive(accept)).startswith("done")
    assert (await world.membership(ALICE)).accepted
    assert (await world.outbox("Add"))[-1]["object"] == ALICE


async def test_members_collection_counts_always_and_lists_unless_hidden(world: World) -> None:
    collection = await (await world.client.get("/actors/velo/members", headers={"Accept": AP})).json
    assert collection["totalItems"] == 1
    assert collection["orderedItems"] == [_uri(world.camille)]
    async with world.pool.acquire() as conn:
        await service.update_settings(
            conn,
            organization=world.org,
            by=world.camille,
            membership_mode="approval",
            hide_members=True,
            env=world.env,
        )
        with pytest.raises(MembershipError):
            await service.update_settings(
                conn,
                organization=world.org,
                by=world.dominique,
                membership_mode="open",
                hide_members=False,
                env=world.env,
            )
    collection = await (await world.client.get("/actors/velo/members", headers={"Accept": AP})).json
    assert collection["totalItems"] == 1
    assert "orderedItems" not in collection
    moderators = await (
        await world.client.get("/actors/velo/moderators", headers={"Accept": AP})
    ).json
    assert moderators["orderedItems"] == [_uri(world.camille)]


# --- posting --------------------------------------------------------------------------------


async def test_only_admins_post_as_the_organisation(world: World) -> None:
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError) as refused:
            await posting.post_as_organization(
                conn,
                organization=world.org,
                by=world.dominique,
                text="Nous fermons.",
                env=world.env,
                local_host="fedicity.test",
                resolved={},
            )
        assert refused.value.code == "not_admin"
        post = await posting.post_as_organization(
            conn,
            organization=world.org,
            by=world.camille,
            text="Atelier samedi.",
            env=world.env,
            local_host="fedicity.test",
            resolved={},
        )
    assert post.author_uri == URLS.actor("velo")


async def test_members_post_on_the_wall_and_the_organisation_announces(world: World) -> None:
    async with world.pool.acquire() as conn:
        with pytest.raises(MembershipError):
            await posting.post_on_wall(
                conn,
                organization=world.org,
                author=world.dominique,
                text="Spam",
                env=world.env,
                local_host="fedicity.test",
                resolved={},
            )
        post = await posting.post_on_wall(
            conn,
            organization=world.org,
            author=world.camille,
            text="Sortie dimanche !",
            env=world.env,
            local_host="fedicity.test",
            resolved={},
        )
    announce = (await world.outbox("Announce"))[-1]
    assert announce["actor"] == URLS.actor("velo")
    assert announce["audience"] == URLS.actor("velo")
    assert announce["object"]["type"] == "Create"
    assert announce["object"]["object"]["id"] == post.uri
    assert announce["object"]["object"]["audience"] == URLS.actor("velo")


# --- the web --------------------------------------------------------------------------------


async def test_a_citizen_creates_an_organisation_from_the_web_and_others_join(
    world: World,
) -> None:
    csrf = await _log_in(world.client, "dominique")
    response = await world.client.post(
        "/organizations",
        form={
            "csrf_token": csrf,
            "username": "jardins",
            "kind": "collective",
            "display_name": "Jardins partagés",
            "membership_mode": "open",
        },
    )
    assert response.headers["Location"] == "/organizations/jardins"
    page = await (await world.client.get("/organizations/jardins")).get_data(as_text=True)
    assert "Jardins partagés" in page
    async with world.pool.acquire() as conn:
        jardins = await actor_queries.select_actor_by_username(conn, "jardins")
        assert jardins is not None
        founder = await queries.select_membership(conn, jardins.id, _uri(world.dominique))
    assert founder is not None
    assert founder.is_admin
    # A non-admin's approval through the web is refused with a message
    response = await world.client.post(
        "/organizations/velo/approve", form={"csrf_token": csrf, "member": _uri(world.dominique)}
    )
    assert "error=not_admin" in response.headers["Location"]
    # Joining velo (approval mode) through the web leaves a pending request
    response = await world.client.post("/organizations/velo/join", form={"csrf_token": csrf})
    assert "notice=saved" in response.headers["Location"]
    assert (await world.membership(_uri(world.dominique))).state == "pending"
    # Without the CSRF token nothing happens
    response = await world.client.post("/organizations/velo/leave", form={})
    assert response.status_code in {400, 403}


# --- proposals ------------------------------------------------------------------------------


async def test_members_electorate_counts_only_accepted_members(world: World) -> None:
    env = proposals.Env(urls=URLS, clock=world.clock, keygen=world.keygen)
    async with world.pool.acquire() as conn:
        with pytest.raises(ProposalError):
            await drafts.create_draft(
                conn, actor=world.camille, title="T", text="", env=env, electorate="members"
            )
        draft = await drafts.create_draft(
            conn,
            actor=world.camille,
            title="Budget",
            text="",
            env=env,
            electorate="members",
            organization_uri=URLS.actor("velo"),
        )
        proposal = await lifecycle.open_voting(
            conn,
            actor=world.camille,
            proposal=draft,
            ends=world.clock.now() + timedelta(days=3),
            env=env,
        )
        await votes.vote_locally(
            conn, actor=world.camille, proposal=proposal, options=["Pour"], env=env
        )
        # A pending member is not a member yet
        await memberships.join(
            conn, organization=world.org, member_uri=_uri(world.dominique), env=world.env
        )
        with pytest.raises(ProposalError) as refused:
            await votes.vote_locally(
                conn, actor=world.dominique, proposal=proposal, options=["Contre"], env=env
            )
        assert refused.value.code == "not_eligible"
        # A remote non-member neither
        with pytest.raises(ProposalError):
            await votes.record_vote(
                conn,
                proposal=proposal,
                voter_uri=BOB,
                options=["Contre"],
                activity_uri=BOB + "/vote/1",
                local=False,
                voter_home_territory_id=None,
                env=env,
            )
        await memberships.answer_request(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=_uri(world.dominique),
            accept=True,
            env=world.env,
        )
        await votes.vote_locally(
            conn, actor=world.dominique, proposal=proposal, options=["Contre"], env=env
        )


# --- home-feed compose, remote wall posts, Accept of an Invite by id ---------------------------


async def _home_csrf(client: TestClientProtocol, username: str) -> tuple[str, str]:
    """Log in and return (the CSRF token, the home page)."""
    csrf = await _log_in(client, username)
    page = await (await client.get("/home")).get_data(as_text=True)
    return csrf, page


async def _posts_by(world: World, author: str) -> list[str]:
    async with world.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT content_html FROM posts WHERE author_uri = $1 ORDER BY id", author
        )
    return [row["content_html"] for row in rows]


async def test_home_compose_posts_as_an_administered_organisation_or_on_a_wall(
    world: World,
) -> None:
    velo = URLS.actor("velo")
    # Dominique belongs to nothing: no choice offered, and forged choices are refused
    outsider = world.app.test_client()
    csrf, page = await _home_csrf(outsider, "dominique")
    assert 'name="as"' not in page
    for forged, code in (
        ("org:velo", "not_admin"),
        ("wall:velo", "not_member"),
        ("org:camille", "not_admin"),  # a citizen is not an organisation
        ("org:nobody", "not_admin"),
    ):
        response = await outsider.post(
            "/notes", form={"csrf_token": csrf, "text": "Piraté !", "as": forged}
        )
        assert response.status_code == 422, forged
        refused = await response.get_data(as_text=True)
        assert '<p class="error" role="alert">' in refused, forged  # no such field: said above
        assert code not in refused.replace(f'id="{code}', ""), forged
    assert await _posts_by(world, velo) == []
    assert await world.outbox("Announce") == []
    # A plain member may post on the wall but not as the organisation
    async with world.pool.acquire() as conn:
        await invitations.invite(
            conn,
            organization=world.org,
            by=world.camille,
            member_uri=_uri(world.dominique),
            env=world.env,
        )
        await invitations.answer_invitation(
            conn,
            organization=world.org,
            member_uri=_uri(world.dominique),
            accept=True,
            env=world.env,
        )
    page = await (await outsider.get("/home")).get_data(as_text=True)
    assert 'value="wall:velo"' in page
    assert 'value="org:velo"' not in page
    response = await outsider.post(
        "/notes", form={"csrf_token": csrf, "text": "Au nom du club", "as": "org:velo"}
    )
    assert response.status_code == 422
    kept = html.unescape(await response.get_data(as_text=True))
    assert '<span class="field-error" id="as-error">' in kept
    assert "Au nom du club</textarea>" in kept
    assert await _posts_by(world, velo) == []
    response = await outsider.post(
        "/notes", form={"csrf_token": csrf, "text": "Qui vient dimanche ?", "as": "wall:velo"}
    )
    assert "error" not in response.headers["Location"]
    announce = (await world.outbox("Announce"))[-1]
    assert announce["actor"] == velo
    assert announce["object"]["actor"] == _uri(world.dominique)
    assert "Qui vient dimanche" in announce["object"]["object"]["content"]
    # The admin posts as the organisation, located like a citizen's note
    admin = world.app.test_client()
    csrf, page = await _home_csrf(admin, "camille")
    assert 'value="org:velo"' in page
    assert 'value="wall:velo"' in page
    response = await admin.post(
        "/notes",
        form={
            "csrf_token": csrf,
            "text": "Atelier réparation samedi",
            "as": "org:velo",
            "visibility": "public",
        },
    )
    assert "error" not in response.headers["Location"]
    assert any("Atelier réparation" in html for html in await _posts_by(world, velo))
    create = (await world.outbox("Create"))[-1]
    assert create["actor"] == velo
    assert create["object"]["attributedTo"] == velo


def _note(author: str, number: int, **changes: Any) -> dict[str, Any]:
    host = author.split("/users/")[0]
    note = {
        "id": f"{host}/notes/{number}",
        "type": "Note",
        "attributedTo": author,
        "content": f"<p>Sortie vélo n°{number}</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [URLS.actor("velo")],
        "audience": URLS.actor("velo"),
        "published": "2026-01-01T10:00:00Z",
        **changes,
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{host}/notes/{number}/activity",
        "type": "Create",
        "actor": author,
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }


async def test_remote_members_wall_posts_are_announced_and_others_only_stored(
    world: World,
) -> None:
    await world.set_mode("open")
    assert (await world.receive(_join(ALICE))).startswith("done: accepted")
    # A member's public post addressed to the organisation: announced, embedding her Create
    outcome = await world.receive(_note(ALICE, 1))
    assert outcome == "done: announced by velo"
    [announce] = await world.outbox("Announce")
    assert announce["actor"] == URLS.actor("velo")
    assert announce["audience"] == URLS.actor("velo")
    assert announce["object"]["id"] == f"{ALICE.split('/users/')[0]}/notes/1/activity"
    assert announce["object"]["object"]["attributedTo"] == ALICE
    # Addressed in `to` only (no audience): announced too
    only_to = _note(
        ALICE,
        2,
        audience=None,
        to=["https://www.w3.org/ns/activitystreams#Public", URLS.actor("velo")],
        cc=[],
    )
    assert await world.receive(only_to) == "done: announced by velo"
    assert len(await world.outbox("Announce")) == 2
    # The same note again under another activity id: stored already, not announced twice
    again = {**_note(ALICE, 1), "id": f"{ALICE}/create/again"}
    await world.receive(again)
    assert len(await world.outbox("Announce")) == 2
    # Her followers-only post addressed to the group: stored, not re-shared
    private = _note(ALICE, 3, to=[ALICE + "/followers", URLS.actor("velo")], cc=[])
    assert await world.receive(private) == "done: not announced by velo: not public"
    # A non-member's post addressed to the organisation: stored, never announced
    outcome = await world.receive(_note(BOB, 1))
    assert outcome == "done: not announced by velo: not a member"
    async with world.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM posts WHERE author_uri = $1", BOB)
    assert stored == 1
    assert len(await world.outbox("Announce")) == 2


def _edit(create: dict[str, Any], number: int, **changes: Any) -> dict[str, Any]:
    note = {**create["object"], "updated": "2026-01-02T10:00:00Z", **changes}
    return {**create, "id": f"{create['actor']}/edits/{number}", "type": "Update", "object": note}


async def test_a_wall_post_first_seen_through_an_update_is_announced_once(world: World) -> None:
    await world.set_mode("open")
    assert (await world.receive(_join(ALICE))).startswith("done: accepted")
    # The Create never reached us; her edit is the first we see: stored and announced
    first = _edit(_note(ALICE, 1), 1, content="<p>Sortie vélo dimanche</p>")
    assert await world.receive(first) == "done: announced by velo"
    [announce] = await world.outbox("Announce")
    assert announce["actor"] == URLS.actor("velo")
    assert announce["audience"] == URLS.actor("velo")
    assert announce["object"]["id"] == first["id"]
    assert announce["object"]["object"]["attributedTo"] == ALICE
    async with world.pool.acquire() as conn:
        html = await conn.fetchval(
            "SELECT content_html FROM posts WHERE uri = $1", first["object"]["id"]
        )
    assert html == "<p>Sortie vélo dimanche</p>"
    # A second edit, then the late Create: the post is known, never announced again
    assert await world.receive(_edit(_note(ALICE, 1), 2, content="<p>Samedi</p>")) == "done: "
    await world.receive(_note(ALICE, 1))
    assert len(await world.outbox("Announce")) == 1
    # Addressed in `to` only: the Update is announced as the Create would be
    only_to = _note(
        ALICE, 2, audience=None, to=["https://www.w3.org/ns/activitystreams#Public"], cc=[]
    )
    only_to["object"]["to"] = [*only_to["object"]["to"], URLS.actor("velo")]
    assert await world.receive(_edit(only_to, 3)) == "done: announced by velo"
    # Deleted, then "edited": a tombstoned post is known, not resurrected nor announced
    note_uri = only_to["object"]["id"]
    delete = {"id": f"{ALICE}/deletes/1", "type": "Delete", "actor": ALICE, "object": note_uri}
    assert await world.receive(delete) == "done: "
    await world.receive(_edit(only_to, 4))
    assert len(await world.outbox("Announce")) == 2
    # Her followers-only edit and Bob's (not a member) are stored, not announced
    private = _note(ALICE, 3, to=[ALICE + "/followers", URLS.actor("velo")], cc=[])
    assert await world.receive(_edit(private, 5)) == "done: not announced by velo: not public"
    bobs = _edit(_note(BOB, 1), 1)
    assert await world.receive(bobs) == "done: not announced by velo: not a member"
    # Alice relaying an "edit" of a Note attributed to Bob: neither stored nor announced
    relayed = _edit(_note(ALICE, 4), 6, attributedTo=BOB)
    assert (await world.receive(relayed)).startswith("ignored")
    async with world.pool.acquire() as conn:
        assert not await conn.fetchval(
            "SELECT count(*) FROM posts WHERE uri = $1", relayed["object"]["id"]
        )
    assert len(await world.outbox("Announce")) == 2


async def test_an_accept_naming_our_invite_by_id_makes_a_member(world: World) -> None:
    async with world.pool.acquire() as conn:
        await invitations.invite(
            conn, organization=world.org, by=world.camille, member_uri=ALICE, env=world.env
        )
    invite_id = (await world.outbox("Invite"))[-1]["id"]
    # Bob names Alice's invitation: ignored, nothing changes
    forged = {"id": f"{BOB}/accept/1", "type": "Accept", "actor": BOB, "object": invite_id}
    assert "only the invitee" in await world.receive(forged)
    assert await world.membership(BOB) is None
    assert (await world.membership(ALICE)).state == "invited"
    # An id that is no Invite of ours still reaches the follows' handler
    other = {
        "id": f"{ALICE}/accept/0",
        "type": "Accept",
        "actor": ALICE,
        "object": BASE + "/activities/not-an-invite",
    }
    assert (await world.receive(other)).startswith("ignored")
    assert (await world.membership(ALICE)).state == "invited"
    # Alice accepts by id: a member, announced with Add
    accept = {"id": f"{ALICE}/accept/1", "type": "Accept", "actor": ALICE, "object": invite_id}
    assert (await world.receive(accept)).startswith("done: member")
    assert (await world.membership(ALICE)).accepted
    assert (await world.outbox("Add"))[-1]["object"] == ALICE
    # A Reject by id of a fresh invitation declines it
    async with world.pool.acquire() as conn:
        await invitations.invite(
            conn, organization=world.org, by=world.camille, member_uri=BOB, env=world.env
        )
    second = (await world.outbox("Invite"))[-1]["id"]
    reject = {"id": f"{BOB}/reject/1", "type": "Reject", "actor": BOB, "object": second}
    assert (await world.receive(reject)).startswith("done: declined")
    assert await world.membership(BOB) is None
    handler = build_router().lookup({"type": "Accept", "object": invite_id})
    assert handler is not None
    assert "Invites first" in (handler.__doc__ or "")


async def test_a_moderated_members_wall_post_is_stored_not_announced(world: World) -> None:
    await world.set_mode("open")
    for member in (ALICE, BOB):
        assert (await world.receive(_join(member))).startswith("done: accepted")
    # Given Alice's server silenced by the admin
    async with world.pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("mobilizon.invalid", "silence"),
            reason="",
            now=world.clock.now(),
        )
    # Then her wall post is stored but not re-shared, and the inbox row says why
    outcome = await world.receive(_note(ALICE, 1))
    assert outcome == "done: not announced by velo: its server is silenced here"
    # And Bob, his account silenced by a moderator, gets the same
    async with world.pool.acquire() as conn:
        await moderation_queries.upsert_restriction(
            conn,
            actor_uri=BOB,
            local_actor_id=None,
            level="silence",
            reason="",
            now=world.clock.now(),
        )
    outcome = await world.receive(_note(BOB, 1))
    assert outcome == "done: not announced by velo: its author is silenced here"
    async with world.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM posts WHERE author_uri = ANY($1::text[])", [ALICE, BOB]
        )
    assert stored == 2
    assert await world.outbox("Announce") == []
    # A post received before her server was suspended is not announced when processed after (the
    # suspension ends what was queued from it; the wall's own check is behind that one)
    queued = _note(ALICE, 2)
    response = await post_signed(
        world.client,
        "/inbox",
        queued,
        key_id=ALICE + "#main-key",
        keypair=KEYS[ALICE],
        now=world.clock.now(),
    )
    assert response.status_code == 202
    async with world.pool.acquire() as conn:
        await domains.set_policy(
            conn,
            cli_actor(),
            domains.checked_entry("mobilizon.invalid", "suspend"),
            reason="",
            now=world.clock.now(),
        )
    await process_batch(
        world.pool,
        directory=world.state.fed.directory,
        urls=URLS,
        clock=world.clock,
        keygen=world.keygen,
    )
    async with world.pool.acquire() as conn:
        detail = await conn.fetchval(
            "SELECT last_error FROM inbox_items WHERE activity_uri = $1", queued["id"]
        )
    assert detail == "refused by policy: the domain is suspended"
    assert await world.outbox("Announce") == []
    # When the moderation is lifted, a new post of Bob's is announced again on the next one
    async with world.pool.acquire() as conn:
        await moderation_queries.delete_restriction(conn, BOB, level="silence")
    assert await world.receive(_note(BOB, 2)) == "done: announced by velo"
    assert len(await world.outbox("Announce")) == 1
