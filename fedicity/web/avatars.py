"""Default avatars: a symmetric 5x5 pattern drawn from the username's hash, as a PNG."""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache

_GRID = 5
_CELL = 40
_MARGIN = 20
SIZE = _GRID * _CELL + 2 * _MARGIN


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=1024)
def avatar_png(seed: str) -> bytes:
    """A deterministic identicon PNG (RGB, SIZE x SIZE) for a seed such as a username."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    # A saturated colour from the hash, on a light background.
    r, g, b = digest[0] // 2 + 40, digest[1] // 2 + 40, digest[2] // 2 + 40
    colour, background = bytes((r, g, b)), bytes((240, 240, 236))
    cells = [[False] * _GRID for _ in range(_GRID)]
    for row in range(_GRID):
        for col in range((_GRID + 1) // 2):
            on = digest[3 + row * 3 + col] % 2 == 0
            cells[row][col] = cells[row][_GRID - 1 - col] = on
    raw = bytearray()
    for y in range(SIZE):
        raw.append(0)  # filter type: none
        cell_y = (y - _MARGIN) // _CELL
        for x in range(SIZE):
            cell_x = (x - _MARGIN) // _CELL
            inside = 0 <= cell_x < _GRID and 0 <= cell_y < _GRID and x >= _MARGIN and y >= _MARGIN
            raw += colour if inside and cells[cell_y][cell_x] else background
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )
