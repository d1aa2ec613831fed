"""Storing uploads: check the bytes, write the file once under its hash, record it.

Files live under `<data_dir>/media/<sha256[:2]>/<sha256>.<extension>`: the same bytes uploaded
twice are one file and one row. A file is written to a temporary name beside its final one and
renamed, so a reader never sees half a file and concurrent uploads of the same bytes agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from fedicity.db.pool import Connection
from fedicity.media import queries
from fedicity.media.images import BY_EXTENSION, MAX_PIXELS, identify
from fedicity.media.models import ImageInfo, Media, MediaError
from fedicity.urls import Urls

_NAME = re.compile(r"([0-9a-f]{64})\.(png|jpg|gif|webp)")


def media_root(data_dir: Path) -> Path:
    """The directory holding every uploaded file."""
    return data_dir / "media"


def parse_name(name: str) -> tuple[str, str] | None:
    """(sha256, extension) of a well-formed media file name, else None: anything else (another
    extension, upper case, a slash, a dot segment) names no file of ours."""
    match = _NAME.fullmatch(name)
    return (match.group(1), match.group(2)) if match else None


def file_path(data_dir: Path, name: str) -> Path | None:
    """Where the file of a well-formed name would be (None for any other name)."""
    parsed = parse_name(name)
    if parsed is None:
        return None
    sha256, _extension = parsed
    return media_root(data_dir) / sha256[:2] / name


def media_type_of(name: str) -> str | None:
    """The Content-Type to serve a well-formed name with."""
    parsed = parse_name(name)
    return BY_EXTENSION[parsed[1]] if parsed else None


def _write_once(path: Path, data: bytes) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_image(data: bytes, *, max_bytes: int) -> ImageInfo:
    """What an uploaded image is, or MediaError: too large, or not a PNG, JPEG, GIF or WebP by
    its bytes."""
    if len(data) > max_bytes:
        raise MediaError("image_too_large", f"an image is at most {max_bytes} bytes")
    info = identify(data)
    if info is None:
        raise MediaError("image_file_invalid", "not a PNG, JPEG, GIF or WebP image")
    if info.width * info.height > MAX_PIXELS:
        raise MediaError("image_too_many_pixels", f"an image has at most {MAX_PIXELS} pixels")
    return info


QUOTA_WINDOW = timedelta(days=1)


async def _check_quota(
    conn: Connection, uploader: int, size: int, *, now: datetime, quota_bytes: int
) -> None:
    # Serialised per uploader for the rest of the transaction, so that parallel uploads cannot
    # each see the room the other is about to take.
    await queries.lock_uploader(conn, uploader)
    used = await queries.bytes_uploaded_since(conn, uploader, now - QUOTA_WINDOW)
    if used + size > quota_bytes:
        raise MediaError(
            "upload_quota", f"at most {quota_bytes} bytes of new images a day per account"
        )


async def store_image(
    conn: Connection,
    data: bytes,
    *,
    data_dir: Path,
    uploaded_by: int | None,
    now: datetime,
    max_bytes: int,
    quota_bytes: int | None = None,
) -> Media:
    """Check an uploaded image, write its file (once) and record it (once); an uploader's new
    files count against `quota_bytes` a day (call it in a transaction)."""
    info = check_image(data, max_bytes=max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    if quota_bytes is not None and uploaded_by is not None:
        known = await queries.select_media(conn, sha256)
        if known is None:
            await _check_quota(conn, uploaded_by, len(data), now=now, quota_bytes=quota_bytes)
    media = Media(
        sha256=sha256,
        extension=info.extension,
        media_type=info.media_type,
        width=info.width,
        height=info.height,
        size=len(data),
        uploaded_by=uploaded_by,
        created_at=now,
    )
    await asyncio.to_thread(_write_once, media_root(data_dir) / media.path, data)
    return await queries.insert_media(conn, media)


def url_of(urls: Urls, media: Media) -> str:
    """The absolute URL a stored file is served at."""
    return urls.media(media.name)


async def local_media(conn: Connection, urls: Urls, url: str) -> Media | None:
    """The stored file an absolute URL of ours points at, if it is one."""
    prefix = urls.media("")
    if not url.startswith(prefix):
        return None
    parsed = parse_name(url.removeprefix(prefix))
    if parsed is None:
        return None
    found = await queries.select_media(conn, parsed[0])
    return found if found is not None and found.extension == parsed[1] else None
