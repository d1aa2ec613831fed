"""Local actors: creation rules, the instance actor, their AS2 documents, and plain_to_html."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fedicity.activitypub.keys import KeyPair, load_private_key, load_public_key
from fedicity.activitypub.vocab import ACTOR_CONTEXT, AS_CONTEXT, SECURITY_CONTEXT
from fedicity.actors import queries
from fedicity.actors import service as actors
from fedicity.actors.document import actor_to_ap, instance_actor_to_ap
from fedicity.actors.models import INSTANCE_ACTOR_USERNAME, ORGANIZATION_KINDS, Actor
from fedicity.actors.service import ActorError
from fedicity.db.pool import Pool
from fedicity.sanitize import html_to_text
from fedicity.textfmt import plain_to_html
from fedicity.urls import Urls
from tests.conftest import FixedKeys, fixed_keypairs

URLS = Urls("http://fedicity.test")
ISO_SECONDS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class CountingKeys:
    """Fixed keys that remember how many were handed out."""

    def __init__(self) -> None:
        self.calls = 0
        self._inner = FixedKeys()

    def __call__(self) -> KeyPair:
        self.calls += 1
        return self._inner()


def _public_numbers_match(public_pem: str | None, private_pem: str | None) -> bool:
    assert public_pem is not None
    assert private_pem is not None
    public = load_public_key(public_pem)
    assert isinstance(public, rsa.RSAPublicKey)
    return public.public_numbers() == load_private_key(private_pem).public_key().public_numbers()


# --- create_person / create_organization -----------------------------------------------------


async def test_create_person_stores_a_person_with_its_keys(pool: Pool, keygen: FixedKeys) -> None:
    expected_keys = fixed_keypairs()[0]
    async with pool.acquire() as conn:
        actor = await actors.create_person(
            conn, "Camille", keygen=keygen, display_name=" Camille Martin ", summary="Bonjour"
        )
        assert await queries.select_actor_by_id(conn, actor.id) == actor
    assert actor.kind == "person"
    assert actor.organization_kind is None
    assert actor.username == "camille"
    assert actor.display_name == "Camille Martin"
    assert actor.summary == "Bonjour"
    assert actor.manually_approves_followers is False
    assert actor.discoverable is True
    assert actor.public_key_pem == expected_keys.public_pem
    assert actor.private_key_pem == expected_keys.private_pem
    assert actor.name == "Camille Martin"


async def test_actor_without_display_name_is_named_by_its_username(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_person(conn, "yanis", keygen=keygen, display_name="   ")
    assert actor.display_name == ""
    assert actor.name == "yanis"


@pytest.mark.parametrize("kind", ORGANIZATION_KINDS)
async def test_create_organization_of_every_kind(pool: Pool, keygen: FixedKeys, kind: str) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_organization(
            conn, "orga_1", organization_kind=kind, keygen=keygen, display_name="Orga"
        )
        stored = await queries.select_actor_by_username(conn, "ORGA_1")
    assert actor.kind == "organization"
    assert actor.organization_kind == kind
    assert stored == actor


@pytest.mark.parametrize("kind", ["", "church", "Association", "person", "application"])
async def test_invalid_organization_kind_is_refused(
    pool: Pool, keygen: FixedKeys, kind: str
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ActorError) as raised:
            await actors.create_organization(conn, "orga", organization_kind=kind, keygen=keygen)
        assert raised.value.code == "organization_kind_invalid"
        assert await queries.select_actor_by_username(conn, "orga") is None


async def test_organization_follows_the_username_rules(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ActorError) as reserved:
            await actors.create_organization(
                conn, "Mairie_Officielle", organization_kind="local_government", keygen=keygen
            )
        with pytest.raises(ActorError) as invalid:
            await actors.create_organization(
                conn, "la-mairie", organization_kind="local_government", keygen=keygen
            )
    assert reserved.value.code == "username_reserved"
    assert invalid.value.code == "username_invalid"


async def test_organization_cannot_take_a_person_username(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        await actors.create_person(conn, "camille", keygen=keygen)
        with pytest.raises(ActorError) as raised:
            await actors.create_organization(
                conn, "CAMILLE", organization_kind="association", keygen=keygen
            )
        assert raised.value.code == "username_taken"
        assert await queries.count_actors(conn, "organization") == 0


@pytest.mark.parametrize(
    ("display_name", "summary", "code"),
    [
        ("x" * (actors.MAX_DISPLAY_NAME + 1), "", "display_name_too_long"),
        ("", "x" * (actors.MAX_SUMMARY + 1), "summary_too_long"),
    ],
)
async def test_overlong_profile_texts_are_refused(
    pool: Pool, keygen: FixedKeys, display_name: str, summary: str, code: str
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ActorError) as person_error:
            await actors.create_person(
                conn, "camille", keygen=keygen, display_name=display_name, summary=summary
            )
        with pytest.raises(ActorError) as organization_error:
            await actors.create_organization(
                conn,
                "mairie",
                organization_kind="local_government",
                keygen=keygen,
                display_name=display_name,
                summary=summary,
            )
        assert await queries.count_actors(conn, "person") == 0
    assert person_error.value.code == code
    assert organization_error.value.code == code


async def test_profile_texts_at_their_limits_are_accepted(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_person(
            conn,
            "camille",
            keygen=keygen,
            display_name="n" * actors.MAX_DISPLAY_NAME,
            summary="s" * actors.MAX_SUMMARY,
        )
    assert len(actor.display_name) == actors.MAX_DISPLAY_NAME
    assert len(actor.summary) == actors.MAX_SUMMARY


# --- the instance actor ----------------------------------------------------------------------


async def test_ensure_instance_actor_creates_it_once(pool: Pool) -> None:
    keys = CountingKeys()
    async with pool.acquire() as conn:
        # When the instance actor is ensured twice
        first = await actors.ensure_instance_actor(conn, keygen=keys)
        second = await actors.ensure_instance_actor(conn, keygen=keys)
        rows = await conn.fetchval("SELECT count(*) FROM actors WHERE kind = 'application'")
    # Then there is one, made with one key pair, returned both times
    assert rows == 1
    assert keys.calls == 1
    assert second == first
    assert first.kind == "application"
    assert first.username == INSTANCE_ACTOR_USERNAME
    assert _public_numbers_match(first.public_key_pem, first.private_key_pem)


async def test_instance_actor_name_cannot_be_registered(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        await actors.ensure_instance_actor(conn, keygen=keygen)
        with pytest.raises(ActorError) as raised:
            await actors.create_person(conn, INSTANCE_ACTOR_USERNAME, keygen=keygen)
    assert raised.value.code == "username_invalid"


# --- actor_to_ap -----------------------------------------------------------------------------


def _assert_key_of(doc: dict[str, Any], actor: Actor, key_id: str) -> None:
    key = doc["publicKey"]
    assert key["id"] == key_id
    assert key["owner"] == doc["id"]
    assert key["publicKeyPem"] == actor.public_key_pem
    # The published PEM loads and is the public half of the key the actor signs with
    assert _public_numbers_match(key["publicKeyPem"], actor.private_key_pem)


def _assert_published(doc: dict[str, Any], actor: Actor) -> None:
    assert ISO_SECONDS_Z.match(doc["published"])
    assert doc["published"] == actor.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_person_document_has_what_mastodon_needs(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_person(
            conn,
            "camille",
            keygen=keygen,
            display_name="Camille Martin",
            summary="Habitante du quartier.\n\nBénévole à l'AMAP.",
        )
    doc = actor_to_ap(actor, URLS)
    base = "http://fedicity.test/actors/camille"
    assert doc["@context"] == ACTOR_CONTEXT
    assert doc["@context"][:2] == [AS_CONTEXT, SECURITY_CONTEXT]
    assert doc["id"] == base
    assert doc["type"] == "Person"
    assert doc["preferredUsername"] == "camille"
    assert doc["name"] == "Camille Martin"
    # The bio is Markdown (fedicity.textfmt.render_markdown)
    assert doc["summary"] == "<p>Habitante du quartier.</p>\n<p>Bénévole à l'AMAP.</p>\n"
    assert doc["url"] == "http://fedicity.test/@camille"
    assert doc["inbox"] == f"{base}/inbox"
    assert doc["outbox"] == f"{base}/outbox"
    assert doc["followers"] == f"{base}/followers"
    assert doc["following"] == f"{base}/following"
    assert doc["endpoints"] == {"sharedInbox": "http://fedicity.test/inbox"}
    assert doc["icon"] == {
        "type": "Image",
        "mediaType": "image/png",
        "url": f"{base}/avatar.png",
    }
    assert doc["manuallyApprovesFollowers"] is False
    assert doc["discoverable"] is True
    assert doc["indexable"] is True
    assert "organizationKind" not in doc
    _assert_key_of(doc, actor, f"{base}#main-key")
    _assert_published(doc, actor)


async def test_organization_document_carries_its_type_and_kind(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_organization(
            conn,
            "amap_chavaux",
            organization_kind="association",
            keygen=keygen,
            display_name="AMAP de la Croix-de-Chavaux",
            summary="Paniers de légumes.",
        )
    doc = actor_to_ap(actor, URLS)
    base = "http://fedicity.test/actors/amap_chavaux"
    assert doc["id"] == base
    assert doc["type"] == "Organization"
    assert doc["organizationKind"] == "association"
    assert "fc:organizationKind" in doc["@context"][2].values()
    assert doc["preferredUsername"] == "amap_chavaux"
    assert doc["name"] == "AMAP de la Croix-de-Chavaux"
    assert doc["summary"] == "<p>Paniers de légumes.</p>\n"
    assert doc["url"] == "http://fedicity.test/@amap_chavaux"
    assert doc["inbox"] == f"{base}/inbox"
    assert doc["outbox"] == f"{base}/outbox"
    assert doc["followers"] == f"{base}/followers"
    assert doc["following"] == f"{base}/following"
    assert doc["endpoints"]["sharedInbox"] == "http://fedicity.test/inbox"
    assert doc["icon"]["url"] == f"{base}/avatar.png"
    _assert_key_of(doc, actor, f"{base}#main-key")
    _assert_published(doc, actor)


async def test_document_follows_profile_choices(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_person(conn, "lea", keygen=keygen)
        # When she hides from directories and approves followers by hand
        actor = await actors.update_profile(
            conn,
            actor,
            display_name="",
            summary="",
            manually_approves_followers=True,
            discoverable=False,
        )
    doc = actor_to_ap(actor, URLS)
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["discoverable"] is False
    assert doc["indexable"] is False
    # And with no display name or summary, the name falls back to the username
    assert doc["name"] == "lea"
    assert doc["summary"] == ""


async def test_documents_of_two_actors_publish_their_own_keys(
    pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        camille = await actors.create_person(conn, "camille", keygen=keygen)
        yanis = await actors.create_person(conn, "yanis", keygen=keygen)
    camille_pem = actor_to_ap(camille, URLS)["publicKey"]["publicKeyPem"]
    yanis_pem = actor_to_ap(yanis, URLS)["publicKey"]["publicKeyPem"]
    assert camille_pem != yanis_pem
    assert not _public_numbers_match(camille_pem, yanis.private_key_pem)


async def test_instance_actor_document(pool: Pool, keygen: FixedKeys) -> None:
    async with pool.acquire() as conn:
        actor = await actors.ensure_instance_actor(conn, keygen=keygen)
    # The generic serializer hands the instance actor to its own one
    doc = actor_to_ap(actor, URLS)
    assert doc == instance_actor_to_ap(actor, URLS)
    assert doc["@context"] == ACTOR_CONTEXT
    assert doc["id"] == "http://fedicity.test/actor"
    assert doc["type"] == "Application"
    assert doc["preferredUsername"] == "fedicity.test"
    assert doc["name"] == "fedicity.test"
    assert doc["url"] == "http://fedicity.test/"
    assert doc["inbox"] == "http://fedicity.test/actor/inbox"
    assert doc["outbox"] == "http://fedicity.test/actor/outbox"
    assert doc["endpoints"] == {"sharedInbox": "http://fedicity.test/inbox"}
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["discoverable"] is False
    _assert_key_of(doc, actor, "http://fedicity.test/actor#main-key")
    _assert_published(doc, actor)


def test_instance_actor_is_named_after_the_host_with_its_port() -> None:
    actor = Actor(
        id=1,
        username=INSTANCE_ACTOR_USERNAME,
        kind="application",
        organization_kind=None,
        display_name="",
        summary="",
        manually_approves_followers=True,
        discoverable=False,
        public_key_pem=fixed_keypairs()[0].public_pem,
        private_key_pem=fixed_keypairs()[0].private_pem,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    doc = actor_to_ap(actor, Urls("http://localhost:8000"))
    assert doc["preferredUsername"] == "localhost:8000"
    assert doc["id"] == "http://localhost:8000/actor"
    assert doc["published"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "hostile",
    [
        '<script>alert("x")</script>',
        "<img src=x onerror=alert(1)>",
        '"><a href="javascript:alert(1)">clic</a>',
    ],
)
async def test_hostile_profile_text_is_escaped_in_the_summary_html(
    pool: Pool, keygen: FixedKeys, hostile: str
) -> None:
    async with pool.acquire() as conn:
        actor = await actors.create_person(
            conn, "mallory", keygen=keygen, display_name=hostile, summary=f"Hi {hostile} & bye"
        )
    doc = actor_to_ap(actor, URLS)
    summary = doc["summary"]
    # Then the only tags in the summary are ours, and the text survives, escaped
    assert re.findall(r"<[^>]*>", summary) == ["<p>", "</p>"]
    assert html_to_text(summary).strip() == f"Hi {hostile} & bye"
    # And the name stays plain text (consumers escape it), exactly as typed
    assert doc["name"] == hostile


# --- plain_to_html ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("", ""),
        ("   \n\n  ", ""),
        ("Bonjour", "<p>Bonjour</p>"),
        ("  Bonjour  ", "<p>Bonjour</p>"),
        ("line one\nline two", "<p>line one<br>line two</p>"),
        ("first\n\nsecond", "<p>first</p><p>second</p>"),
        ("first\n \n\t\nsecond", "<p>first</p><p>second</p>"),
        ("first\n\n\n\nsecond", "<p>first</p><p>second</p>"),
        ("first\r\nsame\r\n\r\nsecond", "<p>first<br>same</p><p>second</p>"),
        ("a < b & c > d", "<p>a &lt; b &amp; c &gt; d</p>"),
        ("\"quoted\" 'single'", "<p>&quot;quoted&quot; &#x27;single&#x27;</p>"),
        ("<b>bold</b>", "<p>&lt;b&gt;bold&lt;/b&gt;</p>"),
        ("&amp; already", "<p>&amp;amp; already</p>"),
        ("Léa — 🚲", "<p>Léa — 🚲</p>"),
    ],
)
def test_plain_to_html(text: str, html: str) -> None:
    assert plain_to_html(text) == html


def test_plain_to_html_cannot_smuggle_a_tag_through_a_line_break() -> None:
    # The <br> is inserted after escaping, so typed "<br" stays text
    assert plain_to_html("<br>\n<br") == "<p>&lt;br&gt;<br>&lt;br</p>"
