"""Open data out, end to end over the app: on an instance serving the région Île-de-France (the
Montreuil/Bagnolet slice), with events (one edited, one cancelled, one remote and updated),
organisations, proposals with votes and posts, every export parses with a reader made for its
format and says what the seed holds; hostile input gets a precise 4xx."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import pytest
from geojson_pydantic import FeatureCollection
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events import service as events
from fedicity.events.models import Event, EventData, Location
from fedicity.events.service import EventInput
from fedicity.exports import tables
from fedicity.imports import queries as import_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import queries as organization_queries
from fedicity.posts import queries as post_queries
from fedicity.posts.models import PostData
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import DEFAULT_OPTIONS, Proposal, ProposalData
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.territory_helpers import served_app

BASE = "http://fedicity.test"
URLS = Urls(BASE)
FORMULA = '=HYPERLINK("http://evil.example","clic")'
REMOTE = "https://mobilizon.example/events/1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """An instance serving the région Île-de-France."""
    return dataclasses.replace(settings, territory_level="region", territory_code="11")


@pytest.fixture
async def app(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> AsyncIterator[Quart]:
    """The app, started after the slice was imported and the région prepared."""
    async with served_app(settings, pool, clock, keygen, tmp_path) as application:
        yield application


@dataclasses.dataclass
class Seed:
    edited: Event
    cancelled: Event
    camille: Actor


async def _commune(pool: Pool, code: str) -> Territory:
    async with pool.acquire() as conn:
        found = await territory_queries.select_territory(conn, "commune", code)
    assert found is not None
    return found


async def _seed(pool: Pool, clock: FrozenClock, keygen: FixedKeys) -> Seed:
    montreuil, bagnolet = await _commune(pool, "93048"), await _commune(pool, "93006")
    async with pool.acquire() as conn:
        root = await territory_queries.select_territory(conn, "region", "11")
        account = await accounts.register(
            conn, username="camille", password="correct horse battery", keygen=keygen, locale="fr"
        )

        me = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert me is not None
        start = datetime(2026, 6, 21, 12, 30, tzinfo=UTC)
        place = Location(
            place_name="Place Jean-Jaurès",
            street="1 place Jean-Jaurès",
            postal_code="93100",
            locality="Montreuil",
            latitude=48.8620,
            longitude=2.4410,
        )

        async def organise(title: str, where: Territory, tags: tuple[str, ...]) -> Event:
            return await events.create_event(
                conn,
                actor=me,
                data=EventInput(
                    title=title,
                    starts_at=start,
                    ends_at=start + timedelta(hours=3),
                    description="Apportez **vos** instruments.",
                    tags=tags,
                    location=place,
                ),
                place=where,
                root=root,
                urls=URLS,
                clock=clock,
                keygen=keygen,
            )

        async def edit(event: Event, **changes: Any) -> Event:
            return await events.update_event(
                conn,
                actor=me,
                event=event,
                data=replace(events.input_of(event), **changes),
                place=montreuil,
                root=root,
                urls=URLS,
                clock=clock,
                keygen=keygen,
            )

        edited = await organise("Fête de la musique", montreuil, ("musique",))
        clock.advance(timedelta(hours=1))
        edited = await edit(edited, title="Fête de la musique, place Jean-Jaurès")
        # Saved again unchanged: what calendars hold did not change, nor does the SEQUENCE.
        edited = await edit(edited)
        concert = await organise("Concert au parc", bagnolet, ("musique", "parc"))
        cancelled = await events.cancel_event(
            conn,
            actor=me,
            event=concert,
            place=bagnolet,
            root=root,
            urls=URLS,
            clock=clock,
            keygen=keygen,
        )
        # A remote event, updated by its organiser: once with a change, once without.
        remote = EventData(
            uri=REMOTE,
            organizer_uri="https://mobilizon.example/@collectif",
            title="Atelier vélo",
            description_html="<p>Réparons</p>",
            starts_at=start + timedelta(days=1),
            ends_at=None,
            published=datetime(2025, 12, 1, tzinfo=UTC),
            location=Location(place_name="Parc", latitude=48.8655, longitude=2.4560),
            territory_id=montreuil.id,
            tags=("velo",),
        )
        await event_queries.upsert_event(conn, remote)
        await event_queries.upsert_event(conn, replace(remote, title="Atelier vélo solidaire"))
        await event_queries.upsert_event(
            conn, replace(remote, title="Atelier vélo solidaire", raw={"seen": 2})
        )

        # Organisations: one with a formula for a name, verified SIREN, placed, in Montreuil.
        hostile = await actor_service.create_organization(
            conn, "formule", organization_kind="association", display_name=FORMULA, keygen=keygen
        )
        await organization_queries.set_identifier(
            conn,
            hostile.id,
            kind="SIREN",
            value="732829320",
            verified_at=clock.now(),
            verified_by=None,
        )
        await organization_queries.set_place(conn, hostile.id, latitude=48.861, longitude=2.443)
        await actor_queries.update_home_territory(conn, hostile.id, montreuil.id)
        other = await actor_service.create_organization(
            conn,
            "bagnolet_velo",
            organization_kind="collective",
            display_name="Vélo Bagnolet",
            keygen=keygen,
        )
        await actor_queries.update_home_territory(conn, other.id, bagnolet.id)

        # Proposals: one closed and adopted (2 for, 1 against, 1 abstain), one a draft.
        async def propose(token: str, title: str, day: int, **more: Any) -> Proposal:
            return await proposal_queries.upsert_proposal(
                conn,
                ProposalData(
                    uri=URLS.proposal(token),
                    token=token,
                    local_actor_id=me.id,
                    author_uri=URLS.actor("camille"),
                    title=title,
                    content_html=f"<p>{title}</p>",
                    options=DEFAULT_OPTIONS,
                    published=datetime(2025, 12, day, tzinfo=UTC),
                    territory_id=montreuil.id,
                    **more,
                ),
            )

        closed = await propose("jardin", "Un jardin partagé", 2, state="closed", result="adopted")
        for n, option in enumerate(("Pour", "Pour", "Contre", "Abstention")):
            await proposal_queries.upsert_vote(
                conn,
                proposal_id=closed.id,
                voter_uri=f"{BASE}/actors/voter{n}",
                options=[option],
                activity_uris=[],
                local=True,
                now=clock.now(),
            )
        await propose("brouillon", "Brouillon secret", 3)

        # Posts: a public one (located in Montreuil), an unlisted one, a followers-only one.
        for token, visibility, text, author in (
            ("public", "public", "Bonjour <b>Montreuil</b> \x0b!", me),
            ("unlisted", "unlisted", "Pas dans les listes", me),
            ("private", "followers", "Pour mes abonnés", me),
            ("asso", "public", "Assemblée générale jeudi", hostile),
        ):
            await post_queries.upsert_post(
                conn,
                PostData(
                    uri=URLS.note(token),
                    author_uri=URLS.actor(author.username),
                    local_actor_id=author.id,
                    type="Note",
                    name=None,
                    summary=None,
                    content_html=f"<p>{text}</p>",
                    in_reply_to=None,
                    url=None,
                    visibility=visibility,  # type: ignore[arg-type]
                    to_uris=[],
                    cc_uris=[],
                    sensitive=False,
                    language="fr",
                    published=datetime(2025, 12, 5, tzinfo=UTC),
                    updated=None,
                    raw=None,
                ),
            )
        await located_queries.upsert_item(
            conn,
            NewItem(
                object_uri=URLS.note("public"),
                kind="post",
                territory_id=montreuil.id,
                title="",
                summary="Bonjour Montreuil",
                url=URLS.note("public"),
                author_uri=URLS.actor("camille"),
                origin_host="fedicity.test",
                published=datetime(2025, 12, 5, tzinfo=UTC),
                latitude=48.8641,
                longitude=2.4480,
            ),
        )
    return Seed(edited=edited, cancelled=cancelled, camille=me)


def _ical(body: bytes) -> list[Any]:
    """The VEVENTs of a calendar, untyped (icalendar's property values are a wide union)."""
    events: list[Any] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    return events


async def _get(client: TestClientProtocol, url: str, status: int = 200) -> Any:
    path = url.removeprefix(BASE)
    response = await client.get(path)
    assert response.status_code == status, (path, await response.get_data(as_text=True))
    if status == 200:
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
        assert "max-age" in response.headers.get("Cache-Control", ""), path
    return response


async def test_every_export_parses_and_says_what_the_seed_holds(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    seed = await _seed(pool, clock, keygen)
    assert seed.edited.sequence == 1
    assert seed.cancelled.sequence == 1

    # iCalendar: the région's agenda holds both communes' events (descendants), the cancelled
    # one too, with SEQUENCE, STATUS, GEO and LOCATION; the UID is the event's id.
    response = await _get(client, URLS.territory_export("region", "11", "agenda.ics"))
    assert response.content_type.startswith("text/calendar")
    found = {str(c["uid"]): c for c in _ical(await response.get_data())}
    assert set(found) == {seed.edited.uri, seed.cancelled.uri, REMOTE}
    edited = found[seed.edited.uri]
    assert str(edited["summary"]) == "Fête de la musique, place Jean-Jaurès"
    assert int(edited["sequence"]) == 1
    assert str(edited["status"]) == "CONFIRMED"
    assert (edited["geo"].latitude, edited["geo"].longitude) == (48.862, 2.441)
    assert "Place Jean-Jaurès" in str(edited["location"])
    cancelled = found[seed.cancelled.uri]
    assert (str(cancelled["status"]), int(cancelled["sequence"])) == ("CANCELLED", 1)
    assert int(found[REMOTE]["sequence"]) == 1  # changed once; the raw-only resend is no change
    # The commune's agenda: its own events only.
    response = await _get(client, URLS.territory_export("commune", "93006", "agenda.ics"))
    uids = [str(c["uid"]) for c in _ical(await response.get_data())]
    assert uids == [seed.cancelled.uri]
    # A hashtag's agenda.
    response = await _get(client, URLS.tag_agenda("musique"))
    uids = [str(c["uid"]) for c in _ical(await response.get_data())]
    assert sorted(uids) == sorted([seed.edited.uri, seed.cancelled.uri])
    await _get(client, URLS.tag_agenda("inconnu"), 404)
    # The organiser's agenda and one event carry the same SEQUENCE.
    response = await _get(client, URLS.event_ical(seed.cancelled.token or ""))
    one = _ical(await response.get_data())[0]
    assert (int(one["sequence"]), str(one["status"])) == (1, "CANCELLED")

    # Feeds: no bozo, the right entries; only public posts.
    for fmt in ("rss", "atom"):
        response = await _get(client, URLS.actor_feed("camille", fmt))
        assert response.content_type.startswith(f"application/{fmt}+xml")
        body = await response.get_data()
        feed = feedparser.parse(body)
        assert not feed.bozo, feed.get("bozo_exception")
        assert [e.id for e in feed.entries] == [URLS.note("public")]
        entry = feed.entries[0]
        assert entry.link == URLS.note("public")
        assert "<b>Montreuil</b>" in entry.content[0].value
        assert entry.published_parsed[:3] == (2025, 12, 5)
        assert feed.feed.title == "Publications de camille"
        assert any(
            link.rel == "self" and link.href == URLS.actor_feed("camille", fmt)
            for link in feed.feed.links
        )
        # Conditional GET: the ETag sent back is a 304 without a body.
        again = await client.get(
            URLS.actor_feed("camille", fmt).removeprefix(BASE),
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304
        assert await again.get_data() == b""

        # An organisation's feed: its own posts, its name (a formula is only text here).
        response = await _get(client, URLS.actor_feed("formule", fmt))
        feed = feedparser.parse(await response.get_data())
        assert not feed.bozo, feed.get("bozo_exception")
        assert [e.id for e in feed.entries] == [URLS.note("asso")]
        assert feed.feed.title == f"Publications de {FORMULA}"

        response = await _get(client, URLS.territory_feed("region", "11", fmt))
        feed = feedparser.parse(await response.get_data())
        assert not feed.bozo, feed.get("bozo_exception")
        ids = [e.id for e in feed.entries]
        assert URLS.note("public") in ids
        assert seed.edited.uri in ids
        assert URLS.note("unlisted") not in ids
        assert URLS.note("private") not in ids
        assert feed.feed.title == "Fil d'actualité : Île-de-France"

        response = await _get(client, URLS.proposals_feed(fmt) + "?state=closed")
        feed = feedparser.parse(await response.get_data())
        assert not feed.bozo, feed.get("bozo_exception")
        assert [e.title for e in feed.entries] == ["Un jardin partagé"]
        response = await _get(client, URLS.proposals_feed(fmt) + "?state=voting")
        assert feedparser.parse(await response.get_data()).entries == []
        await _get(client, URLS.proposals_feed(fmt) + "?state=draft", 400)
        await _get(client, URLS.proposals_feed(fmt) + "?state=%00", 400)

    # The organisation's own contacts (imported from a register): in the CSV and the GeoJSON;
    # a website that is not safe to link is left out of both.
    formule = await _actor(pool, "formule")
    async with pool.acquire() as conn:
        await import_queries.set_organization_contacts(
            conn,
            formule.id,
            address="1 rue de la République",
            postal_code="93100",
            website="https://formule.example/",
            email="bonjour@formule.example",
        )
        await import_queries.set_organization_contacts(
            conn,
            (await _actor(pool, "bagnolet_velo")).id,
            address=None,
            postal_code=None,
            website='https://evil.example/"onclick',
            email=None,
        )

    # GeoJSON: valid RFC 7946, longitude first, with names, kinds, urls and dates.
    response = await _get(client, URLS.territory_export("region", "11", "map.geojson"))
    assert response.content_type.startswith("application/geo+json")
    document = json.loads(await response.get_data())
    collection: FeatureCollection[Any] = FeatureCollection.model_validate(document)
    by_name = {f.properties["name"]: f for f in collection.features if f.properties}
    fete = by_name["Fête de la musique, place Jean-Jaurès"]
    assert fete.geometry is not None
    assert tuple(fete.geometry.coordinates) == (2.441, 48.862)
    assert fete.properties is not None
    assert fete.properties["kind"] == "event"
    assert fete.properties["startsAt"] == "2026-06-21T12:30:00Z"
    assert fete.properties["url"] == seed.edited.uri
    assert by_name[FORMULA].properties == {
        "kind": "organization",
        "kindLabel": "Organisation",
        "name": FORMULA,
        "url": URLS.organization_page("formule"),
        "address": "1 rue de la République",
        "postalCode": "93100",
        "website": "https://formule.example/",
        "email": "bonjour@formule.example",
    }
    # An organisation with no point of its own stands at its home commune's centre, flagged.
    bagnolet_velo = by_name["Vélo Bagnolet"]
    assert bagnolet_velo.geometry is not None
    assert tuple(bagnolet_velo.geometry.coordinates) == (2.4183, 48.8692)
    assert bagnolet_velo.properties is not None
    assert bagnolet_velo.properties["approximate"] is True
    assert "website" not in bagnolet_velo.properties
    assert "approximate" not in fete.properties

    # CSV: the documented header, and a formula made text.
    def rows(body: str, header: tuple[str, ...]) -> list[dict[str, str]]:
        reader = csv.DictReader(io.StringIO(body))
        assert tuple(reader.fieldnames or ()) == header
        return list(reader)

    response = await _get(client, URLS.territory_export("region", "11", "organizations.csv"))
    assert response.content_type == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    body = await response.get_data(as_text=True)
    assert not body.startswith("\ufeff")
    directory = rows(body, tables.ORGANIZATIONS_HEADER)
    assert [r["name"] for r in directory] == ["'" + FORMULA, "Vélo Bagnolet"]
    formula, vélo = directory
    assert formula["official_id_kind"] == "SIREN"
    assert formula["official_id"] == "732829320"
    assert formula["territory_code"] == "93048"
    assert formula["territory_name"] == "Montreuil"
    assert formula["page"] == URLS.organization_page("formule")
    assert formula["actor_id"] == URLS.actor("formule")
    assert (formula["address"], formula["postal_code"]) == ("1 rue de la République", "93100")
    assert (formula["website"], formula["email"]) == (
        "https://formule.example/",
        "bonjour@formule.example",
    )
    assert vélo["territory_code"] == "93006"
    assert (vélo["address"], vélo["website"], vélo["latitude"]) == ("", "", "")
    montreuil_only = rows(
        (
            await (
                await _get(client, URLS.territory_export("commune", "93048", "organizations.csv"))
            ).get_data(as_text=True)
        ),
        tables.ORGANIZATIONS_HEADER,
    )
    assert [r["actor_id"] for r in montreuil_only] == [URLS.actor("formule")]

    response = await _get(client, URLS.territory_export("region", "11", "events.csv"))
    listed = {
        r["url"]: r for r in rows(await response.get_data(as_text=True), tables.EVENTS_HEADER)
    }
    assert set(listed) == {seed.edited.uri, seed.cancelled.uri, REMOTE}
    assert listed[seed.cancelled.uri]["status"] == "cancelled"
    fete_row = listed[seed.edited.uri]
    assert fete_row["start"] == "2026-06-21T14:30:00+02:00"
    assert fete_row["timezone"] == "Europe/Paris"
    assert (fete_row["latitude"], fete_row["longitude"]) == ("48.862000", "2.441000")
    assert fete_row["address"] == "1 place Jean-Jaurès, 93100 Montreuil"
    assert fete_row["organizer"] == URLS.actor("camille")
    assert fete_row["tags"] == "musique"

    response = await _get(client, URLS.territory_export("region", "11", "proposals.csv"))
    proposals = rows(await response.get_data(as_text=True), tables.PROPOSALS_HEADER)
    assert len(proposals) == 1  # the draft is not published
    jardin = proposals[0]
    assert (jardin["votes_for"], jardin["votes_against"], jardin["votes_abstain"]) == (
        "2",
        "1",
        "1",
    )
    assert (jardin["voters"], jardin["outcome"], jardin["state"]) == ("4", "adopted", "closed")
    assert jardin["url"] == URLS.proposal("jardin")

    # The catalogue: a dcat:Catalog whose datasets' files are the routes above.
    response = await _get(client, URLS.catalogue)
    assert response.content_type.startswith("application/ld+json")
    catalogue = json.loads(await response.get_data())
    assert catalogue["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert catalogue["@context"]["dct"] == "http://purl.org/dc/terms/"
    assert catalogue["@type"] == "dcat:Catalog"
    assert catalogue["dct:publisher"]["foaf:name"] == "Fedicity"
    assert catalogue["foaf:homepage"] == {"@id": URLS.root}
    datasets = catalogue["dcat:dataset"]
    assert {d["@id"].rsplit("#", 1)[1] for d in datasets} == {
        "agenda",
        "organizations",
        "proposals",
        "posts",
        "map",
    }
    files = set()
    for dataset in datasets:
        assert dataset["@type"] == "dcat:Dataset"
        assert dataset["dct:title"]["@language"] == "fr"
        assert dataset["dct:title"]["@value"]
        assert dataset["dct:description"]["@language"] == "fr"
        assert dataset["dct:license"] == {
            "@id": "https://www.etalab.gouv.fr/wp-content/uploads/2017/04/ETALAB-Licence-Ouverte-v2.0.pdf"
        }
        assert dataset["dct:accrualPeriodicity"]["@id"].endswith("/frequency/CONT")
        for distribution in dataset["dcat:distribution"]:
            assert distribution["@type"] == "dcat:Distribution"
            assert distribution["dcat:mediaType"]["@id"].startswith("https://www.iana.org/")
            assert distribution["dct:format"]
            url = distribution["dcat:downloadURL"]["@id"]
            assert distribution["dcat:accessURL"]["@id"] == url
            files.add(url)
    assert URLS.territory_export("region", "11", "agenda.ics") in files
    assert URLS.proposals_feed("atom") in files
    for url in files:  # every file the catalogue names is served
        await _get(client, url)

    # The page lists the same files, and the footer links to it.
    response = await client.get("/opendata")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Données ouvertes" in page
    for url in files:
        assert f'href="{url}"' in page
    assert "Licence Ouverte 2.0 (Etalab)" in page
    home = await (await client.get("/")).get_data(as_text=True)
    assert 'href="/opendata"' in home

    await _hidden_from_the_territory_is_in_no_file(client, pool, clock, seed)

    # A suspended account's feed and agenda are gone with its pages (410).
    async with pool.acquire() as conn:
        await moderation_queries.upsert_restriction(
            conn,
            actor_uri=URLS.actor("camille"),
            local_actor_id=seed.camille.id,
            level="suspend",
            reason="test",
            now=clock.now(),
        )
    await _get(client, URLS.actor_feed("camille", "rss"), 410)
    await _get(client, URLS.actor_agenda("camille"), 410)
    await _suspended_content_is_in_no_file(client, pool, clock)
    await _what_has_no_point_stands_at_its_communes_centre(client, pool)


async def _hidden_from_the_territory_is_in_no_file(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, seed: Seed
) -> None:
    """What a territory's moderators took off its pages (the located item deleted, the object
    kept) leaves the agendas, the tables, the map and the proposals' feed too."""
    jardin = URLS.proposal("jardin")
    async with pool.acquire() as conn:
        await located_queries.upsert_item(
            conn,
            NewItem(
                object_uri=jardin,
                kind="proposal",
                territory_id=(await _commune(pool, "93048")).id,
                title="Un jardin partagé",
                summary="",
                url=jardin,
                author_uri=URLS.actor("camille"),
                origin_host="fedicity.test",
                published=datetime(2025, 12, 2, tzinfo=UTC),
            ),
        )
        for uri in (seed.edited.uri, jardin):
            assert await located_queries.mark_deleted(conn, uri, clock.now())

    async def urls_in(name: str) -> str:
        response = await _get(client, URLS.territory_export("region", "11", name))
        return str(await response.get_data(as_text=True))

    for name in ("agenda.ics", "events.csv", "map.geojson"):
        body = await urls_in(name)
        assert REMOTE in body, name
        assert seed.edited.uri not in body, name
    assert jardin not in await urls_in("proposals.csv")
    response = await _get(client, URLS.proposals_feed("atom"))
    assert jardin not in await response.get_data(as_text=True)


async def _suspended_content_is_in_no_file(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock
) -> None:
    """Camille is suspended: her events, proposal and posts leave every export, as they leave
    the public pages; the remote event stays. Then the organisation: off the directory and map."""
    region = "region", "11"
    response = await _get(client, URLS.territory_export(*region, "agenda.ics"))
    assert [str(c["uid"]) for c in _ical(await response.get_data())] == [REMOTE]
    response = await _get(client, URLS.tag_agenda("musique"))
    assert _ical(await response.get_data()) == []
    response = await _get(client, URLS.territory_export(*region, "events.csv"))
    body = await response.get_data(as_text=True)
    assert [r["url"] for r in csv.DictReader(io.StringIO(body))] == [REMOTE]
    response = await _get(client, URLS.territory_export(*region, "proposals.csv"))
    assert list(csv.DictReader(io.StringIO(await response.get_data(as_text=True)))) == []
    for fmt in ("rss", "atom"):
        response = await _get(client, URLS.proposals_feed(fmt))
        assert feedparser.parse(await response.get_data()).entries == []
        response = await _get(client, URLS.territory_feed(*region, fmt))
        ids = [e.id for e in feedparser.parse(await response.get_data()).entries]
        assert not [i for i in ids if i.startswith((URLS.note(""), URLS.event("")))], ids
    response = await _get(client, URLS.territory_export(*region, "map.geojson"))
    features = json.loads(await response.get_data())["features"]
    urls = {f["properties"]["url"] for f in features}
    assert REMOTE in urls
    assert not [u for u in urls if u.startswith(URLS.event(""))], urls
    assert URLS.organization_page("formule") in urls

    formule = await _actor(pool, "formule")
    async with pool.acquire() as conn:
        await moderation_queries.upsert_restriction(
            conn,
            actor_uri=URLS.actor("formule"),
            local_actor_id=formule.id,
            level="silence",
            reason="test",
            now=clock.now(),
        )
    response = await _get(client, URLS.territory_export(*region, "organizations.csv"))
    directory = csv.DictReader(io.StringIO(await response.get_data(as_text=True)))
    assert [r["actor_id"] for r in directory] == [URLS.actor("bagnolet_velo")]
    response = await _get(client, URLS.territory_export(*region, "map.geojson"))
    urls = {f["properties"]["url"] for f in json.loads(await response.get_data())["features"]}
    assert URLS.organization_page("formule") not in urls
    assert URLS.organization_page("bagnolet_velo") in urls


async def _what_has_no_point_stands_at_its_communes_centre(
    client: TestClientProtocol, pool: Pool
) -> None:
    """An event placed in Bagnolet with no point of its own is on the map at Bagnolet's centre,
    flagged approximate, in both GeoJSON files and the list under the map."""
    unplaced = "https://mobilizon.example/events/2"
    async with pool.acquire() as conn:
        await event_queries.upsert_event(
            conn,
            EventData(
                uri=unplaced,
                organizer_uri="https://mobilizon.example/@collectif",
                title="Bourse aux vélos",
                description_html="<p>Venez</p>",
                starts_at=datetime(2026, 6, 23, 9, tzinfo=UTC),
                ends_at=None,
                published=datetime(2025, 12, 1, tzinfo=UTC),
                location=Location(locality="Bagnolet"),
                territory_id=(await _commune(pool, "93006")).id,
            ),
        )
    for url in (URLS.territory_export("region", "11", "map.geojson"), "/map/features.geojson"):
        response = await client.get(url.removeprefix(BASE))
        assert response.status_code == 200, url
        features = json.loads(await response.get_data())["features"]
        by_url = {f["properties"]["url"]: f for f in features}
        assert by_url[unplaced]["geometry"]["coordinates"] == [2.4183, 48.8692], url
        assert by_url[unplaced]["properties"]["approximate"] is True
        assert "approximate" not in by_url[REMOTE]["properties"]
    page = await (await client.get("/map")).get_data(as_text=True)
    assert page.count("position approximative (centre de la commune)") == 3  # 2 items + script


async def _actor(pool: Pool, username: str) -> Actor:
    async with pool.acquire() as conn:
        found = await actor_queries.select_actor_by_username(conn, username)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "path",
    [
        "/territoires/commune/99999/organizations.csv",
        "/territoires/commune/99999/map.geojson",
        "/territoires/commune/99999/events.csv",
        "/territoires/commune/99999/proposals.csv",
        "/territoires/commune/99999/feed.rss",
        "/territoires/commune/93048/feed.json",
        "/territoires/commune/" + "9" * 5000 + "/events.csv",
        "/actors/nobody/feed.atom",
        "/actors/" + "a" * 5000 + "/feed.rss",
        "/actors/instance.actor/feed.rss",
        "/tags/a%00b/agenda.ics",
        "/tags/" + "x" * 500 + "/agenda.ics",
        "/tags/%3Cscript%3E/agenda.ics",
        "/proposals/feed.atom?state=" + "x" * 5000,
    ],
)
async def test_hostile_or_unknown_paths_are_a_4xx(client: TestClientProtocol, path: str) -> None:
    response = await client.get(path)
    assert 400 <= response.status_code < 500, (path[:80], response.status_code)


async def test_the_costly_files_are_rate_limited_per_client_address(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys, tmp_path: Path
) -> None:
    limited = dataclasses.replace(settings, heavy_exports_per_ten_minutes=4)
    heavy = [
        URLS.territory_export("region", "11", name)
        for name in ("agenda.ics", "events.csv", "proposals.csv", "map.geojson")
    ]
    async with served_app(limited, pool, clock, keygen, tmp_path) as application:
        client = application.test_client()
        me = {"client": ("203.0.113.7", 40000)}

        async def get(url: str, scope: dict[str, Any] = me) -> Any:
            return await client.get(url.removeprefix(BASE), scope_base=scope)

        for url in heavy:
            assert (await get(url)).status_code == 200, url
        for url in (*heavy, URLS.tag_agenda("musique")):
            refused = await get(url)
            assert refused.status_code == 429, url
            assert 0 < int(refused.headers["Retry-After"]) <= 600
            problem = await refused.get_json()
            assert problem["reason"] == "rate_limited"
            assert problem["detail"].startswith("Trop de téléchargements")
        # The light files, and another address, are not held back.
        assert (await get(URLS.territory_feed("region", "11", "rss"))).status_code == 200
        assert (await get(URLS.catalogue)).status_code == 200
        other = {"client": ("198.51.100.9", 40000)}
        assert (await get(heavy[0], other)).status_code == 200
        # A new window, a new budget.
        clock.advance(timedelta(minutes=10))
        assert (await get(heavy[1])).status_code == 200
