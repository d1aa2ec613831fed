"""Authorized fetch by route, app-wide: every route that serves ActivityStreams is gated.

The app's URL map is enumerated: a GET route either carries the serves_activitystreams mark or is
listed below as serving no ActivityStreams, so a new route cannot slip past the gate unnoticed.
Then, over real HTTP with FEDICITY_AUTHORIZED_FETCH=true, every gated route is fetched unsigned
with each kind of Accept header a client sends, and signed by a peer whose key a fake remote
server on 127.0.0.1 serves.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedicity.accounts import service as accounts
from fedicity.activitypub.vocab import AP_MEDIA_TYPES, PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Pool
from fedicity.events import service as events
from fedicity.events.models import Location
from fedicity.events.service import EventInput
from fedicity.listings import service as listings
from fedicity.listings.service import ListingInput
from fedicity.needs import service as needs
from fedicity.organizations import queries as organization_queries
from fedicity.poi import queries as poi_queries
from fedicity.poi.models import PlaceData
from fedicity.posts import service as posts
from fedicity.proposals import actions, comments, drafts, followup_queries, lifecycle, rooms
from fedicity.proposals.service import Env
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.urls import new_token
from fedicity.web.app import create_app
from fedicity.web.signed_fetch import served_by
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import Instance, running_instance
from tests.peer import running_peer
from tests.security.federation_peers import person, problem_reason, signed_get
from tests.territory_helpers import import_slice

KEY = fixed_keypairs()[5]
AS = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# What clients send: ActivityStreams, no Accept at all, anything, plain JSON.
UNSIGNED_ACCEPTS: list[str | None] = [AS, LD, None, "*/*", "application/json"]

# GET routes that serve no ActivityStreams, whatever the Accept header: HTML pages and forms,
# iCalendar, images, WebFinger/host-meta/NodeInfo (their own formats), the territory JSON API,
# and the open-data files (feeds, CSV, GeoJSON, the DCAT catalogue: public data in formats of
# their own, which Mastodon's secure mode also serves unsigned, as its RSS feeds).
SERVE_NO_ACTIVITYSTREAMS = frozenset(
    {
        "accounts.admin",
        "admin.audit_log",
        "admin.audit_export",
        "moderation.queue",
        "moderation.report_page",
        "reports.my_report",
        "reports.report_form",
        "blocks.actor",
        "blocks.lists",
        "admin_content.content_rules",
        "admin_dashboard.dashboard",
        "metrics.metrics",
        "needs.new_need",
        "needs.edit_need",
        "needs.remote_need",
        "accounts.delete_account",
        "actions.dashboard",
        "actions.edit_action_form",
        "actions.new_action",
        "accounts.export_archive",
        "accounts.export_calendar",
        "accounts.export_following",
        "accounts.forgot_password",
        "accounts.login",
        "accounts.reset_password",
        "accounts.settings_page",
        "accounts.signup",
        "activitypub.avatar",
        "admin_domains.domains_page",
        "admin_domains.export",
        "events.edit",
        "events.event_ics",
        "events.events_index",
        "events.new_event",
        "events.organizer_agenda",
        "events.participants_page",
        "events.territory_agenda",
        "listings.contact",
        "listings.edit",
        "listings.listings_index",
        "listings.new_listing",
        "map.features",
        "map.map_page",
        "admin_imports.imports_page",
        "admin_imports_files.upload",
        "opendata.actor_feed",
        "opendata.catalogue_document",
        "opendata.events_csv",
        "opendata.opendata_page",
        "opendata.organizations_csv",
        "opendata.proposals_csv",
        "opendata.proposals_feed",
        "opendata.tag_agenda",
        "opendata.territory_feed",
        "opendata.territory_map",
        "media.serve",
        "notifications.notifications",
        "organizations.new_organization",
        "organizations.organizations_index",
        "organizations.organization_page",
        "pages.home",
        "projects.edit_project",
        "projects.new_project",
        "projects.project_page",
        "projects.projects_index",
        "pages.profile",
        "places.edit_place",
        "places.new_place",
        "places.place_geojson",
        "places.territory_places",
        "proposals.new_proposal",
        "proposals.proposals_index",
        # The JSON API and its OpenAPI document (web/api.py, web/openapi.py).
        "api.get_event",
        "api.get_organization",
        "api.get_proposal",
        "api.list_events",
        "api.list_organizations",
        "api.list_places",
        "api.list_proposals",
        "openapi",
        "rooms.new_room",
        "search.remote_follow",
        "search.search_page",
        "social.authorize_interaction",
        "social.follow_requests",
        "social.home_feed",
        "social.tag",
        "static",
        "territories.find_place",
        "territories.near",
        "territories.search",
        "territories.territory_api",
        "territories.territory_items",
        "territories.territory_page",
        "transparency.domain_blocks",
        "transparency.federation_page",
        "webfinger.host_meta",
        "webfinger.host_meta_json",
        "webfinger.nodeinfo",
        "webfinger.nodeinfo_links",
        "webfinger.webfinger",
    }
)


def _get_routes(settings: Settings) -> dict[str, str]:
    """Every GET route of the app: endpoint -> rule."""
    app = create_app(settings)
    return {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if rule.methods is not None and "GET" in rule.methods
    }


def _marks(settings: Settings) -> dict[str, str | None]:
    """endpoint -> its mark's kind (None when unmarked)."""
    app = create_app(settings)
    marks: dict[str, str | None] = {}
    for endpoint in _get_routes(settings):
        served = served_by(app.view_functions[endpoint])
        marks[endpoint] = served.kind if served else None
    return marks


