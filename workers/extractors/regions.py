"""Region hashes for near-duplicate matching: the regions an archived picture is kept under, and the
variants a new picture is looked up by. Pure functions over Pillow images; no Django.

A pHash is a global transform: a copy cropped by 10% or pasted into a collage lands far from its
original. So the archive keeps, besides the whole picture, the picture cropped 5% and 10% from each
corner and around its centre; and a new picture is looked up as it is, turned and mirrored, without a
caption band, and by each quarter (a 2x2 collage). Candidates found this way are then checked by
workers/extractors/keypoints.py, which keeps the precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from workers.extractors import imaging
from workers.extractors.borders import trim_borders

HASH_BITS = 64
WHOLE = "whole"
AS_IS = "as is"
# Shares of the width and height an archived picture is also hashed without, at each corner and around its centre.
CROP_SHARES = (0.05, 0.10)
CORNERS = {
    "top left": (1, 1, 0, 0),
    "top right": (0, 1, 1, 0),
    "bottom left": (1, 0, 0, 1),
    "bottom right": (0, 0, 1, 1),
}
TURNS = (
    (Image.Transpose.ROTATE_90, "turned 90°"),
    (Image.Transpose.ROTATE_180, "turned 180°"),
    (Image.Transpose.ROTATE_270, "turned 270°"),
    (Image.Transpose.FLIP_LEFT_RIGHT, "mirrored"),
)
# A caption band is a run of lines at the top or bottom in the band's one colour, between these shares
# of the height: every line at least BAND_TEXT_SHARE of it (lines of text), and ending on a line at
# least BAND_EDGE_SHARE of it (the band's margin under or over its text).
BAND_COLOUR_RANGE = 24
BAND_TEXT_SHARE = 0.3
BAND_EDGE_SHARE = 0.95
MIN_BAND_SHARE = 0.05
MAX_BAND_SHARE = 0.35
# Meme text runs across the top and the bottom fifth; the band between them is kept and looked up too.
MIDDLE_BAND = (0.2, 0.8)
# A collage's gutters are left out of each quarter.
QUARTER_INSET = 0.03
# Below this many pixels on its shorter side, a picture has too little left to compare.
MIN_SIDE = 32


@dataclass(frozen=True)
class RegionHash:
    """The pHash (unsigned 64-bit) of one region or variant of a picture, and what that region is."""

    label: str
    value: int


def phash(picture: Image.Image) -> int | None:
    """The unsigned pHash of a picture; None when it is near-uniform or too small, as its bits would be noise."""
    if min(picture.size) < MIN_SIDE:
        return None
    grey = imaging.grey_copy(picture)
    if not imaging.has_detail(picture, grey):
        return None
    return int(str(imaging.phash(picture, grey)), 16)


def stored_regions(rgb: Image.Image) -> list[tuple[str, Image.Image]]:
    """The regions an archived picture is kept under: inside its borders, whole and cropped."""
    picture = trim_borders(rgb) or rgb
    width, height = picture.size
    regions = [(WHOLE, picture)]
    for share in CROP_SHARES:
        dx, dy = round(width * share), round(height * share)
        percent = f"{share:.0%}"
        for corner, (left, top, right, bottom) in CORNERS.items():
            box = (left * dx, top * dy, width - right * dx, height - bottom * dy)
            regions.append((f"{percent} cropped at the {corner}", picture.crop(box)))
        box = (dx // 2, dy // 2, width - dx // 2, height - dy // 2)
        regions.append((f"{percent} cropped around the centre", picture.crop(box)))
    regions.append(middle_band(picture))
    return regions


def middle_band(picture: Image.Image) -> tuple[str, Image.Image]:
    """The picture without its top and bottom fifths, where meme text goes."""
    width, height = picture.size
    top, bottom = MIDDLE_BAND
    return "cut to its middle band", picture.crop((0, round(height * top), width, round(height * bottom)))


def query_variants(rgb: Image.Image) -> list[tuple[str, Image.Image]]:
    """The pictures a new picture is looked up by: inside its borders as it is, turned and mirrored,
    without a caption band, and each of its quarters."""
    picture = trim_borders(rgb) or rgb
    variants = [(AS_IS, picture)]
    variants += [(label, picture.transpose(turn)) for turn, label in TURNS]
    inside = trim_borders(picture, one_sided=True)
    if inside is not None:
        variants.append(("trimmed to inside its border", inside))
    variants.append(middle_band(picture))
    for side, band in caption_bands(picture).items():
        width, height = picture.size
        box = (0, band, width, height) if side == "top" else (0, 0, width, height - band)
        variants.append((f"trimmed of a caption band at the {side}", picture.crop(box)))
    variants += quarters(picture)
    return variants


def hash_regions(regions: list[tuple[str, Image.Image]]) -> list[RegionHash]:
    """The usable hash of each region; a near-uniform region (a blank quarter) has none."""
    hashed = []
    for label, region in regions:
        value = phash(region)
        if value is not None:
            hashed.append(RegionHash(label, value))
    return hashed


def caption_bands(picture: Image.Image) -> dict[str, int]:
    """The height in pixels of a caption band at the top and at the bottom, where there is one."""
    grey = np.asarray(picture.convert("L"), dtype=np.int16)
    height = grey.shape[0]
    bands = {}
    for side, lines in (("top", grey), ("bottom", grey[::-1])):
        colour = int(np.median(lines[0]))
        share = (np.abs(lines - colour) <= BAND_COLOUR_RANGE).mean(axis=1)
        within = int(np.argmin(share >= BAND_TEXT_SHARE)) if (share < BAND_TEXT_SHARE).any() else height
        edges = np.flatnonzero(share[:within] >= BAND_EDGE_SHARE)
        run = int(edges[-1]) + 1 if len(edges) else 0
        if MIN_BAND_SHARE * height <= run <= MAX_BAND_SHARE * height:
            bands[side] = run
    return bands


def quarters(picture: Image.Image) -> list[tuple[str, Image.Image]]:
    """The four quarters of a picture, each inside its own borders, less the gutters between them."""
    width, height = picture.size
    half_w, half_h = width // 2, height // 2
    inset_w, inset_h = round(width * QUARTER_INSET), round(height * QUARTER_INSET)
    boxes = {
        "cut to its top left quarter": (0, 0, half_w - inset_w, half_h - inset_h),
        "cut to its top right quarter": (half_w + inset_w, 0, width, half_h - inset_h),
        "cut to its bottom left quarter": (0, half_h + inset_h, half_w - inset_w, height),
        "cut to its bottom right quarter": (half_w + inset_w, half_h + inset_h, width, height),
    }
    found = []
    for label, box in boxes.items():
        quarter = picture.crop(box)
        found.append((label, trim_borders(quarter) or quarter))
    return found
