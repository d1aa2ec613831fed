"""Profile pictures are decoded and drawn again: what is kept holds pixels only, at Mastodon's
sizes; what is not a plain picture is refused with a reason."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from fedicity.media.models import MediaError
from fedicity.media.pictures import reencode
from tests.accounts.helpers import picture
from tests.media.images import GIF_1X1, WEBP_LOSSLESS_1X1


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A PNG declaring a huge canvas of zeros: a few kilobytes that decode to gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def _refusal(data: bytes) -> str:
    with pytest.raises(MediaError) as refused:
        reencode(data, "avatar")
    return refused.value.code


def test_a_photo_becomes_a_400_px_square_jpeg() -> None:
    kept = reencode(picture(1200, 900, "JPEG"), "avatar")
    assert (kept.media_type, kept.width, kept.height) == ("image/jpeg", 400, 400)
    assert Image.open(io.BytesIO(kept.data)).size == (400, 400)


def test_a_banner_becomes_1500_by_500() -> None:
    kept = reencode(picture(3000, 2000, "JPEG"), "banner")
    assert (kept.width, kept.height) == (1500, 500)


def test_a_small_picture_is_cropped_but_never_enlarged() -> None:
    kept = reencode(picture(60, 30, "JPEG"), "avatar")
    assert (kept.width, kept.height) == (30, 30)


def test_transparency_is_kept_as_png() -> None:
    kept = reencode(picture(100, 100, "PNG", (10, 20, 30, 0)), "avatar")
    assert kept.media_type == "image/png"
    assert Image.open(io.BytesIO(kept.data)).mode == "RGBA"


@pytest.mark.parametrize("data", [GIF_1X1, WEBP_LOSSLESS_1X1, picture(20, 20, "WEBP")])
def test_gif_and_webp_are_taken(data: bytes) -> None:
    assert reencode(data, "avatar").media_type in {"image/png", "image/jpeg"}


def test_metadata_such_as_a_gps_position_does_not_survive() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}  # GPSInfo
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (200, 10, 10)).save(out, format="JPEG", exif=exif)
    assert b"PhoneMaker" in out.getvalue()
    kept = reencode(out.getvalue(), "avatar")
    assert b"PhoneMaker" not in kept.data
    assert not Image.open(io.BytesIO(kept.data)).getexif()


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    Image.new("RGB", (400, 200), (0, 0, 255)).save(out, format="JPEG", exif=exif)
    kept = reencode(out.getvalue(), "banner")
    # Shown upright it is 200 wide and 400 tall: the 3:1 crop is then 200 x 67.
    assert (kept.width, kept.height) == (200, 67)


def test_a_20000_by_20000_png_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb(20000, 20000)
    assert len(bomb) < 100_000
    assert _refusal(bomb) == "image_too_many_pixels"


def test_more_pixels_than_8k_is_refused() -> None:
    assert _refusal(png_bomb(8000, 8000)) == "image_too_many_pixels"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7 not a picture",
        b"hello, I am text",
        b"",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        picture(40, 40, "BMP"),
        picture(40, 40, "TIFF"),
    ],
)
def test_what_is_not_a_png_jpeg_gif_or_webp_is_refused(data: bytes) -> None:
    assert _refusal(data) == "image_file_invalid"


def test_an_svg_is_refused_as_markup() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert _refusal(svg) == "image_polyglot"


def test_a_png_carrying_html_in_a_text_chunk_is_a_polyglot() -> None:
    clean = picture(10, 10, "PNG")
    iend = clean.rindex(b"IEND") - 4
    hostile = clean[:iend] + _chunk(b"tEXt", b"c\x00<html><script>alert(1)</script>") + clean[iend:]
    assert _refusal(hostile) == "image_polyglot"


def test_a_png_with_a_zip_after_its_end_is_a_polyglot() -> None:
    assert _refusal(picture(10, 10, "PNG") + b"PK\x03\x04" + b"\x00" * 30) == "image_polyglot"


def test_a_jpeg_with_a_zip_after_its_end_is_a_polyglot() -> None:
    assert _refusal(picture(10, 10, "JPEG") + b"PK\x03\x04" + b"\x00" * 30) == "image_polyglot"


def test_a_gif_that_is_also_javascript_is_refused() -> None:
    # The classic GIF/JS polyglot: the header's size bytes open a comment.
    gifjs = b"GIF89a/*\x00\x00\x00\x00*/=1;javascript:alert(1)//" + GIF_1X1[13:]
    assert _refusal(gifjs) in {"image_polyglot", "image_file_invalid"}


def test_a_phone_motion_photo_keeps_its_picture_and_drops_the_video() -> None:
    photo = picture(500, 500, "JPEG")
    motion = photo + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20
    kept = reencode(motion, "avatar")
    assert kept.media_type == "image/jpeg"
    assert b"ftypmp42" not in kept.data
