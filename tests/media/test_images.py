"""Recognising images by their bytes and reading their size from the header."""

from __future__ import annotations

import pytest

from fedicity.media.images import MAX_SIDE, identify
from fedicity.media.models import ImageInfo
from tests.media.images import GIF_1X1, WEBP_LOSSLESS_1X1, jpeg, png, webp_extended, webp_lossy


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(3, 2), ImageInfo("image/png", "png", 3, 2)),
        (jpeg(640, 480), ImageInfo("image/jpeg", "jpg", 640, 480)),
        (GIF_1X1, ImageInfo("image/gif", "gif", 1, 1)),
        (WEBP_LOSSLESS_1X1, ImageInfo("image/webp", "webp", 1, 1)),
        (webp_extended(1200, 630), ImageInfo("image/webp", "webp", 1200, 630)),
        (webp_lossy(320, 200), ImageInfo("image/webp", "webp", 320, 200)),
    ],
)
def test_images_are_known_by_their_bytes_with_their_size(data: bytes, expected: ImageInfo) -> None:
    assert identify(data) == expected


def test_jpeg_fill_bytes_and_restart_markers_are_walked_over() -> None:
    data = jpeg(7, 9)
    padded = data[:2] + b"\xff\xff" + data[2:]
    assert identify(padded) == ImageInfo("image/jpeg", "jpg", 7, 9)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a PNG file, honest\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"%PDF-1.7\n",
        b"\x89PNG\r\n\x1a\n",  # a signature and nothing else
        png()[:20],  # cut inside the header
        b"\x89PNG\r\n\x1a\n" + png()[8:12] + b"IDAT" + png()[16:],  # no IHDR first
        b"\xff\xd8\xff\xd9",  # a JPEG that ends before any frame
        jpeg()[:30],  # cut before the frame header
        b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 20,  # scan data before a frame header
        b"GIF89a\x00\x00\x01\x00",  # zero width
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF, but sound
        b"RIFF\x00\x00\x00\x00WEBPVP8Z" + b"\x00" * 20,  # an unknown WebP chunk
        png(MAX_SIDE + 1, 1),  # absurdly wide
    ],
)
def test_anything_else_is_not_an_image(data: bytes) -> None:
    assert identify(data) is None
