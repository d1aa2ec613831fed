"""Actor URLs: content negotiation, profile redirects, collections and generated avatars."""

from __future__ import annotations

import html
import struct
import zlib
from typing import Any

from quart import Response
from quart.typing import TestClientProtocol

from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys

BASE = "http://fedicity.test"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Cases are looped inside one test each: every test pays for a database clean-up.
AP_ACCEPTS = [
    ACTIVITY_JSON,
    LD_JSON_PROFILE,
    "application/ld+json",
    f"{ACTIVITY_JSON}, {LD_JSON_PROFILE}",  # what Mastodon sends
    f"{LD_JSON_PROFILE}, text/html;q=0.1",
]
HTML_ACCEPTS = [BROWSER, "text/html", "*/*", f"text/html, {ACTIVITY_JSON};q=0.5"]


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> None:
    # A citizen's actor; these routes never look at the account (or its slow password hash).
    async with pool.acquire() as conn:
        await actor_service.create_person(
            conn, username, keygen=keygen, display_name="Camille Martin"
        )


def _varies_on_accept(response: Response) -> bool:
    return "accept" in {name.strip().lower() for name in response.headers["Vary"].split(",")}


async def _actor(client: TestClientProtocol, path: str) -> dict[str, Any]:
    response = await client.get(path, headers={"Accept": ACTIVITY_JSON})
    assert response.status_code == 200
    document: dict[str, Any] = await response.get_json(force=True)
    return document


