"""Co-moderation (stewardship/comoderation.py), end to end: three residents report a public post
located in the commune and a vote opens among the residents (not at two reports, not with one
person's duplicate, not counting the author's own); residents vote through the web, the clock
passes the end, the worker's step settles it: the post leaves the territory's pages and a
follower server of the territory actor receives a signed Undo of the Announce; an admin's veto
brings it back with a new Announce. Then the veto of an open vote by a territory moderator, and
what never opens a vote."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import queries as account_queries
from fedicity.actors import queries as actor_queries
from fedicity.audit import queries as audit_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import memberships
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env as OrganizationEnv
from fedicity.proposals import drafts, lifecycle
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal
from fedicity.proposals.service import Env as ProposalEnv
from fedicity.settings import SettingsError, load_settings
from fedicity.stewardship import comoderation
from fedicity.stewardship import queries as stewardship_queries
from fedicity.stewardship.queries import ComoderationVote
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from fedicity.web.app import create_app
from fedicity.workers.loops import default_loops
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, eventually, region_follows_commune, running_instance
from tests.imports.test_organizations_csv import _signer
from tests.inbox_helpers import seed_remote_actor
from tests.moderation.test_reports_places import _client
from tests.peer import Peer, running_peer
from tests.territory_helpers import import_slice
from tests.web.test_accounts_web import PASSWORD, _log_in, _register
from tests.web.test_accounts_web import _csrf as web_csrf
from tests.web.test_admin import serving_app  # noqa: F401  (a fixture)

CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
ITEMS = "/api/territories/commune/93048/items"
URLS = Urls("http://fedicity.test")


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    found = CSRF.search(page.text)
    assert found is not None, path
    return found.group(1)


async def _citizen(
    instance: Instance, keygen: FixedKeys, name: str, *, resident: bool = True, admin: bool = False
) -> httpx.AsyncClient:
    """A citizen logged in over HTTP (a resident of Montreuil unless told)."""
    account = await _register(instance.pool, keygen, name, is_admin=admin)
    if resident:
        async with instance.pool.acquire() as conn:
            montreuil = await territory_queries.select_territory(conn, "commune", "93048")
            assert montreuil is not None
            await actor_queries.update_home_territory(conn, account.actor_id, montreuil.id)
    client = httpx.AsyncClient(base_url=instance.base, timeout=30)
    token = await _csrf(client, "/login")
    answer = await client.post(
        "/login", data={"csrf_token": token, "login": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return client


async def _report(client: httpx.AsyncClient, uri: str, kind: str = "post") -> int:
    token = await _csrf(client, f"/report?kind={kind}&uri={uri}")
    answer = await client.post(
        "/report",
        data={"csrf_token": token, "kind": kind, "uri": uri, "category": "violation"},
    )
    assert answer.status_code == 303, answer.text
    found = re.search(r"/reports/(\d+)", answer.headers["Location"])
    assert found is not None
    return int(found.group(1))


async def _votes(pool: Pool, uri: str) -> list[ComoderationVote]:
    async with pool.acquire() as conn:
        return await stewardship_queries.select_votes_about(conn, [uri])


async def _proposal(pool: Pool, vote: ComoderationVote) -> Proposal:
    async with pool.acquire() as conn:
        proposal = await proposal_queries.select_proposal_by_id(conn, vote.proposal_id)
    assert proposal is not None
    return proposal


async def _vote(client: httpx.AsyncClient, proposal: Proposal, option: str) -> int:
    page = f"/proposals/{proposal.token}"
    token = await _csrf(client, page)
    answer = await client.post(f"{page}/vote", data={"csrf_token": token, "option": option})
    return answer.status_code


def _posted(peer: Peer, kind: str) -> list[tuple[Any, dict[str, Any]]]:
    found = []
    for post in peer.posted:
        body = json.loads(post.body)
        if body["type"] == kind:
            found.append((post, body))
    return found


async def test_three_residents_hide_a_post_and_its_announce_is_undone(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    await import_slice(pool, tmp_path)
    # Real time, frozen: the sessions' cookies and the signatures' dates stay valid.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        running_instance(
            pool,
            tmp_path / "commune",
            keygen,
            clock=clock,
            territory_level="commune",
            territory_code="93048",
            login_attempts_per_minute=100,
        ) as instance,
        running_peer() as peer,
    ):
        # Given a follower of @montreuil on a loopback server
        ana = await seed_remote_actor(
            pool, peer.url("/users/ana"), fixed_keypairs()[-1], clock.now()
        )
        async with pool.acquire() as conn:
            montreuil = await territory_queries.select_territory(conn, "commune", "93048")
            assert montreuil is not None
            territory_actor = await territory_service.territory_actor(
                conn, montreuil, keygen=keygen
            )
            await follow_queries.upsert_follow(
                conn,
                follower=ana.uri,
                followee=instance.urls.actor(territory_actor.username),
                activity_uri=None,
                accepted=True,
                now=clock.now(),
            )
        # And bob's public post written in Montreuil, announced to ana
        bob = await _citizen(instance, keygen, "bob")
        token = await _csrf(bob, "/home")
        written = await bob.post(
            "/notes",
            data={
                "csrf_token": token,
                "text": "Venez tous à ma soirée louche",
                "visibility": "public",
                "territory": "93048",
            },
        )
        assert written.status_code == 303
        (post_uri,) = [item["id"] for item in (await bob.get(ITEMS)).json()["items"]]

        async def announced() -> bool:
            return any(
                b["object"]["object"]["id"] == post_uri for _, b in _posted(peer, "Announce")
            )

        await eventually(announced, within=20)
        ((_, announce),) = _posted(peer, "Announce")

        # When camille reports it twice and bob reports his own post: no vote
        camille = await _citizen(instance, keygen, "camille")
        first = await _report(camille, post_uri)
        await _report(camille, post_uri)
        await _report(bob, post_uri)
        assert await _votes(pool, post_uri) == []
        # Nor at a second person's report
        dominique = await _citizen(instance, keygen, "dominique")
        await _report(dominique, post_uri)
        assert await _votes(pool, post_uri) == []
        # When a third resident reports it, a vote opens among the residents
        emile = await _citizen(instance, keygen, "emile")
        third = await _report(emile, post_uri)
        (vote,) = await _votes(pool, post_uri)
        assert vote.state == "open"
        assert vote.territory_id == montreuil.id
        assert len(vote.report_ids) == 3
        assert first in vote.report_ids
        assert third in vote.report_ids
        proposal = await _proposal(pool, vote)
        assert proposal.title == "Masquer ce contenu ?"
        assert (proposal.state, proposal.electorate, proposal.ballot) == (
            "voting",
            "residents",
            "secret",
        )
        assert proposal.author_uri == instance.urls.actor(territory_actor.username)
        assert proposal.voting_ends == clock.now() + timedelta(hours=48)
        assert "soirée louche" in proposal.content_html
        # A fifth report opens nothing more: once per object
        fanny = await _citizen(instance, keygen, "fanny")
        await _report(fanny, post_uri)
        assert len(await _votes(pool, post_uri)) == 1
        # The Question names what it is about, and ana receives it from the territory
        question = (
            await bob.get(proposal.uri, headers={"Accept": "application/activity+json"})
        ).json()
        assert question["moderationOf"] == post_uri
        assert question["name"] == "Masquer ce contenu ?"

        async def question_sent() -> bool:
            return any(b["object"]["id"] == proposal.uri for _, b in _posted(peer, "Create"))

        await eventually(question_sent, within=20)
        # The reporters are told; the vote is listed with the territory's proposals
        notifications = (await camille.get("/notifications")).text
        assert proposal.uri in notifications
        listed = {item["id"]: item for item in (await bob.get(ITEMS)).json()["items"]}
        assert proposal.uri in listed
        # (without the reported text in the listing's summary: it is put to the vote, not spread)
        assert "soirée louche" not in json.dumps(listed[proposal.uri])

        # When the residents vote through the web (a stranger may not): it waits among the votes
        # to cast on a resident's dashboard, not on a stranger's
        gaston = await _citizen(instance, keygen, "gaston", resident=False)
        assert proposal.uri in (await bob.get("/dashboard")).text
        assert proposal.uri not in (await gaston.get("/dashboard")).text
        assert await _vote(gaston, proposal, "Pour") == 422
        for voter, option in ((camille, "Pour"), (dominique, "Pour"), (emile, "Pour")):
            assert await _vote(voter, proposal, option) == 303
        assert await _vote(bob, proposal, "Contre") == 303
        assert proposal.uri not in (await bob.get("/dashboard")).text
        # And the clock passes the end, and the worker's step runs
        clock.advance(timedelta(hours=49))
        (phases,) = [
            lp
            for lp in default_loops(instance.federation, instance.urls, clock)
            if lp.name == "proposal-phases"
        ]
        await phases.step(pool)  # the proposal closes, then the vote is settled
        assert await phases.step(pool) == 0  # and nothing twice

        # Then the post is gone from the territory's pages, HTML and API
        (vote,) = await _votes(pool, post_uri)
        assert vote.state == "adopted"
        assert post_uri not in [item["id"] for item in (await bob.get(ITEMS)).json()["items"]]
        page = (await bob.get("/territoires/commune/93048")).text
        assert "soirée louche" not in page
        # And ana receives the territory's Undo of its Announce, signed by the territory
        assert vote.undone_announces == [announce["id"]]

        async def undone() -> bool:
            return bool(_posted(peer, "Undo"))

        await eventually(undone, within=20)
        ((undo_post, undo),) = _posted(peer, "Undo")
        assert undo["actor"] == instance.urls.actor(territory_actor.username)
        assert undo["object"]["id"] == announce["id"]
        assert undo["object"]["type"] == "Announce"
        assert territory_actor.public_key_pem is not None
        assert _signer(undo_post, peer, territory_actor.public_key_pem, clock) == (
            instance.urls.actor(territory_actor.username) + "#main-key"
        )
        # And the reports are closed as content_hidden, the reporters told
        async with pool.acquire() as conn:
            report = await moderation_queries.select_report(conn, first)
            assert report is not None
            assert (report.resolution, report.resolved_by) == ("content_hidden", "system")
            log = [
                (e.action, e.actor_name) for e in await audit_queries.select_page(conn, limit=20)
            ]
        assert ("comoderation.open", "system") in log
        assert ("comoderation.close", "system") in log
        assert ("content.hide", "system") in log
        assert ("content.unannounce", "system") in log
        assert f"/reports/{first}" in (await camille.get("/notifications")).text

        # When the admin vetoes the adopted vote from the report's page
        admin = await _citizen(instance, keygen, "root_admin", resident=False, admin=True)
        report_page = (await admin.get(f"/admin/reports/{first}")).text
        assert f"/admin/comoderation/{vote.id}/veto" in report_page
        token = await _csrf(admin, f"/admin/reports/{first}")
        vetoed = await admin.post(
            f"/admin/comoderation/{vote.id}/veto",
            data={"csrf_token": token, "report": str(first), "reason": "satire, not abuse"},
        )
        assert vetoed.status_code == 303
        assert vetoed.headers["Location"].endswith(f"/admin/reports/{first}?notice=vetoed")
        # Then the post is back on the pages, and the territory announces it anew
        assert post_uri in [item["id"] for item in (await bob.get(ITEMS)).json()["items"]]

        async def announced_again() -> bool:
            return len(_posted(peer, "Announce")) == 2

        await eventually(announced_again, within=20)
        again = _posted(peer, "Announce")[1][1]
        assert again["id"] != announce["id"]
        assert again["object"]["object"]["id"] == post_uri
        (vote,) = await _votes(pool, post_uri)
        assert (vote.state, vote.vetoed_by) == ("vetoed", "root_admin")
        async with pool.acquire() as conn:
            (entry,) = await audit_queries.select_page(
                conn, limit=1, action_prefix="comoderation.veto"
            )
        assert entry.actor_name == "root_admin"
        assert entry.reason == "satire, not abuse"
        # A second veto is refused: the vote is settled
        token = await _csrf(admin, "/admin/reports")
        twice = await admin.post(f"/admin/comoderation/{vote.id}/veto", data={"csrf_token": token})
        assert "error=comoderation_settled" in twice.headers["Location"]
        for client in (bob, camille, dominique, emile, fanny, gaston, admin):
            await client.aclose()


async def _resident(app: Quart, pool: Pool, keygen: FixedKeys, name: str) -> TestClientProtocol:
    client = await _client(app, pool, keygen, name)
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, name)
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert actor is not None
        assert montreuil is not None
        await actor_queries.update_home_territory(conn, actor.id, montreuil.id)
    return client


async def _write(client: TestClientProtocol, text: str, **fields: str) -> None:
    token = await web_csrf(client, "/home")
    form = {"csrf_token": token, "text": text, "visibility": "public", "territory": "93048"}
    answer = await client.post("/notes", form={**form, **fields})
    assert answer.status_code == 303


async def _uri_of(pool: Pool, text: str) -> str:
    async with pool.acquire() as conn:
        uri: str = await conn.fetchval(
            "SELECT uri FROM posts WHERE content_html LIKE '%' || $1 || '%'", text
        )
    return uri


async def _web_report(client: TestClientProtocol, uri: str) -> int:
    token = await web_csrf(client, f"/report?kind=post&uri={uri}")
    answer = await client.post(
        "/report", form={"csrf_token": token, "kind": "post", "uri": uri, "category": "spam"}
    )
    assert answer.status_code == 303
    found = re.search(r"/reports/(\d+)", answer.headers["Location"])
    assert found is not None
    return int(found.group(1))


async def _veto(client: TestClientProtocol, vote_id: int, report: str = "") -> tuple[int, str]:
    token = await web_csrf(client, "/home")
    answer = await client.post(
        f"/admin/comoderation/{vote_id}/veto",
        form={"csrf_token": token, "report": report, "reason": "débat légitime"},
    )
    return answer.status_code, answer.headers.get("Location", "")


async def test_a_territory_moderator_vetoes_an_open_vote_and_what_never_opens_one(
    serving_app: Quart,  # noqa: F811
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
) -> None:
    bob = await _resident(serving_app, pool, keygen, "bob")
    await _write(bob, "Débat sur la piscine")
    await _write(bob, "Pour mes abonnés seulement", visibility="followers")
    await _write(bob, "Nulle part en particulier", territory="")
    located = await _uri_of(pool, "Débat sur la piscine")
    private = await _uri_of(pool, "Pour mes abonnés seulement")
    nowhere = await _uri_of(pool, "Nulle part en particulier")
    residents = [await _resident(serving_app, pool, keygen, n) for n in ("camille", "emile")]
    dominique = await _resident(serving_app, pool, keygen, "dominique")
    env = comoderation.Env(URLS, clock, keygen, None, 3)
    async with pool.acquire() as conn:
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        env = replace(env, root=montreuil)
        # Three Flags from other servers do not count: only local accounts do
        for number in range(3):
            await moderation_queries.insert_report(
                conn,
                activity_uri=f"https://far.invalid/flags/{number}",
                reporter=f"https://far.invalid/users/{number}",
                targets=[located],
                content="",
                raw={},
                now=clock.now(),
            )
        # Three residents' reports of a post that is not public, or located nowhere: no vote
        for uri in (private, nowhere):
            for name in ("camille", "dominique", "emile"):
                reporter = await actor_queries.select_actor_by_username(conn, name)
                assert reporter is not None
                account = await account_queries.select_account_by_actor(conn, reporter.id)
                assert account is not None
                await moderation_queries.insert_local_report(
                    conn,
                    activity_uri=f"{URLS.base}/activities/{name}-{len(uri)}-{uri[-6:]}",
                    reporter=URLS.actor(name),
                    reporter_account_id=account.id,
                    targets=[uri],
                    target_kind="post",
                    target_actor=URLS.actor("bob"),
                    category="spam",
                    content="",
                    organization_id=None,
                    territory_id=None,
                    now=clock.now(),
                )
            assert await comoderation.consider(conn, uri, env) is None
    # The public post located nowhere is reportable through the web, and still opens nothing
    for client in (*residents, dominique):
        await _web_report(client, nowhere)
    assert await _votes(pool, private) == []
    assert await _votes(pool, nowhere) == []

    # With FEDICITY_COMODERATION_REPORTS=0, three residents' reports open nothing
    assert (
        load_settings(
            {"FEDICITY_COMODERATION_REPORTS": "0"}, persist_secret=False
        ).comoderation_reports
        == 0
    )
    assert load_settings({}, persist_secret=False).comoderation_reports == 3
    for bad in ("-1", "1001", "trois", "\u0000"):
        with pytest.raises(SettingsError, match="FEDICITY_COMODERATION_REPORTS"):
            load_settings({"FEDICITY_COMODERATION_REPORTS": bad}, persist_secret=False)
    off = create_app(
        replace(serving_app.extensions["fedicity"].settings, comoderation_reports=0),
        pool=pool,
        clock=clock,
        keygen=keygen,
    )
    async with off.test_app():
        for name in ("camille", "dominique", "emile"):
            client = off.test_client()
            await _log_in(client, name)
            await _web_report(client, located)
    assert await _votes(pool, located) == []

    # With the setting at 3, the next resident's report opens the vote (the earlier count)
    fanny = await _resident(serving_app, pool, keygen, "fanny")
    first = await _web_report(fanny, located)
    (vote,) = await _votes(pool, located)
    assert vote.state == "open"
    proposal = await _proposal(pool, vote)
    assert proposal.state == "voting"

    # Given dominique named moderator of Montreuil; a resident may not veto
    admin = await _client(serving_app, pool, keygen, "root_admin")
    token = await web_csrf(admin, "/admin/reports")
    named = await admin.post(
        "/admin/territory-moderators",
        form={"csrf_token": token, "username": "dominique", "level": "commune", "code": "93048"},
    )
    assert "notice=moderator_added" in named.headers["Location"]
    assert (await _veto(residents[0], vote.id))[0] == 403
    assert (await _veto(dominique, 999_999))[0] == 404
    assert (await _veto(dominique, 10**20))[0] == 404
    token = await web_csrf(dominique, "/home")
    nul = await dominique.post(
        f"/admin/comoderation/{vote.id}/veto", form={"csrf_token": token, "reason": "a\u0000b"}
    )
    assert nul.status_code == 400
    # dominique sees the vote on the queue and on the report's page
    queue = await (await dominique.get("/admin/reports")).get_data(as_text=True)
    assert f"/admin/comoderation/{vote.id}/veto" in queue
    page = await (await dominique.get(f"/admin/reports/{first}")).get_data(as_text=True)
    assert f"/admin/comoderation/{vote.id}/veto" in page
    # When dominique vetoes it before the close (a hostile report field is ignored)
    status, location = await _veto(dominique, vote.id, report="../../etc")
    assert status == 303
    assert location.endswith("/admin/reports?notice=vetoed")
    # Then the vote is withdrawn, nothing is hidden, the reports wait for the moderators
    (vote,) = await _votes(pool, located)
    assert (vote.state, vote.vetoed_by) == ("vetoed", "dominique")
    assert (await _proposal(pool, vote)).state == "withdrawn"
    listed = await (await bob.get(ITEMS)).get_json()
    assert located in [item["id"] for item in listed["items"]]
    async with pool.acquire() as conn:
        report = await moderation_queries.select_report(conn, first)
        assert report is not None
        assert report.resolved_at is None
        (entry,) = await audit_queries.select_page(conn, limit=1, action_prefix="comoderation.veto")
        assert (entry.actor_name, entry.reason) == ("dominique", "débat légitime")
        # Long after its end, the worker's step has nothing to settle
        clock.advance(timedelta(days=3))
        assert await comoderation.settle_due(conn, env) == 0
    assert located in [item["id"] for item in (await (await bob.get(ITEMS)).get_json())["items"]]
    # A veto of a settled vote is refused, and more reports open nothing again
    status, location = await _veto(admin, vote.id, report=str(first))
    assert location.endswith(f"/admin/reports/{first}?error=comoderation_settled")
    gaston = await _resident(serving_app, pool, keygen, "gaston")
    await _web_report(gaston, located)
    assert len(await _votes(pool, located)) == 1

    # An organisation's proposal located in Montreuil goes to its members' vote instead
    alice = await _resident(serving_app, pool, keygen, "alice")
    hugo = await _client(serving_app, pool, keygen, "hugo")
    async with pool.acquire() as conn:
        alice_actor = await actor_queries.select_actor_by_username(conn, "alice")
        assert alice_actor is not None
        org_env = OrganizationEnv(urls=URLS, clock=clock)
        org = await organizations.create(
            conn,
            creator=alice_actor,
            username="velo",
            organization_kind="association",
            keygen=keygen,
            env=org_env,
            membership_mode="open",
        )
        await memberships.join(conn, organization=org, member_uri=URLS.actor("hugo"), env=org_env)
        proposals_env = ProposalEnv(urls=URLS, clock=clock, keygen=keygen, root=montreuil)
        draft = await drafts.create_draft(
            conn,
            actor=alice_actor,
            title="Piste cyclable rue de Paris",
            text="Réservée aux membres",
            env=proposals_env,
            organization_uri=URLS.actor("velo"),
            territory=montreuil,
        )
        await lifecycle.open_amendments(
            conn,
            actor=alice_actor,
            proposal=draft,
            until=clock.now() + timedelta(days=7),
            env=proposals_env,
        )
    for client in (residents[0], residents[1], gaston):
        token = await web_csrf(client, f"/report?kind=proposal&uri={draft.uri}")
        answer = await client.post(
            "/report",
            form={"csrf_token": token, "kind": "proposal", "uri": draft.uri, "category": "spam"},
        )
        assert answer.status_code == 303
    (members_vote,) = await _votes(pool, draft.uri)
    ballot = await _proposal(pool, members_vote)
    assert (ballot.electorate, ballot.author_uri) == ("members", URLS.actor("velo"))
    assert members_vote.organization_id == org.id
    # Only members vote; the territory's moderator may not veto it, its admin may
    for client, status in ((residents[0], 422), (hugo, 303)):
        token = await web_csrf(client, f"/proposals/{ballot.token}")
        answer = await client.post(
            f"/proposals/{ballot.token}/vote", form={"csrf_token": token, "option": "Contre"}
        )
        assert answer.status_code == status
    assert (await _veto(dominique, members_vote.id))[0] == 403
    assert (await _veto(alice, members_vote.id))[0] == 303


async def test_a_region_instance_follows_the_communes_decision(
    pool: Pool, pool_b: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    """Ours -> ActivityStreams -> ours: the commune's Question (with moderationOf) and its
    Undo(Announce) reach a région instance that aggregates the commune, through the real signed
    inbox and its worker; the veto's new Announce brings the post back there."""
    await import_slice(pool, tmp_path / "a")
    await import_slice(pool_b, tmp_path / "b")
    # One frozen clock for both: the signatures' dates agree after the vote's 48 hours.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        running_instance(
            pool,
            tmp_path / "commune",
            keygen,
            clock=clock,
            territory_level="commune",
            territory_code="93048",
            login_attempts_per_minute=100,
        ) as commune,
        running_instance(
            pool_b,
            tmp_path / "region",
            keygen,
            clock=clock,
            territory_level="region",
            territory_code="11",
        ) as region,
    ):
        aggregation = await region_follows_commune(commune, region, keygen)
        montreuil_uri = aggregation.montreuil_uri
        # Given bob's post in Montreuil, aggregated by the région
        bob = await _citizen(commune, keygen, "bob")
        token = await _csrf(bob, "/home")
        await bob.post(
            "/notes",
            data={
                "csrf_token": token,
                "text": "Propos injurieux",
                "visibility": "public",
                "territory": "93048",
            },
        )
        (post_uri,) = [item["id"] for item in (await bob.get(ITEMS)).json()["items"]]

        async def in_region() -> bool:
            async with region.pool.acquire() as conn:
                return await located_queries.select_item(conn, post_uri) is not None

        await eventually(in_region, within=20)
        # When three residents report it, the région receives the vote's Question
        residents = [await _citizen(commune, keygen, n) for n in ("camille", "dominique", "emile")]
        for client in residents:
            await _report(client, post_uri)
        (vote,) = await _votes(pool, post_uri)
        proposal = await _proposal(pool, vote)

        async def question_there() -> bool:
            async with region.pool.acquire() as conn:
                found = await proposal_queries.select_proposal(conn, proposal.uri)
            return found is not None

        await eventually(question_there, within=20)
        async with region.pool.acquire() as conn:
            remote = await proposal_queries.select_proposal(conn, proposal.uri)
        assert remote is not None
        assert remote.moderation_of == post_uri
        assert (remote.title, remote.author_uri) == ("Masquer ce contenu ?", montreuil_uri)
        # When they vote for, and the vote closes
        for client in residents:
            assert await _vote(client, proposal, "Pour") == 303
        clock.advance(timedelta(hours=49))
        (phases,) = [
            lp
            for lp in default_loops(commune.federation, commune.urls, clock)
            if lp.name == "proposal-phases"
        ]
        await phases.step(pool)
        (vote,) = await _votes(pool, post_uri)
        assert vote.state == "adopted"

        # Then the Undo(Announce) takes the post off the région's pages too
        async def gone() -> bool:
            return not await in_region()

        await eventually(gone, within=20)
        # And the admin's veto announces it again: back on the région's pages
        admin = await _citizen(commune, keygen, "root_admin", resident=False, admin=True)
        token = await _csrf(admin, "/admin/reports")
        vetoed = await admin.post(f"/admin/comoderation/{vote.id}/veto", data={"csrf_token": token})
        assert vetoed.headers["Location"].endswith("/admin/reports?notice=vetoed")
        await eventually(in_region, within=20)
        for client in (bob, *residents, admin):
            await client.aclose()
