"""Uploads that would take a viewer's memory or the server's disk (step 5, item 11), over real HTTP:
an image of 16384 x 16384 pixels is refused by its header before anything is stored, and each
account may add only so many bytes of new images a day."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.media.images import MAX_PIXELS
from tests.conftest import FixedKeys
from tests.flows.harness import Instance, running_instance
from tests.media.images import png

PASSWORD = "a long and unusual passphrase"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says `width` x `height`. Its first rows follow, compressed; a real file
    of that size is all zeros after them and compresses to under 1 MiB, which is the attack: a few
    hundred kilobytes on the wire, a gigabyte in every viewer's memory."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def _logged_in(instance: Instance, keygen: FixedKeys, http: httpx.AsyncClient) -> str:
    """Camille logs in over HTTP; the event form's CSRF token."""
    async with instance.pool.acquire() as conn:
        await accounts.register(conn, username="camille", password=PASSWORD, keygen=keygen)
    login = await http.get("/login")
    answer = await http.post(
        "/login",
        data={"csrf_token": _token(login.text), "login": "camille", "password": PASSWORD},
    )
    assert answer.status_code == 303
    return _token((await http.get("/events/new")).text)


async def _organise(
    http: httpx.AsyncClient, token: str, image: bytes, title: str
) -> httpx.Response:
    return await http.post(
        "/events",
        data={
            "csrf_token": token,
            "title": title,
            "starts_at": "2026-05-02T10:00",
            "place_name": "Square Jean-Moulin",
        },
        files={"image_file": ("photo.png", image, "image/png")},
        headers={"Accept-Language": "en"},
    )


def _files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "media").rglob("*") if p.is_file()]


async def test_an_image_of_too_many_pixels_is_refused_before_anything_is_stored(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        httpx.AsyncClient(base_url=instance.base) as http,
    ):
        token = await _logged_in(instance, keygen, http)
        answer = await _organise(http, token, png_claiming(16384, 16384), "Affiche géante")
        assert answer.status_code == 413
        assert "too many pixels" in answer.text
        assert "Affiche géante" in answer.text  # the form keeps what was typed
        assert _files(tmp_path) == []
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM media") == 0
            assert await conn.fetchval("SELECT count(*) FROM events") == 0
        # An 8K picture, the largest Mastodon takes too, is fine
        assert MAX_PIXELS == 7680 * 4320
        answer = await _organise(http, token, png_claiming(7680, 4320), "Affiche 8K")
        assert answer.status_code == 303


async def test_an_account_uploads_at_most_its_daily_quota_of_new_files(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    quota = 3 * 1024 * 1024
    async with (
        running_instance(
            pool, tmp_path, keygen, worker=False, upload_quota_bytes_per_day=quota
        ) as instance,
        httpx.AsyncClient(base_url=instance.base) as http,
    ):
        token = await _logged_in(instance, keygen, http)
        # One MiB files, each different: three fit in the day's quota
        files = [png(shade=n) + bytes([n]) * (1024 * 1024 - 100) for n in range(4)]
        for n, image in enumerate(files[:3]):
            assert (await _organise(http, token, image, f"Fête {n}")).status_code == 303
        # The same file again costs nothing
        assert (await _organise(http, token, files[0], "Fête encore")).status_code == 303
        # A fourth new one does not fit
        refused = await _organise(http, token, files[3], "Fête 3")
        assert refused.status_code == 429
        assert "try again tomorrow" in refused.text
        assert "Fête 3" in refused.text
        assert len(_files(tmp_path)) == 3
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM media") == 3
            assert await conn.fetchval("SELECT count(*) FROM events") == 4
            # A day later the quota is free again
            await conn.execute("UPDATE media SET created_at = created_at - interval '25 hours'")
        assert (await _organise(http, token, files[3], "Fête 3")).status_code == 303