async def test_activitypub_clients_get_the_actor_document(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _citizen(pool, keygen)
    for accept in AP_ACCEPTS:
        # When a server asks for her actor with an ActivityPub media type
        response = await client.get("/actors/camille", headers={"Accept": accept})
        # Then it gets her ActivityStreams document as application/activity+json
        assert response.status_code == 200, accept
        assert response.mimetype == ACTIVITY_JSON, accept
        assert _varies_on_accept(response), accept
        document = await response.get_json(force=True)
        assert AS_CONTEXT in document["@context"]
        assert document["id"] == f"{BASE}/actors/camille"
        assert document["type"] == "Person"
        assert document["preferredUsername"] == "camille"
        assert document["name"] == "Camille Martin"
        assert document["url"] == f"{BASE}/@camille"
        assert document["inbox"] == f"{BASE}/actors/camille/inbox"
        assert document["publicKey"]["owner"] == document["id"]
        assert document["publicKey"]["id"] == f"{BASE}/actors/camille#main-key"
        assert document["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_browsers_get_the_profile_page(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _citizen(pool, keygen)
    for accept in HTML_ACCEPTS:
        # When a browser opens her actor URL
        response = await client.get("/actors/camille", headers={"Accept": accept})
        # Then it gets her HTML profile with her handle, pointing at the AS document
        assert response.status_code == 200, accept
        assert response.mimetype == "text/html", accept
        assert _varies_on_accept(response), accept
        page = html.unescape(await response.get_data(as_text=True))
        assert "@camille@fedicity.test" in page
        assert "Camille Martin" in page
        assert f'type="application/activity+json" href="{BASE}/actors/camille"' in page
    # And a client that sends no Accept at all gets the page too
    response = await client.get("/actors/camille")
    assert response.status_code == 200
    assert response.mimetype == "text/html"


async def test_profile_url_serves_html_to_browsers(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _citizen(pool, keygen)
    response = await client.get("/@camille", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert _varies_on_accept(response)
    assert "@camille@fedicity.test" in await response.get_data(as_text=True)


async def test_profile_url_redirects_activitypub_clients_to_the_actor_id(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _citizen(pool, keygen)
    for path in ("/@camille", "/@Camille"):
        for accept in AP_ACCEPTS:
            # When a server dereferences her profile URL asking for ActivityStreams
            response = await client.get(path, headers={"Accept": accept})
            # Then it is sent to her canonical actor id
            assert response.status_code in {301, 302, 303, 307, 308}, (path, accept)
            assert response.headers["Location"] == f"{BASE}/actors/camille", (path, accept)


async def test_unknown_actor_is_a_404_problem_for_programs(client: TestClientProtocol) -> None:
    paths = [
        "/actors/nobody",
        "/@nobody",
        "/actors/nobody/outbox",
        "/actors/nobody/followers",
        "/actors/nobody/following",
        "/actors/nobody/avatar.png",
        "/actors/instance.actor",
        "/@instance.actor",
    ]
    for path in paths:
        # When a server asks for an actor that does not exist
        response = await client.get(path, headers={"Accept": ACTIVITY_JSON})
        # Then it gets a problem document
        assert response.status_code == 404, path
        assert response.content_type == "application/problem+json", path
        problem = await response.get_json(force=True)
        assert problem["status"] == 404, path
        assert problem["title"] == "Not Found", path
        assert problem["type"] == "about:blank", path


async def test_unknown_actor_error_is_json_whatever_activitypub_type_is_asked(
    client: TestClientProtocol,
) -> None:
    # Even a client that would also take HTML, but prefers ActivityStreams, gets JSON
    for accept in AP_ACCEPTS:
        response = await client.get("/actors/nobody", headers={"Accept": accept})
        assert response.status_code == 404, accept
        assert response.content_type == "application/problem+json", accept


async def test_unknown_actor_is_a_404_page_for_browsers(client: TestClientProtocol) -> None:
    for path in ("/actors/nobody", "/@nobody"):
        response = await client.get(path, headers={"Accept": BROWSER})
        assert response.status_code == 404, path
        assert response.mimetype == "text/html", path
        page = await response.get_data(as_text=True)
        assert "404" in page
        assert "<html" in page


async def test_other_case_username_redirects_to_the_canonical_id(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen named camille
    await _citizen(pool, keygen)
    for path in ("/actors/Camille", "/actors/CAMILLE"):
        # When her actor is requested with another case
        response = await client.get(path, headers={"Accept": ACTIVITY_JSON})
        # Then the client is sent, permanently, to the one id
        assert response.status_code in {301, 308}, path
        assert response.headers["Location"] == f"{BASE}/actors/camille", path


async def test_collections_are_empty_ordered_collections(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen whose actor names her collections
    await _citizen(pool, keygen)
    actor = await _actor(client, "/actors/camille")
    ap = {"Accept": ACTIVITY_JSON}
    for name in ("outbox", "followers", "following"):
        assert actor[name] == f"{BASE}/actors/camille/{name}"
        # When a server fetches one
        response = await client.get(actor[name], headers=ap)
        # Then it is an ActivityStreams OrderedCollection whose id is that URL
        assert response.status_code == 200, name
        assert response.mimetype == ACTIVITY_JSON, name
        collection = await response.get_json(force=True)
        assert collection["@context"] == AS_CONTEXT, name
        assert collection["id"] == actor[name]
        assert collection["type"] == "OrderedCollection", name
        assert collection["totalItems"] == 0, name
        # And its items, inline or on a first page, are none
        if "orderedItems" not in collection:
            first = collection["first"]
            page = await client.get(first if isinstance(first, str) else first["id"], headers=ap)
            assert page.status_code == 200, name
            collection = await page.get_json(force=True)
            assert collection["type"] == "OrderedCollectionPage", name
            assert collection["partOf"] == actor[name]
        assert collection["orderedItems"] == [], name


async def test_organisation_actor_is_an_organization_with_its_kind(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    async with pool.acquire() as conn:
        await actor_service.create_organization(
            conn, "mairie", organization_kind="local_government", keygen=keygen
        )
    document = await _actor(client, "/actors/mairie")
    assert document["type"] == "Organization"
    assert document["organizationKind"] == "local_government"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, data) chunks, checking each CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


async def test_avatar_is_a_valid_png(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen whose actor names her avatar
    await _citizen(pool, keygen)
    icon = (await _actor(client, "/actors/camille"))["icon"]
    assert icon["mediaType"] == "image/png"
    # When the avatar is fetched
    response = await client.get(icon["url"])
    # Then it is a well-formed PNG: signature, IHDR first, IDAT, IEND last
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    chunks = _png_chunks(await response.get_data(as_text=False))
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    header = chunks[0][1]
    assert len(header) == 13
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    # A square 8-bit RGB image of a sensible avatar size
    assert width == height
    assert 48 <= width <= 1024
    assert (depth, colour_type, interlace) == (8, 2, 0)
    # And the pixel data has exactly one filter byte and three bytes per pixel per row
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + 3 * width)


async def test_avatar_is_deterministic_and_per_user(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given two citizens
    await _citizen(pool, keygen, "camille")
    await _citizen(pool, keygen, "yanis")
    # When their avatars are fetched twice
    first = await (await client.get("/actors/camille/avatar.png")).get_data(as_text=False)
    again = await (await client.get("/actors/camille/avatar.png")).get_data(as_text=False)
    other = await (await client.get("/actors/yanis/avatar.png")).get_data(as_text=False)
    # Then each user's avatar is always the same, and differs from another user's
    assert first == again
    assert first != other


async def test_avatar_is_cacheable(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _citizen(pool, keygen)
    response = await client.get("/actors/camille/avatar.png")
    assert "max-age" in response.headers["Cache-Control"]
    assert "public" in response.headers["Cache-Control"]
