"""Events: the recorded Mobilizon and Gancio payloads, the round trip, the local service (one
transaction with its activities and territory announces), participation through the real inbox,
iCalendar, and the pages."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import participation, queries
from fedicity.events import service as events
from fedicity.events.document import event_to_ap
from fedicity.events.models import Event, EventData, Location
from fedicity.events.parse import coordinates, event_from_ap
from fedicity.events.service import EventError, EventInput
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import prepare_serving
from fedicity.urls import Urls
from fedicity.web.app import AppState, create_app
from fedicity.workers.inbox import process_batch
from tests.conftest import FIXTURES, FixedKeys, fixed_keypairs
from tests.inbox_helpers import post_signed, seed_remote_actor
from tests.territory_helpers import import_slice

BASE = "http://fedicity.test"
URLS = Urls(BASE)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALICE = "https://mobilizon.invalid/users/alice"
BOB = "https://social.invalid/users/bob"
KEYS = {ALICE: fixed_keypairs()[3], BOB: fixed_keypairs()[4]}
PASSWORD = "correct horse battery staple"
AP = "application/activity+json"


def _prop(component: Any, name: str) -> Any:
    """An iCalendar property, untyped (its value class depends on the property)."""
    return component[name]


def fixture(name: str) -> dict[str, Any]:
    """A recorded inbound payload."""
    loaded: dict[str, Any] = json.loads((FIXTURES / "inbound" / f"{name}.json").read_text())
    return loaded


def _input(**changes: Any) -> EventInput:
    base = EventInput(
        title="Fête de quartier",
        starts_at=datetime(2026, 3, 14, 9, 0, tzinfo=UTC),
        ends_at=datetime(2026, 3, 14, 11, 30, tzinfo=UTC),
        description="Venez **nombreux** !",
        category="COMMUNITY",
        tags=("fete", "quartier"),
        location=Location(
            place_name="Place Jean-Jaurès",
            street="1 place Jean-Jaurès",
            postal_code="93100",
            locality="Montreuil",
            country="France",
            latitude=48.8638,
            longitude=2.4485,
        ),
        capacity=2,
    )
    return dataclasses.replace(base, **changes)


@dataclasses.dataclass
class Served:
    """An app serving Montreuil, a citizen organiser, and Alice (remote) known with her key."""

    app: Quart
    client: TestClientProtocol
    pool: Pool
    clock: FrozenClock
    keygen: FixedKeys
    root: Territory
    camille: Actor

    @property
    def state(self) -> AppState:
        """The app's state."""
        found: AppState = self.app.extensions["fedicity"]
        return found

    async def montreuil(self) -> Territory:
        """The served commune."""
        async with self.pool.acquire() as conn:
            found = await territory_queries.select_territory(conn, "commune", "93048")
        assert found is not None
        return found

    async def create(self, data: EventInput | None = None, *, located: bool = True) -> Event:
        """An event organised by Camille."""
        place = await self.montreuil() if located else None
        async with self.pool.acquire() as conn:
            return await events.create_event(
                conn,
                actor=self.camille,
                data=data or _input(),
                place=place,
                root=self.root,
                urls=URLS,
                clock=self.clock,
                keygen=self.keygen,
            )

    async def receive(
        self, activity: dict[str, Any], *, signer: str | None = None
    ) -> tuple[str, str]:
        """POST an activity signed by its actor to the shared inbox, run the worker:
        (state, detail)."""
        signer = signer or activity["actor"]
        assert signer is not None
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
        return row["state"], row["last_error"] or ""

    async def event(self, uri: str) -> Event | None:
        """An event as stored."""
        async with self.pool.acquire() as conn:
            return await queries.select_event(conn, uri)

    async def count(self, event: Event) -> int:
        """Accepted participants."""
        async with self.pool.acquire() as conn:
            return await queries.count_participants(conn, event.id)

    async def outbox(self, kind: str) -> list[dict[str, Any]]:
        """Activities of a type we published, in order."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT raw FROM outbox_activities WHERE type = $1 ORDER BY id", kind
            )
        return [row["raw"] for row in rows]

    async def queued_to(self, inbox: str) -> list[str]:
        """Types of the activities queued for an inbox."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT o.type FROM deliveries d JOIN outbox_activities o ON o.id = d.activity_id
                    WHERE d.inbox = $1 ORDER BY d.id""",
                inbox,
            )
        return [row["type"] for row in rows]


@pytest.fixture
async def served(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Served]:
    """The instance serving Montreuil."""
    await import_slice(pool, tmp_path)
    config = dataclasses.replace(settings, territory_level="commune", territory_code="93048")
    root = await prepare_serving(pool, config)
    assert root is not None
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, locale="fr"
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert camille is not None
    for uri, keypair in KEYS.items():
        await seed_remote_actor(pool, uri, keypair, clock.now())
    app = create_app(config, pool=pool, clock=clock, keygen=keygen)
    async with app.test_app():
        yield Served(app, app.test_client(), pool, clock, keygen, root, camille)


# --- recorded payloads -------------------------------------------------------------------------


def test_mobilizon_event_without_end_time_keeps_it_unknown() -> None:
    document = fixture("mobilizon_create_event_1")["object"]
    data = event_from_ap(document, organizer="https://test.mobilizon.org/@Alicia", now=NOW)
    assert isinstance(data, EventData)
    assert data.title == "My first event"
    assert data.starts_at == datetime(2018, 2, 12, 14, 8, 20, tzinfo=UTC)
    assert data.ends_at is None  # no endTime: not invented
    assert data.category is None  # "TODO remove me" is not an FEP-8a8e category
    assert data.location.place_name == "Locaux de Framasoft"
    assert data.location.street == "10 Rue Jangot"
    assert data.location.postal_code == "69007"
    assert data.location.locality == "Lyon"
    assert data.location.region == "Auvergne Rhône Alpes"
    assert data.public
    assert "tcit" in data.description_html  # the mention survives sanitising


def test_mobilizon_litepub_context_and_uuid_do_not_matter() -> None:
    document = fixture("mobilizon_create_event_1")["object"]
    data = event_from_ap(document, organizer="https://test.mobilizon.org/@Alicia", now=NOW)
    assert isinstance(data, EventData)
    assert data.uri == document["id"]  # not the differing "uuid"


def test_gancio_event_with_name_only_location_and_relative_hashtag() -> None:
    document = fixture("gancio_create_event_1")["object"]
    data = event_from_ap(document, organizer="https://demo.gancio.org/federation/u/gancio", now=NOW)
    assert isinstance(data, EventData)
    assert data.location.place_name == "Colosseo"
    assert data.location.street is None
    assert data.tags == ("test",)  # href "/tags/test" is relative: the name is what counts
    assert data.starts_at == datetime(2021, 7, 14, 15, 30, 57, tzinfo=UTC)  # +02:00 kept
    assert data.ends_at == datetime(2021, 7, 14, 16, 30, 57, tzinfo=UTC)
    assert data.description_html.startswith("<p>")  # plain text became paragraphs
    assert data.image_url == "https://demo.gancio.org/media/7215892e7326a9b326b6bcad5b57642e.jpg"


def test_gancio_place_with_postal_address() -> None:
    document = fixture("gancio_create_event_1")["object"]
    document["location"] = fixture("gancio_place_postal_address_1")
    document["location"]["id"] = "https://demo.gancio.org/federation/p/2"
    data = event_from_ap(document, organizer="https://demo.gancio.org/federation/u/gancio", now=NOW)
    assert isinstance(data, EventData)
    assert data.location.place_name == "Location with a postal address"
    assert data.location.postal_code == "8010"
    assert data.location.country == "Austria"
    assert data.location.street == "15 Fediverse Street"


def test_swapped_coordinates_are_detected_only_when_they_only_make_sense_swapped() -> None:
    assert coordinates(48.86, 2.44) == (48.86, 2.44, False)
    assert coordinates(2.44, 48.86) == (2.44, 48.86, False)  # plausible both ways: kept
    assert coordinates(151.2, -33.8) == (-33.8, 151.2, True)  # latitude 151 is impossible
    assert coordinates(200, 300) == (None, None, False)
    assert coordinates("nan", 2) == (None, None, False)
    document = fixture("mobilizon_create_event_1")["object"]
    document["location"]["latitude"] = 151.2
    document["location"]["longitude"] = -33.8
    data = event_from_ap(document, organizer="https://test.mobilizon.org/@Alicia", now=NOW)
    assert isinstance(data, EventData)
    assert (data.location.latitude, data.location.longitude) == (-33.8, 151.2)
    assert data.coordinates_swapped


def test_event_on_another_host_than_its_organiser_is_refused() -> None:
    document = fixture("gancio_create_event_1")["object"]
    assert isinstance(event_from_ap(document, organizer="https://evil.invalid/u", now=NOW), str)
    del document["startTime"]
    assert "startTime" in str(
        event_from_ap(document, organizer="https://demo.gancio.org/federation/u/gancio", now=NOW)
    )


# --- local events ------------------------------------------------------------------------------


async def test_round_trip_our_event_parses_back_to_the_same_event(served: Served) -> None:
    event = await served.create(
        _input(
            join_mode="restricted",
            location=dataclasses.replace(_input().location, online_url="https://visio.example/x"),
        )
    )
    document = event_to_ap(event, URLS, participant_count=0)
    back = event_from_ap(json.loads(json.dumps(document)), organizer=event.organizer_uri, now=NOW)
    assert isinstance(back, EventData)
    for name in (
        "uri",
        "title",
        "description_html",
        "starts_at",
        "ends_at",
        "timezone",
        "all_day",
        "category",
        "tags",
        "location",
        "capacity",
        "join_mode",
        "status",
        "url",
        "published",
    ):
        assert getattr(back, name) == getattr(event, name), name


async def test_create_publishes_event_with_words_and_territories_announce_it(
    served: Served,
) -> None:
    event = await served.create()
    [create, poll] = await served.outbox("Create")
    assert poll["object"]["id"] == event.uri + "/poll"  # the companion poll follows the event
    document = create["object"]
    assert document["type"] == "Event"
    assert document["startTime"] == "2026-03-14T10:00:00+01:00"
    assert document["timezone"] == "Europe/Paris"
    assert document["location"]["address"]["type"] == "PostalAddress"
    assert document["location"]["latitude"] == 48.8638
    assert document["ical:status"] == "CONFIRMED"
    assert document["maximumAttendeeCapacity"] == 2
    assert document["remainingAttendeeCapacity"] == 2
    assert document["category"] == "COMMUNITY"
    assert {t["name"] for t in document["tag"]} == {"#fete", "#quartier"}
    assert create["cc"] == [URLS.actor("camille") + "/followers"]
    # Mastodon shows Events as converted statuses: date, time and place are in the content, in
    # French, the zone named.
    assert (
        "Samedi 14 mars 2026, 10:00\u2009\u2013\u200912:30 (heure de Paris)" in document["content"]
    )
    assert "Place Jean-Jaurès" in document["content"]
    assert "<strong>nombreux</strong>" in document["content"]
    announces = await served.outbox("Announce")
    assert announces
    assert all(a["object"]["id"] == create["id"] for a in announces)
    async with served.pool.acquire() as conn:
        item = await located_queries.select_item(conn, event.uri)
    assert item is not None
    assert item.kind == "event"
    assert item.starts_at == event.starts_at


async def test_the_title_comes_first_in_the_content_then_the_date(served: Served) -> None:
    # Given an event whose title has characters HTML must escape
    event = await served.create(_input(title="Fête <du> quartier"))
    [create, _poll] = await served.outbox("Create")
    content = create["object"]["content"]
    # Then a server that shows `content` and not `name` (Takahē) still shows the title, first,
    # the way proposals do, and the date in French right after it
    title = "<p><strong>Fête &lt;du&gt; quartier</strong></p>"
    assert content.startswith(title + "<p>📅 Samedi 14 mars")
    assert content.index("nombreux") > content.index("📅")
    # And a cancelled event says so after its title
    async with served.pool.acquire() as conn:
        await events.cancel_event(
            conn,
            actor=served.camille,
            event=event,
            place=await served.montreuil(),
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    [update, _poll_update] = await served.outbox("Update")
    assert update["object"]["content"].startswith(title + "<p><strong>ANNULÉ</strong></p><p>📅")


async def test_invalid_events_are_refused(served: Served) -> None:
    cases = {
        "title_missing": _input(title="  "),
        "ends_before_start": _input(ends_at=datetime(2026, 3, 13, tzinfo=UTC)),
        "category_invalid": _input(category="TODO remove me"),
        "external_url_missing": _input(join_mode="external"),
        "location_missing": _input(location=Location()),
        "online_url_invalid": _input(
            location=Location(online_url="javascript:alert(1)", place_name="x")
        ),
        "timezone_invalid": _input(timezone="Mars/Olympus"),
        "capacity_invalid": _input(capacity=0),
    }
    for code, data in cases.items():
        with pytest.raises(EventError) as raised:
            await served.create(data)
        assert raised.value.code == code
    assert await served.outbox("Create") == []


async def test_update_cancel_delete_by_organiser_only(served: Served) -> None:
    event = await served.create()
    async with served.pool.acquire() as conn:
        other = await accounts.register(
            conn, username="dominique", password=PASSWORD, keygen=served.keygen
        )
        dominique = await actor_queries.select_actor_by_id(conn, other.actor_id)
        assert dominique is not None
        with pytest.raises(EventError):
            await events.update_event(
                conn,
                actor=dominique,
                event=event,
                data=_input(title="Pirate"),
                place=None,
                root=served.root,
                urls=URLS,
                clock=served.clock,
                keygen=served.keygen,
            )
        with pytest.raises(EventError):
            await events.delete_event(
                conn, actor=dominique, event=event, urls=URLS, clock=served.clock
            )
        cancelled = await events.cancel_event(
            conn,
            actor=served.camille,
            event=event,
            place=await served.montreuil(),
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    assert cancelled.status == "cancelled"
    assert cancelled.title == "Fête de quartier"
    [update, poll_update] = await served.outbox("Update")
    assert poll_update["object"]["type"] == "Question"
    assert update["object"]["ical:status"] == "CANCELLED"
    assert "ANNULÉ" in update["object"]["content"]
    async with served.pool.acquire() as conn:
        await events.delete_event(
            conn, actor=served.camille, event=cancelled, urls=URLS, clock=served.clock
        )
        assert await located_queries.select_item(conn, event.uri) is None
    [delete, _poll_delete] = await served.outbox("Delete")
    assert delete["object"] == {"id": event.uri, "type": "Tombstone", "formerType": "Event"}
    assert await served.event(event.uri) is None


# --- participation through the inbox -----------------------------------------------------------


def _join(event: Event, number: int = 1, actor: str = ALICE) -> dict[str, Any]:
    """The recorded Mobilizon Join, aimed at our event and sent by a seeded actor."""
    join = fixture("mobilizon_join_event_1")
    join["actor"] = actor
    join["id"] = actor.rsplit("/", 1)[0] + f"/join/event/{number}"
    join["object"] = event.uri
    return join


def _leave(event: Event, actor: str = ALICE) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor.rsplit("/", 1)[0] + "/leave/1",
        "type": "Leave",
        "actor": actor,
        "object": event.uri,
    }


async def test_join_of_open_event_is_accepted_and_counted(served: Served) -> None:
    event = await served.create()
    state, detail = await served.receive(_join(event))
    assert (state, detail) == ("done", "accepted")
    assert await served.count(event) == 1
    [accept] = await served.outbox("Accept")
    assert accept["object"]["type"] == "Join"
    assert accept["object"]["object"] == event.uri
    assert accept["actor"] == URLS.actor("camille")
    # The Accept, then the new counts: Update(Event) and Update(Question), once each.
    assert await served.queued_to("https://mobilizon.invalid/inbox") == [
        "Accept",
        "Update",
        "Update",
    ]
    response = await served.client.get(event.uri + "/attendees", headers={"Accept": AP})
    assert (await response.get_json())["totalItems"] == 1
    # A repeated Join is answered again but takes no second place, and sends no new counts.
    await served.receive(_join(event, 2))
    assert await served.count(event) == 1
    assert await served.queued_to("https://mobilizon.invalid/inbox") == [
        "Accept",
        "Update",
        "Update",
        "Accept",
    ]


async def test_join_of_full_event_is_rejected(served: Served) -> None:
    event = await served.create(_input(capacity=1))
    await served.receive(_join(event, actor=BOB))
    await served.receive(_join(event))
    assert await served.count(event) == 1
    [reject] = await served.outbox("Reject")
    assert reject["object"]["actor"] == ALICE
    async with served.pool.acquire() as conn:
        found = await queries.select_participation(conn, event.id, ALICE)
    assert found is not None
    assert found.state == "rejected"


async def test_leave_frees_the_place_and_leave_by_a_stranger_is_ignored(served: Served) -> None:
    event = await served.create(_input(capacity=1))
    state, _ = await served.receive(_leave(event, actor=BOB))
    assert state == "ignored"
    await served.receive(_join(event))
    assert await served.count(event) == 1
    state, _ = await served.receive(_leave(event))
    assert state == "done"
    assert await served.count(event) == 0
    await served.receive(_join(event, 2, actor=BOB))
    assert await served.count(event) == 1


async def test_restricted_event_waits_for_the_organiser(served: Served) -> None:
    event = await served.create(_input(join_mode="restricted"))
    await served.receive(_join(event))
    assert await served.count(event) == 0
    assert await served.outbox("Accept") == []
    async with served.pool.acquire() as conn:
        assert not await participation.decide_pending(
            conn, event=event, actor_uri=BOB, approve=True, urls=URLS, clock=served.clock
        )
        assert await participation.decide_pending(
            conn, event=event, actor_uri=ALICE, approve=True, urls=URLS, clock=served.clock
        )
    assert await served.count(event) == 1
    [accept] = await served.outbox("Accept")
    assert accept["object"]["id"] == _join(event)["id"]


async def test_invite_only_event_rejects_the_uninvited(served: Served) -> None:
    event = await served.create(_input(join_mode="invite"))
    await served.receive(_join(event, actor=BOB))
    async with served.pool.acquire() as conn:
        await participation.invite(conn, event=event, actor_uri=ALICE, clock=served.clock)
    await served.receive(_join(event))
    assert [r["object"]["actor"] for r in await served.outbox("Reject")] == [BOB]
    assert [a["object"]["actor"] for a in await served.outbox("Accept")] == [ALICE]


async def test_external_event_rejects_with_the_url(served: Served) -> None:
    event = await served.create(
        _input(join_mode="external", external_url="https://billetterie.example/fete")
    )
    await served.receive(_join(event))
    [reject] = await served.outbox("Reject")
    assert reject["externalParticipationUrl"] == "https://billetterie.example/fete"


async def test_join_of_cancelled_event_is_rejected(served: Served) -> None:
    event = await served.create()
    async with served.pool.acquire() as conn:
        await events.cancel_event(
            conn,
            actor=served.camille,
            event=event,
            place=None,
            root=served.root,
            urls=URLS,
            clock=served.clock,
            keygen=served.keygen,
        )
    await served.receive(_join(event))
    assert len(await served.outbox("Reject")) == 1


# --- remote events through the inbox -----------------------------------------------------------


def _remote_event(actor: str = ALICE, **changes: Any) -> dict[str, Any]:
    create = copy.deepcopy(fixture("mobilizon_create_event_1"))
    document = create["object"]
    document.update(
        id="https://mobilizon.invalid/events/1",
        attributedTo=ALICE,
        endTime="2026-05-01T20:00:00Z",
        startTime="2026-05-01T18:00:00Z",
    )
    document["location"]["address"].update(postalCode="93100", addressLocality="Montreuil")
    document.update(changes)
    create.update(id="https://mobilizon.invalid/events/1/activity", actor=actor)
    return create


async def test_remote_event_in_our_territory_is_stored_and_in_the_agenda(served: Served) -> None:
    state, detail = await served.receive(_remote_event())
    assert state == "done", detail
    stored = await served.event("https://mobilizon.invalid/events/1")
    assert stored is not None
    assert stored.territory_id is not None
    response = await served.client.get("/territoires/commune/93048/agenda.ics")
    calendar = icalendar.Calendar.from_ical(await response.get_data())
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["My first event"]
    page = await served.client.get("/territoires/commune/93048", headers={"Accept": "text/html"})
    assert "My first event" in await page.get_data(as_text=True)


async def test_an_event_at_14_30_in_paris_shows_14_30_everywhere(served: Served) -> None:
    # Given an event at 14:30 Paris time (13:30 UTC in March)
    event = await served.create(
        _input(
            starts_at=datetime(2026, 3, 14, 13, 30, tzinfo=UTC),
            ends_at=datetime(2026, 3, 14, 16, 0, tzinfo=UTC),
            timezone="Europe/Paris",
        )
    )
    html = {"Accept": "text/html"}
    # Then the territory's agenda, the agenda and the event's page all say 14:30, never 13:30
    pages = {
        "territory": "/territoires/commune/93048",
        "agenda": "/events",
        "event": event.uri.removeprefix(BASE),
    }
    for name, path in pages.items():
        page = await (await served.client.get(path, headers=html)).get_data(as_text=True)
        # French writes "14 h 30" with no-break spaces.
        text = page.replace("\u00a0", " ").replace("\u202f", " ")
        assert "Fête de quartier" in text, name
        assert "14:30" in text or "14 h 30" in text, name
        assert "13:30" not in text, name
        assert "13 h 30" not in text, name


async def test_remote_event_elsewhere_that_nobody_follows_is_ignored(served: Served) -> None:
    create = _remote_event()
    create["object"]["location"]["address"]["postalCode"] = "69007"
    state, _ = await served.receive(create)
    assert state == "ignored"
    async with served.pool.acquire() as conn:
        await follow_queries.upsert_follow(
            conn,
            follower=URLS.actor("camille"),
            followee=ALICE,
            activity_uri=BASE + "/activities/f1",
            accepted=True,
            now=served.clock.now(),
        )
    create["id"] += "2"
    state, _ = await served.receive(create)
    assert state == "done"


async def test_update_by_non_organiser_is_ignored_and_delete_by_organiser_works(
    served: Served,
) -> None:
    await served.receive(_remote_event())
    update = _remote_event(actor=BOB)
    update.update(type="Update", id="https://social.invalid/updates/1")
    update["object"]["name"] = "Pirated"
    update["object"]["attributedTo"] = BOB
    state, _ = await served.receive(update, signer=BOB)
    assert state == "ignored"
    stored = await served.event("https://mobilizon.invalid/events/1")
    assert stored is not None
    assert stored.title == "My first event"
    update = _remote_event()
    update.update(type="Update", id="https://mobilizon.invalid/updates/2")
    update["object"]["ical:status"] = "CANCELLED"
    assert (await served.receive(update))[0] == "done"
    stored = await served.event("https://mobilizon.invalid/events/1")
    assert stored is not None
    assert stored.status == "cancelled"
    delete = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://social.invalid/deletes/1",
        "type": "Delete",
        "actor": BOB,
        "object": {"id": "https://mobilizon.invalid/events/1", "type": "Tombstone"},
    }
    assert (await served.receive(delete, signer=BOB))[0] == "ignored"
    delete.update(id="https://mobilizon.invalid/deletes/1", actor=ALICE)
    assert (await served.receive(delete))[0] == "done"
    assert await served.event("https://mobilizon.invalid/events/1") is None


async def test_delete_of_an_event_by_bare_id_only_from_its_organiser(served: Served) -> None:
    await served.receive(_remote_event())
    event_uri = "https://mobilizon.invalid/events/1"
    delete = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://social.invalid/deletes/bare",
        "type": "Delete",
        "actor": BOB,
        "object": event_uri,
    }
    state, detail = await served.receive(delete, signer=BOB)
    assert (state, detail) == ("ignored", "only the organiser can delete an event")
    assert await served.event(event_uri) is not None
    delete.update(id="https://mobilizon.invalid/deletes/bare", actor=ALICE)
    assert (await served.receive(delete))[0] == "done"
    assert await served.event(event_uri) is None
    async with served.pool.acquire() as conn:
        located = await conn.fetchval(
            "SELECT deleted_at IS NOT NULL FROM located_items WHERE object_uri = $1", event_uri
        )
    assert located is True
    # Our own event cannot be deleted by a remote actor, not even one naming it by id.
    ours = await served.create()
    forged = dict(delete, id="https://mobilizon.invalid/deletes/ours", object=ours.uri)
    assert (await served.receive(forged))[0] == "ignored"
    assert await served.event(ours.uri) is not None


async def test_accept_of_our_join_to_a_remote_event(served: Served) -> None:
    await served.receive(_remote_event())
    remote = await served.event("https://mobilizon.invalid/events/1")
    assert remote is not None
    async with served.pool.acquire() as conn:
        await participation.join_remote(
            conn, actor=served.camille, event=remote, urls=URLS, clock=served.clock
        )
    [join] = await served.outbox("Join")
    accept = fixture("mobilizon_accept_join_1")
    accept.update(actor=ALICE, id="https://mobilizon.invalid/accept/join/1")
    accept["object"] = {k: v for k, v in join.items() if k != "@context"}
    forged = dict(accept, id="https://social.invalid/accept/1", actor=BOB)
    assert (await served.receive(forged, signer=BOB))[0] == "ignored"
    assert (await served.receive(accept))[0] == "done"
    async with served.pool.acquire() as conn:
        found = await queries.select_participation(conn, remote.id, URLS.actor("camille"))
    assert found is not None
    assert found.state == "accepted"


# --- iCalendar and pages -----------------------------------------------------------------------


async def test_ics_of_an_event_and_of_its_organiser(served: Served) -> None:
    event = await served.create()
    for path in (event.uri.removeprefix(BASE) + ".ics", "/actors/camille/events.ics"):
        response = await served.client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/calendar"
        calendar = icalendar.Calendar.from_ical(await response.get_data())
        [vevent] = calendar.walk("VEVENT")
        assert _prop(vevent, "DTSTART").params["TZID"] == "Europe/Paris"
        assert _prop(vevent, "DTSTART").dt == datetime(
            2026, 3, 14, 10, 0, tzinfo=_prop(vevent, "DTSTART").dt.tzinfo
        )
        assert _prop(vevent, "DTSTART").dt.astimezone(UTC) == event.starts_at
        assert str(_prop(vevent, "SUMMARY")) == "Fête de quartier"
        assert "Place Jean-Jaurès" in str(_prop(vevent, "LOCATION"))
        assert str(_prop(vevent, "STATUS")) == "CONFIRMED"
        assert calendar.walk("VTIMEZONE")


async def test_all_day_ics_uses_dates(served: Served) -> None:
    event = await served.create(_input(all_day=True))
    response = await served.client.get(event.uri.removeprefix(BASE) + ".ics")
    [vevent] = icalendar.Calendar.from_ical(await response.get_data()).walk("VEVENT")
    assert _prop(vevent, "DTSTART").dt.isoformat() == "2026-03-14"


async def test_event_page_is_content_negotiated(served: Served) -> None:
    event = await served.create()
    path = event.uri.removeprefix(BASE)
    document = await (await served.client.get(path, headers={"Accept": AP})).get_json()
    assert document["type"] == "Event"
    assert document["id"] == event.uri
    page = await served.client.get(path, headers={"Accept": "text/html"})
    assert "Fête de quartier" in await page.get_data(as_text=True)
    assert (await served.client.get("/events/nope", headers={"Accept": AP})).status_code == 404


async def test_event_page_names_its_organiser_not_her_actor_url(served: Served) -> None:
    event = await served.create()
    page = await served.client.get(
        event.uri.removeprefix(BASE), headers={"Accept": "text/html", "Accept-Language": "en"}
    )
    text = await page.get_data(as_text=True)
    organiser = re.search(r"Organised by (.*?)</p>", text, re.S)
    assert organiser is not None
    assert "@camille@" in organiser.group(1)
    assert "/actors/" not in re.sub(r'href="[^"]*"', "", organiser.group(1))


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    await client.post(
        "/login", form={"csrf_token": match.group(1), "login": username, "password": PASSWORD}
    )
    page = await (await client.get("/events/new")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def test_form_creates_an_event_and_a_citizen_takes_part_and_leaves(served: Served) -> None:
    csrf = await _log_in(served.client, "camille")
    response = await served.client.post(
        "/events",
        form={
            "csrf_token": csrf,
            "title": "Atelier vélo",
            "starts_at": "2026-04-04T14:00",
            "ends_at": "2026-04-04T17:00",
            "place_name": "Garage solidaire",
            "postal_code": "93100",
            "locality": "Montreuil",
            "territory": "93048",
            "join_mode": "free",
            "capacity": "10",
        },
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    path = response.headers["Location"]
    event = await served.event(BASE + path if path.startswith("/") else path)
    assert event is not None
    assert event.starts_at == datetime(2026, 4, 4, 12, 0, tzinfo=UTC)
    await served.client.post(path + "/participate", form={"csrf_token": csrf})
    assert await served.count(event) == 1
    await served.client.post(path + "/leave", form={"csrf_token": csrf})
    assert await served.count(event) == 0
    refused = await served.client.post(path + "/participate", form={})
    assert refused.status_code == 400  # no CSRF token


async def test_ics_of_unknown_things_are_404(served: Served) -> None:
    for path in (
        "/events/nope.ics",
        "/actors/nobody/events.ics",
        "/territoires/commune/00000/agenda.ics",
    ):
        assert (await served.client.get(path)).status_code == 404


# --- image, programme, republished counts ------------------------------------------------------


async def test_image_is_a_web_address_federated_as_a_banner(served: Served) -> None:
    for bad in (
        "javascript:alert(1)",
        "ftp://files.example/a.png",
        "//cdn.example/a.png",
        "https://img.example/a b.png",
        "data:image/png;base64,AAAA",
    ):
        with pytest.raises(EventError) as refused:
            await served.create(_input(image_url=bad))
        assert refused.value.code == "image_url_invalid"
    event = await served.create(_input(image_url="https://img.example/banniere.jpg?v=2"))
    document = event_to_ap(event, URLS, participant_count=0)
    assert document["image"]["url"] == "https://img.example/banniere.jpg?v=2"
    assert document["image"]["mediaType"] == "image/jpeg"
    assert {
        "type": "Document",
        "name": "Banner",
        "mediaType": "image/jpeg",
        "url": "https://img.example/banniere.jpg?v=2",
    } in document["attachment"]
    parsed = event_from_ap(document, organizer=event.organizer_uri, now=NOW)
    assert isinstance(parsed, EventData)
    assert parsed.image_url == event.image_url
    # An address with no image extension is still the `image`, but no attachment is guessed.
    plain = await served.create(_input(image_url="https://img.example/picture"))
    plain_document = event_to_ap(plain, URLS, participant_count=0)
    assert plain_document["image"]["url"] == "https://img.example/picture"
    assert all(item["type"] == "Link" for item in plain_document["attachment"])
    # The form refuses a bad address with a message, and keeps a good one on edit.
    csrf = await _log_in(served.client, "camille")
    page = await served.client.post(
        event.uri + "/edit",
        form={
            "csrf_token": csrf,
            "title": "Fête",
            "starts_at": "2026-04-04T14:00",
            "place_name": "Mairie",
            "image_url": "javascript:alert(1)",
        },
    )
    assert page.status_code == 200
    assert (await served.event(event.uri)) == event  # unchanged
    form = await (await served.client.get(event.uri + "/edit")).get_data(as_text=True)
    assert 'name="image_url"' in form
    assert "https://img.example/banniere.jpg?v=2" in form


async def test_programme_groups_one_organisers_events_one_level_deep(served: Served) -> None:
    festival = await served.create(_input(title="Festival"))
    concert = await served.create(_input(title="Concert", parent_uri=festival.uri))
    assert concert.parent_id == festival.id
    assert event_to_ap(concert, URLS, participant_count=0)["superEvent"] == festival.uri
    [create] = [a for a in await served.outbox("Create") if a["object"]["id"] == concert.uri]
    assert create["object"]["superEvent"] == festival.uri
    page = await (await served.client.get(festival.uri)).get_data(as_text=True)
    assert concert.uri in page
    assert "Concert" in page
    child_page = await (await served.client.get(concert.uri)).get_data(as_text=True)
    assert festival.uri in child_page
    # Another organiser's event cannot be the parent
    async with served.pool.acquire() as conn:
        account = await accounts.register(
            conn, username="dominique", password=PASSWORD, keygen=served.keygen, locale="fr"
        )
        dominique = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert dominique is not None
    async with served.pool.acquire() as conn:
        with pytest.raises(EventError) as refused:
            await events.create_event(
                conn,
                actor=dominique,
                data=_input(parent_uri=festival.uri),
                place=None,
                root=served.root,
                urls=URLS,
                clock=served.clock,
                keygen=served.keygen,
            )
        assert refused.value.code == "parent_invalid"

        async def edit(event: Event, parent: str | None) -> Event:
            return await events.update_event(
                conn,
                actor=served.camille,
                event=event,
                data=dataclasses.replace(events.input_of(event), parent_uri=parent),
                place=None,
                root=served.root,
                urls=URLS,
                clock=served.clock,
                keygen=served.keygen,
            )

        for event, parent in (
            (festival, festival.uri),  # itself
            (festival, concert.uri),  # a loop through its own sub-event
            (await served.create(_input(title="Atelier")), concert.uri),  # two levels
            (concert, BASE + "/events/nope"),  # unknown
        ):
            with pytest.raises(EventError) as refused:
                await edit(event, parent)
            assert refused.value.code == "parent_invalid"
        # Leaving the programme works, and the edit form offers only main events, not itself
        assert (await edit(concert, None)).parent_uri is None
    csrf = await _log_in(served.client, "camille")
    assert csrf
    form = await (await served.client.get(festival.uri + "/edit")).get_data(as_text=True)
    options = re.findall(r'<option value="(http[^"]+)"', form)
    assert festival.uri not in options
    assert concert.uri in options  # a main event again


def _kinds(activities: list[dict[str, Any]]) -> list[str]:
    return [a["object"]["type"] for a in activities]


async def test_counts_are_republished_once_per_change_of_participation(served: Served) -> None:
    event = await served.create(_input(capacity=5))
    assert await served.outbox("Update") == []

    async def updates() -> list[dict[str, Any]]:
        return await served.outbox("Update")

    # A remote Join: one Update(Event) with the count, one Update(Question) with the tallies
    await served.receive(_join(event))
    found = await updates()
    assert _kinds(found) == ["Event", "Question"]
    assert found[0]["object"]["participantCount"] == 1
    assert found[0]["object"]["remainingAttendeeCapacity"] == 4
    assert found[1]["object"]["oneOf"][0]["replies"]["totalItems"] == 1
    # The same Join again, and a Leave by a stranger: nothing moved, nothing sent
    await served.receive(_join(event, 2))
    await served.receive(_leave(event, actor=BOB))
    assert len(await updates()) == 2
    # The page buttons of a local citizen: join, join again, leave, leave again
    csrf = await _log_in(served.client, "camille")
    await served.client.post(event.uri + "/participate", form={"csrf_token": csrf})
    await served.client.post(event.uri + "/participate", form={"csrf_token": csrf})
    found = await updates()
    assert _kinds(found) == ["Event", "Question"] * 2
    assert found[-2]["object"]["participantCount"] == 2
    await served.client.post(event.uri + "/leave", form={"csrf_token": csrf})
    await served.client.post(event.uri + "/leave", form={"csrf_token": csrf})
    found = await updates()
    assert _kinds(found) == ["Event", "Question"] * 3
    assert found[-2]["object"]["participantCount"] == 1
    # Alice leaves: the count goes down once more, and she is told too (not listed in `to`)
    await served.receive(_leave(event))
    found = await updates()
    assert len(found) == 8
    assert found[-2]["object"]["participantCount"] == 0
    assert ALICE not in found[-2]["to"] + found[-2]["cc"]
    assert "Update" in await served.queued_to("https://mobilizon.invalid/inbox")


async def test_a_full_event_says_so_and_its_organiser_sees_who_comes_and_confirms_deletion(
    served: Served,
) -> None:
    # Given an event for one person, and Dominique who takes the place
    event = await served.create(_input(capacity=1))
    async with served.pool.acquire() as conn:
        for name in ("dominique", "lea"):
            await accounts.register(
                conn, username=name, password=PASSWORD, keygen=served.keygen, locale="en"
            )
        await participation.answer_join(
            conn,
            event=event,
            actor_uri=URLS.actor("dominique"),
            join=None,
            urls=URLS,
            clock=served.clock,
        )
    path = event.uri.removeprefix(BASE)
    browser = {"Accept": "text/html"}
    # When Léa opens it, it says it is full and offers no « Take part »
    lea = served.app.test_client()
    await _log_in(lea, "lea")
    page = await (await lea.get(path, headers=browser)).get_data(as_text=True)
    assert "This event is full." in page
    assert "/participate" not in page
    # And the organiser sees who comes, by name, and each irreversible action asks once more
    await _log_in(served.client, "camille")
    page = await (await served.client.get(path, headers=browser)).get_data(as_text=True)
    attendees = page.split('class="attendees"', 1)[1].split("</section>", 1)[0]
    assert "@dominique@fedicity.test" in attendees
    for action in ("/cancel", "/delete"):
        confirm = re.search(
            rf'<details class="confirm"><summary>[^<]+</summary><form method="post" '
            rf'action="[^"]*{action}"',
            page,
        )
        assert confirm is not None, action
