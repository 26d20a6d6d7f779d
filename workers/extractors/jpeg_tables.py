"""The JPEG standard's example quantisation tables, and the libjpeg quality whose scaled tables are nearest a file's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np

# The example tables of the JPEG standard (ITU-T T.81 Annex K), in natural (row) order;
# libjpeg scales them by quality, and most software that writes or re-saves a JPEG uses libjpeg.
IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
IJG_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip


def ijg_table(base: Sequence[int], quality: int) -> tuple[int, ...]:
    """A standard table scaled as libjpeg's jpeg_set_quality does (baseline: capped at 255).

    For quality q the factor is 5000 / q below 50 and 200 - 2q from 50 up, and each entry
    becomes (standard * factor + 50) // 100, kept within 1..255.
    """
    return _scaled(tuple(base), quality)


@cache
def _scaled(base: tuple[int, ...], quality: int) -> tuple[int, ...]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(max((value * scale + 50) // 100, 1), 255) for value in base)


def nearest_quality(pairs: Iterable[tuple[Sequence[int], Sequence[int]]]) -> tuple[int, int]:
    """The libjpeg quality (1 to 100) whose scaled tables are nearest a file's, and how far from them it is.

    Each pair is one of the file's tables and the standard table it is compared with. The
    distance is the sum of absolute differences over every pair; ties go to the higher quality.
    A file written by libjpeg (Pillow, GIMP, ImageMagick, most web tools) gives back its exact
    setting at distance 0; a camera or encoder with its own tables gets the nearest
    libjpeg-equivalent quality, which is an estimate.
    """
    distances = np.zeros(len(QUALITIES), dtype=np.int64)
    for table, base in pairs:
        distances += np.abs(_every_quality(tuple(base)) - np.asarray(table, dtype=np.int64)).sum(axis=1)
    # The lowest distance; among equals the highest quality, which is the last of them.
    best = len(QUALITIES) - 1 - int(np.argmin(distances[::-1]))
    return int(QUALITIES[best]), int(distances[best])


QUALITIES = np.arange(1, 101)


@cache
def _every_quality(base: tuple[int, ...]) -> np.ndarray:
    """The standard table scaled at every quality from 1 to 100, one row each."""
    return np.array([_scaled(base, int(quality)) for quality in QUALITIES], dtype=np.int64)
