"""Tiny images built byte by byte, for the media tests."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int = 3, height: int = 2, shade: int = 0) -> bytes:
    """A real RGB PNG of one colour (`shade` makes different files of the same size)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes((shade, 128, 255)) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def jpeg(width: int = 5, height: int = 4) -> bytes:
    """A JPEG's markers as a camera writes them: SOI, APP0 (JFIF), DQT, SOF0 with the size,
    DHT, SOS, then (stand-in) scan data and EOI."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body

    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes(range(1, 65)))
        + segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + segment(0xC4, b"\x00" + b"\x00" * 16)
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x12\x34\x56"
        + b"\xff\xd9"
    )


# The classic 1x1 transparent GIF.
GIF_1X1 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# A 1x1 lossless WebP (VP8L).
WEBP_LOSSLESS_1X1 = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88"
    b"\xfe\x07\x00"
)


def webp_extended(width: int, height: int) -> bytes:
    """The start of an extended WebP (VP8X) of this canvas size."""
    body = (
        b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return b"RIFF\x00\x00\x00\x00WEBPVP8X" + struct.pack("<I", len(body)) + body


def webp_lossy(width: int, height: int) -> bytes:
    """The start of a lossy WebP (VP8) key frame of this size."""
    frame = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8
    return b"RIFF\x00\x00\x00\x00WEBPVP8 " + struct.pack("<I", len(frame)) + frame
