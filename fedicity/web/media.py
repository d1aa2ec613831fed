"""Serving uploaded files at /media/<sha256>.<extension>, and reading an upload from a form."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response, send_file
from quart.datastructures import FileStorage
from werkzeug.datastructures import MultiDict

from fedicity.media.models import MediaError
from fedicity.media.service import file_path, media_type_of
from fedicity.web.app import state
from fedicity.web.errors import Problem

blueprint = Blueprint("media", __name__)

# A file's URL names its content: it never changes, so it may be cached for a year.
CACHE_CONTROL = "public, max-age=31536000, immutable"


@blueprint.get("/media/<name>")
async def serve(name: str) -> Response:
    """An uploaded file, by its hash and extension; 404 for any other name."""
    path = file_path(state().settings.data_dir, name)
    media_type = media_type_of(name)
    if path is None or media_type is None or not await asyncio.to_thread(path.is_file):
        raise Problem(404, "no such file here")
    response = await send_file(path, mimetype=media_type, conditional=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the file is a picture and nothing else: no script, no plugin, no frame.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _read(storage: FileStorage, limit: int) -> bytes:
    return storage.stream.read(limit)


async def read_upload(files: MultiDict[str, FileStorage], field: str, *, max_bytes: int) -> bytes:
    """The bytes of a form's file field (empty when no file was chosen); MediaError when they
    pass `max_bytes` (only one byte more is read to know)."""
    storage = files.get(field)
    if storage is None:
        return b""
    data = await asyncio.to_thread(_read, storage, max_bytes + 1)
    if len(data) > max_bytes:
        raise MediaError("image_too_large", f"an image is at most {max_bytes} bytes")
    return data