def test_every_get_route_is_gated_or_listed_as_serving_no_activitystreams(
    settings: Settings,
) -> None:
    marks = _marks(settings)
    unclassified = sorted(
        e for e, kind in marks.items() if kind is None and e not in SERVE_NO_ACTIVITYSTREAMS
    )
    assert not unclassified, (
        "these GET routes are neither marked serves_activitystreams nor listed here as serving "
        f"no ActivityStreams: {unclassified}"
    )
    stale = sorted(e for e in SERVE_NO_ACTIVITYSTREAMS if marks.get(e, "gone") is not None)
    assert not stale, f"listed as serving no ActivityStreams but marked or gone: {stale}"
    # The exceptions that stay public by design, and only those
    assert sorted(e for e, kind in marks.items() if kind == "public") == [
        "activitypub.fedicity_context",
        "activitypub.instance_actor",
    ]


@dataclasses.dataclass
class World:
    """An instance with one of everything a gated route serves."""

    instance: Instance
    paths: dict[str, str]
    followers_only_note: str
    draft_proposal: str


async def _world(instance: Instance, pool: Pool, keygen: FixedKeys) -> World:
    urls, clock = instance.urls, instance.clock
    now = clock.now()
    env = Env(urls=urls, clock=clock, keygen=keygen)
    await import_slice(pool, instance.settings.data_dir / "territories")
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="long enough pw", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        velo = await actor_service.create_organization(
            conn, "velo", organization_kind="association", keygen=keygen
        )
        await organization_queries.upsert_membership(
            conn,
            organization_id=velo.id,
            member_uri=urls.actor("camille"),
            state="accepted",
            role="admin",
            activity_uri=None,
            invited_by=None,
            now=now,
        )
        note_args: dict[str, Any] = {
            "actor": camille,
            "urls": urls,
            "clock": clock,
            "local_host": instance.settings.host,
            "resolved": {},
        }
        public = await posts.create_note(conn, text="Bonjour", visibility="public", **note_args)
        secret = await posts.create_note(
            conn, text="Entre nous", visibility="followers", **note_args
        )
        event = await events.create_event(
            conn,
            actor=camille,
            data=EventInput(
                title="Fête de quartier",
                starts_at=now + timedelta(days=10),
                location=Location(place_name="Place Jean-Jaurès", locality="Montreuil"),
            ),
            place=None,
            root=None,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
        room = await rooms.create_room(
            conn, actor=camille, name="Le quartier", description="", env=env, organization=velo
        )
        draft = await drafts.create_draft(
            conn, actor=camille, title="Un jardin", text="Rue de Paris.", env=env
        )
        opened = await lifecycle.open_voting(
            conn, actor=camille, proposal=draft, ends=now + timedelta(days=7), env=env
        )
        comment = await comments.comment(
            conn, actor=camille, proposal=opened, stance="for", text="Oui", env=env
        )
        hidden = await drafts.create_draft(conn, actor=camille, title="Brouillon", text="", env=env)
        in_room = await lifecycle.open_voting(
            conn,
            actor=camille,
            proposal=await drafts.create_draft(
                conn, actor=camille, title="Une piste", text="", env=env, room=room
            ),
            ends=now + timedelta(days=1),
            env=env,
        )
        await lifecycle.close(conn, actor=camille, proposal=in_room, env=env)
        resolution = await followup_queries.select_resolution_of(conn, in_room.uri)
        assert resolution is not None
        task = await actions.create(
            conn, actor=camille, room=room, fields=actions.TaskFields("Peindre"), env=env
        )
        montreuil = await territory_queries.select_territory(conn, "commune", "93048")
        assert montreuil is not None
        place = await poi_queries.upsert_place(
            conn,
            PlaceData(
                uri=urls.place("boite"),
                token="boite",
                kind="shared_library",
                name="Boîte à livres",
                description_html="",
                latitude=48.86,
                longitude=2.44,
                territory_id=montreuil.id,
                author_uri=urls.actor("camille"),
                local_actor_id=camille.id,
                local=True,
                published=now,
            ),
        )
        assert place is not None
        listing = await listings.create_listing(
            conn,
            author=camille,
            by=camille,
            data=ListingInput(kind="job", section="offer", category="training", title="Stage"),
            place=montreuil,
            root=montreuil,
            env=listings.Env(urls, clock, keygen, instance.settings.host),
        )
        need = await needs.create_need(
            conn,
            owner=velo,
            by=camille,
            values=needs.need_input(
                title="Des bras",
                description="",
                kind="volunteering",
                quantity="4",
                starts_on="",
                ends_on="",
            ),
            env=needs.Env(urls=urls, clock=clock),
        )
        activity_id = urls.activity(new_token())
        activity: dict[str, Any] = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": activity_id,
            "type": "Like",
            "actor": urls.actor("camille"),
            "object": public.uri,
            "to": [PUBLIC],
        }
        async with conn.transaction():
            await publish(
                conn, actor=camille, activity=activity, audience=Audience(), urls=urls, clock=clock
            )

    def path(uri: str) -> str:
        return uri.removeprefix(urls.base)

    paths = {
        "activitypub.actor": "/actors/camille",
        "activitypub.outbox": "/actors/camille/outbox",
        "activitypub.followers": "/actors/camille/followers",
        "activitypub.following": "/actors/camille/following",
        "activitypub.liked": "/actors/camille/liked",
        "activitypub.note": path(public.uri),
        "activitypub.replies": path(public.uri) + "/replies",
        "activitypub.note_activity": path(public.uri) + "/activity",
        "activitypub.published_activity": path(activity_id),
        "events.event_page": path(event.uri),
        "places.place_page": path(place.uri),
        "events.companion_poll": path(event.uri) + "/poll",
        "events.attendees": path(event.uri) + "/attendees",
        "organizations.members": "/actors/velo/members",
        "organizations.moderators": "/actors/velo/moderators",
        "needs.need_page": path(need.uri),
        "needs.needs_collection": "/actors/velo/needs",
        "proposals.proposal_page": path(opened.uri),
        "proposals.replies": path(opened.uri) + "/replies",
        "proposals.comment_document": path(comment.uri),
        "rooms.room_page": f"/rooms/{room.token}",
        "actions.resolution_page": path(resolution.uri),
        "actions.action_page": path(task.uri),
        "actions.room_followers": path(urls.room_followers(room.uri)),
        "listings.listing_page": path(listing.uri),
        "activitypub.instance_actor": "/actor",
        "activitypub.fedicity_context": "/ns/fedicity.jsonld",
    }
    return World(instance, paths, path(secret.uri), path(hidden.uri))


