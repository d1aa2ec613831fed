"""Event images uploaded from the form: checked by their bytes, stored once under their hash,
served with safe headers, federated with their size; body caps per route (uploads get more room,
inboxes keep 1 MiB)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any, cast

import pytest
from quart import Quart
from quart.datastructures import FileStorage
from quart.testing.connections import TestHTTPConnection
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.settings import Settings
from tests.conftest import FixedKeys
from tests.media.images import GIF_1X1, jpeg, png

BASE = "http://fedicity.test"
PASSWORD = "correct horse battery staple"
AP = "application/activity+json"
MiB = 1024 * 1024


@pytest.fixture
async def csrf(client: TestClientProtocol, pool: Pool, keygen: FixedKeys) -> str:
    """Camille, logged in; her form token."""
    async with pool.acquire() as conn:
        await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
    page = await (await client.get("/login")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    page = await (await client.get("/events/new")).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'name="image_file"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


def _form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "title": "Troc de plantes",
        "starts_at": "2026-05-02T10:00",
        "place_name": "Square Jean-Moulin",
        **changes,
    }


def _file(data: bytes, filename: str = "photo.png", content_type: str = "image/png") -> Any:
    from io import BytesIO

    return {"image_file": FileStorage(BytesIO(data), filename=filename, content_type=content_type)}


async def _post(
    client: TestClientProtocol, path: str, csrf: str, data: bytes | None, **form: str
) -> Any:
    return await client.post(
        path, form=_form(csrf, **form), files=_file(data) if data is not None else None
    )


def _stored(settings: Settings) -> list[Path]:
    return sorted(p for p in (settings.data_dir / "media").rglob("*") if p.is_file())


async def test_uploaded_png_is_stored_served_federated_and_shown(
    client: TestClientProtocol, csrf: str, settings: Settings, pool: Pool
) -> None:
    # Given a real 3x2 PNG
    image = png(3, 2)
    sha = hashlib.sha256(image).hexdigest()
    # When Camille organises an event with it (and an address too: the file wins)
    response = await _post(
        client, "/events", csrf, image, image_url="https://img.example/other.jpg"
    )
    # Then the event is saved and its image is the stored file
    assert response.status_code == 303, await response.get_data(as_text=True)
    path = response.headers["Location"]
    [stored] = _stored(settings)
    assert stored == settings.data_dir / "media" / sha[:2] / f"{sha}.png"
    assert stored.read_bytes() == image
    url = f"{BASE}/media/{sha}.png"
    async with pool.acquire() as conn:
        event = await event_queries.select_event(conn, BASE + path)
        row = await conn.fetchrow("SELECT * FROM media WHERE sha256 = $1", sha)
    assert event is not None
    assert event.image_url == url
    assert (event.image_media_type, event.image_width, event.image_height) == ("image/png", 3, 2)
    assert row is not None
    assert (row["width"], row["height"], row["size"]) == (3, 2, len(image))
    # And it federates as an absolute URL with its type and size, for FEP-8a8e and Mastodon
    document = await (await client.get(path, headers={"Accept": AP})).get_json()
    expected = {"mediaType": "image/png", "url": url, "width": 3, "height": 2}
    assert document["image"] == {"type": "Image", "name": "Banner", **expected}
    assert {"type": "Document", "name": "Banner", **expected} in document["attachment"]
    # And the page shows it
    page = await (await client.get(path, headers={"Accept": "text/html"})).get_data(as_text=True)
    assert f'src="{url}" width="3" height="2"' in page
    # And editing without a new file keeps the image and its size (the form shows its address)
    form = await (await client.get(path + "/edit")).get_data(as_text=True)
    assert url in form
    edited = await _post(client, path + "/edit", csrf, None, title="Troc", image_url=url)
    assert edited.status_code == 303
    async with pool.acquire() as conn:
        again = await event_queries.select_event(conn, BASE + path)
    assert again is not None
    assert again.title == "Troc"
    assert (again.image_url, again.image_width, again.image_height) == (url, 3, 2)


async def test_uploaded_jpeg_replaces_the_image_on_edit(
    client: TestClientProtocol, csrf: str, settings: Settings, pool: Pool
) -> None:
    response = await _post(client, "/events", csrf, None, image_url="https://img.example/a.png")
    path = response.headers["Location"]
    image = jpeg(640, 480)
    edited = await client.post(
        path + "/edit", form=_form(csrf), files=_file(image, "a.jpeg", "image/jpeg")
    )
    assert edited.status_code == 303
    document = await (await client.get(path, headers={"Accept": AP})).get_json()
    sha = hashlib.sha256(image).hexdigest()
    assert document["image"]["url"] == f"{BASE}/media/{sha}.jpg"
    assert (document["image"]["width"], document["image"]["height"]) == (640, 480)
    assert document["image"]["mediaType"] == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"just some text, not a picture\n", "photo.png", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "image/svg+xml"),
        (b"GIF89a" + b"\x00" * 4, "tiny.gif", "image/gif"),  # right magic, zero size
        (b"\x89PNG\r\n\x1a\n" + b"A" * 40, "cut.png", "image/png"),  # magic, then garbage
    ],
)
async def test_a_fake_image_is_refused_with_a_form_error(
    client: TestClientProtocol,
    csrf: str,
    settings: Settings,
    pool: Pool,
    data: bytes,
    filename: str,
    content_type: str,
) -> None:
    response = await client.post(
        "/events",
        form=_form(csrf),
        files=_file(data, filename, content_type),
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "The picture must be a PNG, JPEG, GIF or WebP image." in page
    assert "Troc de plantes" in page  # the rest of the form is kept
    assert _stored(settings) == []
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
        assert await conn.fetchval("SELECT count(*) FROM media") == 0


async def test_the_same_file_twice_is_stored_once(
    client: TestClientProtocol, csrf: str, settings: Settings, pool: Pool
) -> None:
    for title in ("Premier", "Second"):
        response = await _post(client, "/events", csrf, GIF_1X1, title=title)
        assert response.status_code == 303
    sha = hashlib.sha256(GIF_1X1).hexdigest()
    assert _stored(settings) == [settings.data_dir / "media" / sha[:2] / f"{sha}.gif"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM media") == 1
        urls = await conn.fetch("SELECT DISTINCT image_url FROM events")
    assert [row["image_url"] for row in urls] == [f"{BASE}/media/{sha}.gif"]
    # Another file is another entry
    await _post(client, "/events", csrf, png(shade=9), title="Troisième")
    assert len(_stored(settings)) == 2


async def test_an_upload_over_the_limit_is_413(
    client: TestClientProtocol, csrf: str, settings: Settings, pool: Pool
) -> None:
    assert settings.max_upload_bytes == 5 * MiB
    # A real PNG header padded past 5 MiB (the request still fits the route's cap)...
    big = png() + b"\x00" * (settings.max_upload_bytes)
    response = await _post(client, "/events", csrf, big, title="Trop gros")
    assert response.status_code == 413
    # Form errors speak the page's language (French by default).
    assert "image est trop lourde." in await response.get_data(as_text=True)
    # ... and a body past the route's cap altogether
    huge = png() + b"\x00" * (settings.max_upload_bytes + settings.max_body_bytes)
    response = await _post(client, "/events", csrf, huge, title="Bien trop gros")
    assert response.status_code == 413
    assert _stored(settings) == []
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
    # Just under the limit is fine
    fits = png() + b"\x00" * (settings.max_upload_bytes - len(png()))
    response = await _post(client, "/events", csrf, fits, title="Juste assez")
    assert response.status_code == 303


async def _stream(
    client: TestClientProtocol,
    path: str,
    content_type: str,
    *,
    first: bytes = b"",
    declared: int | None = None,
) -> tuple[int | None, int]:
    """Send a body chunk by chunk, without end, until the app answers; (status, bytes sent)."""
    headers = {"Content-Type": content_type}
    if declared is not None:
        headers["Content-Length"] = str(declared)
    sent = 0
    chunk = b"\x00" * (64 * 1024)
    async with client.request(path, method="POST", headers=headers) as opened:
        connection = cast(TestHTTPConnection, opened)  # the protocol does not name status_code
        await connection.send(first)
        while connection.status_code is None and sent < 64 * MiB:
            await connection.send(chunk)
            sent += len(chunk)
            for _ in range(5):
                await asyncio.sleep(0)
        status = connection.status_code
        await connection.disconnect()
    return status, sent


async def test_a_body_past_the_cap_is_refused_while_it_streams(
    client: TestClientProtocol, settings: Settings
) -> None:
    multipart = "multipart/form-data; boundary=x"
    part = (
        b'--x\r\nContent-Disposition: form-data; name="image_file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    # An endless upload stops at the upload route's cap, not when the client is done
    status, sent = await _stream(client, "/events", multipart, first=part)
    assert status == 413
    assert sent <= settings.max_upload_bytes + settings.max_body_bytes + 64 * 1024
    # An inbox stops at 1 MiB
    status, sent = await _stream(client, "/inbox", "application/activity+json")
    assert status == 413
    assert sent <= settings.max_body_bytes + 64 * 1024
    # A declared length past the cap is refused at once, long before that much is sent
    status, sent = await _stream(client, "/inbox", "application/activity+json", declared=2 * MiB)
    assert status == 413
    assert sent <= 2 * 64 * 1024


@pytest.mark.usefixtures("csrf")
async def test_inboxes_keep_the_one_mebibyte_cap(app: Quart, client: TestClientProtocol) -> None:
    # The app lets upload routes take 21 MiB (four photos of a place), but an inbox still
    # refuses anything past 1 MiB
    assert app.config["MAX_CONTENT_LENGTH"] == 21 * MiB
    body = b'{"type": "Like", "content": "' + b"x" * MiB + b'"}'
    for path in ("/inbox", "/actor/inbox", "/actors/camille/inbox"):
        response = await client.post(
            path, data=body, headers={"Content-Type": "application/activity+json"}
        )
        assert response.status_code == 413, path
    # And other forms too
    response = await client.post(
        "/login",
        data=b"login=" + b"a" * (MiB + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


async def test_served_file_headers(
    client: TestClientProtocol, csrf: str, settings: Settings
) -> None:
    image = png(4, 4)
    await _post(client, "/events", csrf, image)
    sha = hashlib.sha256(image).hexdigest()
    response = await client.get(f"/media/{sha}.png")
    assert response.status_code == 200
    assert await response.get_data() == image
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # Revalidation answers 304
    etag = response.headers["ETag"]
    again = await client.get(f"/media/{sha}.png", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_anything_but_a_stored_file_name_is_404(
    client: TestClientProtocol, csrf: str, settings: Settings
) -> None:
    image = png(4, 4)
    await _post(client, "/events", csrf, image)
    sha = hashlib.sha256(image).hexdigest()
    # A file beside the media directory that traversal would reach
    (settings.data_dir / "secret.png").write_bytes(b"secret")
    for path in (
        f"/media/{sha}.jpg",  # wrong extension
        f"/media/{sha}.PNG",
        f"/media/{sha}.png.txt",
        f"/media/{sha}",
        f"/media/{sha[:-1]}.png",  # not a whole hash
        f"/media/{sha.upper()}.png",
        f"/media/{'0' * 64}.png",  # well formed, not stored
        f"/media/{sha[:2]}/{sha}.png",  # the on-disk layout is not the URL
        "/media/../secret.png",
        "/media/..%2Fsecret.png",
        "/media/%2e%2e%2fsecret.png",
        "/media/..%5Csecret.png",
        "/media/%2e%2e/secret_key",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/",
        "/media/.png",
        f"/media/{sha}.png%00",
    ):
        response = await client.get(path)
        assert response.status_code in (404, 400), path
        assert await response.get_data() != b"secret", path
        assert await response.get_data() != image, path


async def test_only_the_organiser_uploads_to_an_event(
    app: Quart, client: TestClientProtocol, csrf: str, settings: Settings, pool: Pool
) -> None:
    response = await _post(client, "/events", csrf, None)
    path = response.headers["Location"]
    # Dominique, another citizen, tries to give it an image
    async with pool.acquire() as conn:
        await accounts.register(conn, username="dominique", password=PASSWORD, keygen=FixedKeys())
    other = app.test_client()
    page = await (await other.get("/login")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    await other.post(
        "/login", form={"csrf_token": token.group(1), "login": "dominique", "password": PASSWORD}
    )
    page = await (await other.get("/events/new")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    refused = await _post(other, path + "/edit", token.group(1), png())
    assert refused.status_code == 403
    assert _stored(settings) == []
