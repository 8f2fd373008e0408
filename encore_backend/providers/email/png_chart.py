"""The rating-distribution chart of the report email as a PNG, with the standard library only.

Five vertical bars (1★ left to 5★ right) on white, drawn at twice the size the HTML shows them
so they stay sharp on phones. A chart is only rectangles, so a minimal truecolour PNG encoder
(zlib + struct) is all it takes: no imaging dependency for one picture.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence

WIDTH, HEIGHT = 600, 240  # pixels; the HTML shows the image at half this size
STARS = ("1", "2", "3", "4", "5")
SLOT = WIDTH // len(STARS)  # each star's column; the bar is centred in it
BAR_MARGIN = 24  # blank pixels either side of a bar inside its slot
TOP_PAD, BASELINE = 8, 4  # headroom above the tallest bar, grey axis rows at the bottom
BACKGROUND = (255, 255, 255)
AXIS = (221, 221, 221)
BAR_COLOURS = {
    "1": (211, 47, 47),
    "2": (239, 108, 0),
    "3": (249, 168, 37),
    "4": (124, 179, 66),
    "5": (46, 125, 50),
}
SIGNATURE = b"\x89PNG\r\n\x1a\n"

RGB = tuple[int, int, int]


def rating_bars_png(distribution: Mapping[str, int]) -> bytes:
    """The chart for {"1": n1, ..., "5": n5}; missing or bad counts draw as zero."""
    counts = {star: _count(distribution.get(star)) for star in STARS}
    tallest = max(counts.values())
    room = HEIGHT - TOP_PAD - BASELINE
    heights = {star: bar_height(counts[star], tallest, room) for star in STARS}
    rows = [_row(y, heights) for y in range(HEIGHT - BASELINE)]
    rows += [bytes(AXIS) * WIDTH] * BASELINE
    return encode_png(WIDTH, HEIGHT, rows)


def bar_height(count: int, tallest: int, room: int) -> int:
    """Pixels for a bar: proportional, but at least 2 so a single rating is still visible."""
    if count <= 0 or tallest <= 0:
        return 0
    return max(2, round(room * count / tallest))


def _row(y: int, heights: Mapping[str, int]) -> bytes:
    """One pixel row above the axis: each slot is margin, bar-or-background, margin."""
    blank = bytes(BACKGROUND) * BAR_MARGIN
    bar_width = SLOT - 2 * BAR_MARGIN
    row = bytearray()
    for star in STARS:
        filled = y >= HEIGHT - BASELINE - heights[star]
        colour = BAR_COLOURS[star] if filled else BACKGROUND
        row += blank + bytes(colour) * bar_width + blank
    row += bytes(BACKGROUND) * (WIDTH - len(STARS) * SLOT)
    return bytes(row)


def encode_png(width: int, height: int, rows: Sequence[bytes]) -> bytes:
    """An 8-bit RGB PNG from `height` rows of `width * 3` bytes (filter type 0 on each row)."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError("rows do not match the image size")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # depth 8, truecolour
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """length, type, data, CRC-32 of type + data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
