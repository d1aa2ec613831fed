"""Recognise an image by its first bytes and read its size from its header, in pure Python.

Only PNG, JPEG, GIF and WebP are recognised, by their magic bytes: never by a file name or a
client's Content-Type. Nothing is decoded beyond the header; browsers decode the rest.
"""

from __future__ import annotations

import struct

from fedicity.media.models import ImageInfo

# A side longer than this is refused: no camera or banner needs it, and it guards viewers
# against images built to take gigabytes once decoded.
MAX_SIDE = 16384
# And more pixels than this in all: a 16384 x 16384 image takes 1 GiB once decoded. This is
# Mastodon's limit too (7680 x 4320, 8K), so what one server accepts another shows.
MAX_PIXELS = 7680 * 4320

PNG = ImageInfo("image/png", "png", 0, 0)
JPEG = ImageInfo("image/jpeg", "jpg", 0, 0)
GIF = ImageInfo("image/gif", "gif", 0, 0)
WEBP = ImageInfo("image/webp", "webp", 0, 0)
BY_EXTENSION = {kind.extension: kind.media_type for kind in (PNG, JPEG, GIF, WEBP)}

# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but not.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers with no length field.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _gif(data: bytes) -> tuple[int, int] | None:
    if len(data) < 10:
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def identify(data: bytes) -> ImageInfo | None:
    """The image's type and size when `data` starts like a PNG, JPEG, GIF or WebP with a
    readable, sensible size; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, size = PNG, _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        kind, size = JPEG, _jpeg(data)
    elif data.startswith((b"GIF87a", b"GIF89a")):
        kind, size = GIF, _gif(data)
    elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        kind, size = WEBP, _webp(data)
    else:
        return None
    if size is None:
        return None
    width, height = size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return None
    return ImageInfo(kind.media_type, kind.extension, width, height)