def _headers(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"Accept": accept}


def _is_activitystreams(response: httpx.Response) -> bool:
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type in AP_MEDIA_TYPES


async def test_every_gated_route_needs_a_signature_whatever_the_accept_header(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, authorized_fetch=True) as instance,
        running_peer() as peer,
        httpx.AsyncClient(trust_env=False, base_url=instance.base) as http,
    ):
        world = await _world(instance, pool, keygen)
        marks = _marks(instance.settings)
        gated = {e: kind for e, kind in marks.items() if kind in ("always", "negotiated")}
        missing = sorted(set(gated) - set(world.paths))
        assert not missing, f"gated routes this test has no sample for: {missing}"
        alice = peer.url("/users/alice")
        peer.serve("/users/alice", person(alice, KEY, username="alice"))

        for endpoint, kind in sorted(gated.items()):
            path = world.paths[endpoint]
            for accept in UNSIGNED_ACCEPTS:
                # When a client GETs the route without a signature
                response = await http.get(path, headers=_headers(accept))
                asked_for_as = accept in (AS, LD)
                where = (endpoint, accept, response.status_code, response.text[:200])
                if kind == "always" or (asked_for_as and endpoint != "activitypub.actor"):
                    # Then it must sign first
                    assert response.status_code == 401, where
                    assert problem_reason(response) == "unsigned", where
                elif asked_for_as:
                    # (an actor's key stays fetchable: the minimal document, nothing more)
                    assert response.status_code == 200, where
                    assert set(response.json()) <= {
                        "@context",
                        "id",
                        "type",
                        "preferredUsername",
                        "inbox",
                        "outbox",
                        "endpoints",
                        "publicKey",
                        "url",
                    }, where
                else:
                    # Or, asking for no ActivityStreams, it gets the public page, not the document
                    assert response.status_code in (200, 303), where
                    assert not _is_activitystreams(response), where
            # And a GET signed by a peer that is not refused is served
            signed = await http.get(
                path,
                headers=signed_get(
                    instance.base + path, alice + "#main-key", KEY, instance.clock, AS
                ),
            )
            assert signed.status_code == 200, (endpoint, signed.text[:300])
            assert _is_activitystreams(signed), (endpoint, signed.headers)

        # The public exceptions stay public
        for endpoint in ("activitypub.instance_actor", "activitypub.fedicity_context"):
            response = await http.get(world.paths[endpoint], headers={"Accept": AS})
            assert response.status_code == 200, (endpoint, response.text)
        # And the key was fetched once, from the peer, to check those signatures
        assert [seen.path for seen in peer.requests] == ["/users/alice"]


