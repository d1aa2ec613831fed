"""Profile pictures (avatars and banners): checked, decoded and re-encoded before they are kept.

An event's image is kept as uploaded (media/images.py reads its header only). A profile picture
is shown on every page its owner appears on and sent to every server that follows them, so it
is decoded and drawn again (Pillow): what is stored holds pixels only, never the metadata of the
upload (a phone's GPS position), nor a script, a page or an archive hidden in it (a polyglot);
and it is cropped and scaled to the sizes Mastodon uses (avatar 400 x 400, banner 1500 x 500),
so a 12-megapixel photo does not travel as a 48 x 48 thumbnail.

Before anything is decoded the header is read alone, and an image of more than MAX_PIXELS or
wider or taller than MAX_SIDE is refused: a 20000 x 20000 PNG of a few kilobytes would take 1.6
GB once decoded. Decoding runs on a thread, at most DECODERS at a time in a process.
"""

from __future__ import annotations

import asyncio
import io
import threading
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from fedicity.media.images import MAX_PIXELS, MAX_SIDE
from fedicity.media.models import MediaError

Kind = Literal["avatar", "banner", "photo"]

# (width, height) at most, and the shape the picture is cropped to (a photo keeps its own).
SIZES: dict[Kind, tuple[int, int]] = {
    "avatar": (400, 400),
    "banner": (1500, 500),
    "photo": (1600, 1600),
}
JPEG_QUALITY = 88
DECODERS = 2
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# Markup, scripts and other files' signatures have no business in a picture: finding one means
# the file was made to be read as something else too (a polyglot). Compressed pixels producing
# one of these by chance is about as likely as guessing a 48-bit key.
_FOREIGN = (
    b"<script",
    b"<html",
    b"<body",
    b"<svg",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<?php",
    b"<?xml",
    b"<!doctype",
    b"javascript:",
)
# What another file looks like when it is glued after the image's end.
_TRAILER_SIGNATURES = (b"PK\x03\x04", b"%PDF", b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"#!", b"<")

_decoders = threading.BoundedSemaphore(DECODERS)


@dataclass(frozen=True)
class Picture:
    """A re-encoded picture, ready for media.service.store_image."""

    data: bytes
    media_type: str
    width: int
    height: int


def _image_end(data: bytes) -> int | None:
    """Where a PNG, GIF or WebP file ends by its own structure (None: JPEG or unreadable)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        at = 8
        while at + 12 <= len(data):
            length = int.from_bytes(data[at : at + 4], "big")
            kind = data[at + 4 : at + 8]
            at += 12 + length
            if kind == b"IEND":
                return at
        return None
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 8 + int.from_bytes(data[4:8], "little")
    return None


def _skip_scan(data: bytes, at: int) -> int | None:
    """The position of the first marker after a scan's entropy-coded data."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return None
        following = data[at + 1]
        if following == 0xFF:  # fill byte
            at += 1
        elif following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart marker
            at += 2
        else:
            return at


def _jpeg_end(data: bytes) -> int | None:
    """Where a JPEG ends (just after its EOI marker) by walking its segments and scans."""
    at = 2
    while at + 2 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker == 0xD9:
            return at + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        if at + 4 > len(data):
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xDA:
            found = _skip_scan(data, at)
            if found is None:
                return None
            at = found
    return None


def _carries_foreign_content(data: bytes) -> bool:
    lowered = data.lower()
    if any(marker in lowered for marker in _FOREIGN):
        return True
    end = _image_end(data)
    if end is not None:
        # PNG and WebP say where they end: nothing legitimate follows.
        return len(data) > end and data[end:].strip(b"\x00") != b""
    if data.startswith(b"\xff\xd8"):
        # Phones glue a video after a JPEG's end (motion photos); re-encoding drops it. Another
        # file's signature there is a polyglot.
        jpeg_end = _jpeg_end(data)
        trailer = data[jpeg_end:] if jpeg_end is not None else b""
        return trailer.lstrip(b"\x00\r\n ").startswith(_TRAILER_SIGNATURES)
    return False


def _open(data: bytes) -> Image.Image:
    """The image, header read only; MediaError when it is not one we take, or too big."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaError(
                "image_too_many_pixels", f"an image has at most {MAX_PIXELS} pixels"
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise MediaError("image_file_invalid", "not a PNG, JPEG, GIF or WebP image") from None
    width, height = image.size
    if width * height > MAX_PIXELS or width > MAX_SIDE or height > MAX_SIDE:
        raise MediaError("image_too_many_pixels", f"an image has at most {MAX_PIXELS} pixels")
    if width < 1 or height < 1:
        raise MediaError("image_file_invalid", "not a PNG, JPEG, GIF or WebP image")
    return image


def _fit(image: Image.Image, kind: Kind) -> Image.Image:
    """Cropped to the kind's shape around the centre, never enlarged; a photo (a place's) is
    only scaled down to fit."""
    max_width, max_height = SIZES[kind]
    if kind == "photo":
        fitted = image.copy()
        fitted.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
        return fitted
    width, height = image.size
    scale = min(1.0, max(max_width / width, max_height / height))
    # The largest box of the kind's shape that fits in the image, then scaled down to size.
    ratio = max_width / max_height
    crop_width = min(width, round(height * ratio))
    crop_height = min(height, round(width / ratio))
    target = (
        max(1, min(max_width, round(crop_width * scale))),
        max(1, min(max_height, round(crop_height * scale))),
    )
    return ImageOps.fit(image, target, method=Image.Resampling.LANCZOS)


def reencode(data: bytes, kind: Kind) -> Picture:
    """Check, decode, orient, crop, scale and encode a picture again (blocking, CPU-bound)."""
    if _carries_foreign_content(data):
        raise MediaError("image_polyglot", "this file holds something else than an image")
    image = _open(data)
    try:
        image.load()
        image.seek(0)  # an animated GIF or WebP keeps its first frame
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError):
        raise MediaError("image_file_invalid", "this image cannot be read") from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    fitted = _fit(converted, kind)
    out = io.BytesIO()
    if has_alpha:
        fitted.save(out, format="PNG", optimize=True)
        media_type = "image/png"
    else:
        fitted.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        media_type = "image/jpeg"
    return Picture(out.getvalue(), media_type, fitted.width, fitted.height)


def _gated(data: bytes, kind: Kind) -> Picture:
    with _decoders:
        return reencode(data, kind)


async def reencode_async(data: bytes, kind: Kind) -> Picture:
    """reencode on a thread, at most DECODERS decoding at a time in this process."""
    return await asyncio.to_thread(_gated, data, kind)
