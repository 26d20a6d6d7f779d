"""Where a picture is inside flat margins and the bars around them: a screenshot of it, a letterboxed frame,
a picture shrunk into a border. Pure functions over Pillow images, shared by the hashing and the lookups."""

from __future__ import annotations

import numpy as np
from PIL import Image

# A row of a thumbnail whose darkest and lightest pixels differ by no more than this many grey levels
# is a margin, not picture: a screen's margins are one colour, a photo's rows almost never are.
FLAT_RANGE = 10
# Runs of non-flat lines up to this share of a side, at its edges, are a phone's bars, not picture.
CHROME_SHARE = 0.08
# Up to this many lines of margin next to the picture may span up to RINGING_RANGE grey levels.
RINGING_LINES = 8
RINGING_RANGE = 32
# Trimming that leaves less than this share of a side is taken to have found something else than a border.
MIN_TRIMMED_SHARE = 0.25


def trim_borders(rgb: Image.Image, *, one_sided: bool = False) -> Image.Image | None:
    """The picture inside flat margins and the bars around them (a screenshot of it, a letterboxed frame);
    None when it has none.

    A line (row or column) is flat when its pixels span at most FLAT_RANGE grey levels. The picture is
    from the first to the last run of non-flat lines longer than CHROME_SHARE of the side: shorter
    runs at the edges are a status bar's clock and icons, or a navigation bar, between flat margins.
    With `one_sided`, a margin along one side of a pair is enough (a picture placed unevenly in a border).
    """
    grey = np.asarray(rgb.convert("L"), dtype=np.int16)
    height, width = grey.shape
    top, bottom = _picture_span(np.ptp(grey, axis=1), one_sided)
    left, right = _picture_span(np.ptp(grey[top:bottom], axis=0), one_sided)
    if (top, bottom, left, right) == (0, height, 0, width):
        return None
    if bottom - top < MIN_TRIMMED_SHARE * height or right - left < MIN_TRIMMED_SHARE * width:
        return None
    return rgb.crop((left, top, right, bottom))


def _picture_span(ranges: np.ndarray, one_sided: bool = False) -> tuple[int, int]:
    """From the start of the first long run of busy lines to the end of the last, when that leaves a
    margin on both sides; otherwise all of it. A frame has margins on two opposite sides, whereas a
    photo with a flat sky or wall along one edge does not, and should hash whole."""
    busy = ranges > FLAT_RANGE
    edges = np.flatnonzero(np.diff(np.concatenate(([0], busy.astype(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    long = np.flatnonzero(ends - starts > CHROME_SHARE * len(busy))
    if not len(long):
        return 0, len(busy)
    margins = (starts[long[0]] > 0, ends[long[-1]] < len(busy))
    if not (any(margins) if one_sided else all(margins)):
        return 0, len(busy)
    start, end = int(starts[long[0]]), int(ends[long[-1]])
    # JPEG ringing leaves the margin's lines next to the picture slightly busy.
    for _ in range(RINGING_LINES):
        start += int(ranges[start] <= RINGING_RANGE and start < end - 1)
        end -= int(ranges[end - 1] <= RINGING_RANGE and end - 1 > start)
    return start, end