async def test_pages_of_objects_that_are_not_public_are_not_served(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False, authorized_fetch=True) as instance,
        httpx.AsyncClient(trust_env=False, base_url=instance.base) as http,
    ):
        world = await _world(instance, pool, keygen)
        # A browser gets the public post's page...
        public = await http.get(world.paths["activitypub.note"], headers={"Accept": BROWSER})
        assert public.status_code == 200, public.text
        assert "Bonjour" in public.text
        # ...but neither the page of a followers-only post nor that of a draft proposal
        for path in (world.followers_only_note, world.draft_proposal):
            for accept in (BROWSER, None, "application/json"):
                response = await http.get(path, headers=_headers(accept))
                assert response.status_code == 404, (path, accept, response.text[:200])
                assert "Entre nous" not in response.text
                assert "Brouillon" not in response.text


@pytest.mark.parametrize("accept", [AS, "application/json", None])
async def test_an_unmarked_route_serving_activitystreams_is_refused_too(
    pool: Pool, tmp_path: Path, keygen: FixedKeys, accept: str | None
) -> None:
    async with running_instance(
        pool, tmp_path, keygen, worker=False, authorized_fetch=True
    ) as instance:
        # Given a route added without the mark (the mistake the enumeration above catches)
        @instance.app.get("/forgotten")
        async def forgotten() -> Any:
            return json.dumps({"type": "Note"}), 200, {"Content-Type": AS}

        async with httpx.AsyncClient(trust_env=False, base_url=instance.base) as http:
            response = await http.get("/forgotten", headers=_headers(accept))
        # Then its ActivityStreams never goes out unsigned
        assert response.status_code == 401, response.text
        assert not _is_activitystreams(response)
