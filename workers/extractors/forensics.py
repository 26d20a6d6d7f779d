"""Screening signals for a reviewer: an error level analysis image, and traces of JPEG re-saving.

Nothing here is a verdict. Error level analysis (ELA) shows how much each area of a
photo changes when it is saved again as JPEG; the recompression signals read the
JPEG's quantisation tables and the histograms of its DCT coefficients to say whether
the file looks like it came straight from a camera or was re-saved by software.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.imaging import (
    DECODE_ERRORS,
    MAX_DECODE_PIXELS,
    STRIP_PIXELS,
    UPRIGHT,
    decode,
    heif_rgb_within,
    open_image,
    orientation,
    rgb_within,
    sniff_file,
    too_large_to_decode,
)
from workers.extractors.jpeg_tables import IJG_CHROMINANCE, IJG_LUMINANCE, nearest_quality

NAME = "forensics"
# 5: the ELA image (ela.png) of a picture over 1024 pixels a side is reduced by area averaging: each of its pixels
# is the mean of the full-size difference over the area it covers, then brightened. 3 and 4 reduced by a whole
# factor (a box) and then resized with Lanczos, whose kernel reaches past the area a pixel covers and rings
# beside strong edges; the mean shows each area's error level as it is, and costs a third as much. A reviewer
# sees the same bright and dark areas; over the corpus photos above 1024 pixels a side the brightened previews
# differ from 4 by 6 to 9 levels of 255 on average, single pixels of fine texture by up to 159 (the mean keeps
# grain Lanczos smoothed). The figures (max_difference, mean_difference, scale), the notes and the recompression
# signals are as in 4, and ela.png of a picture 1024 pixels a side or less is pixel for pixel as in 4. ela.png
# is written without PNG filters and with deflate's run-length strategy (30-45% smaller files for photos), and
# keeps the photo's ICC profile only when it is an RGB one (a greyscale or CMYK profile does not describe it).
# 4: the double-compression signals read the luminance of their centre crop from the decode the error level
# analysis makes (its RGB turned back into Y with the JPEG formula and rounded) instead of decoding the file's Y
# channel a second time, which cost more than half a full decode. Rounding gives back the decoded Y exactly
# wherever no colour channel was clipped to 0 or 255 (95-100% of the pixels of the corpus photos); a clipped
# pixel's Y is off by up to ~25 levels. Over the corpus photos and the tests' generated photos every hint
# is unchanged and one count moved (DSCN0027.jpg: 1 combed frequency of 9 where 3 found 2), but a file
# near a threshold may read differently than in 3. Pictures over 25 megapixels, whose error level analysis
# runs on a reduced copy, and CMYK JPEGs still decode their Y channel (or find none) as in 3. The error
# level analysis, its figures and ela.png, is byte for byte as in 3: the difference and its histograms are
# now taken with OpenCV on arrays, where ImageChops and ImageStat took them on Pillow images.
# 3: the figures are as in 2; the ELA image (ela.png) of a picture over 1024 pixels a side is made by a
# whole-factor (box) reduction, then Lanczos to 1024, then brightened, where 2 brightened the full-size
# difference and resized it with Lanczos alone (the costliest steps of the reading). A reviewer sees the same
# bright and dark areas; a speck smaller than the reduction's box (3 x 3 pixels of a 12-megapixel photo) is
# averaged with its box before it is brightened, so single pixels of fine texture show dimmer than in 2.
# 2: a picture over 25 megapixels is analysed on a copy of at most 12 megapixels made by a whole-factor (box)
# reduction, not by Lanczos to exactly 25 megapixels; over 50 megapixels (100 in 1) only a JPEG is read (at
# reduced scale), and its DCT coefficients are not. Pictures up to 25 megapixels read exactly as in 1.
VERSION = "5"
KINDS = frozenset({"photo"})

ELA_QUALITY = 90
# ELA compares the photo with its re-save, both held as numpy arrays of 3 bytes a pixel (Pillow's images take
# 4): two arrays of 75 MB and the re-save's bytes at this cap. Larger photos (a 48-MP phone shot, a 61-MP camera) are
# scaled down below it first, which blurs their compression traces; JPEGs are decoded at 1/2, 1/4 or 1/8
# scale where that suffices.
ELA_MAX_PIXELS = 25_000_000
# A larger photo is analysed on a copy of at most this size, made by a whole-factor reduction after a
# reduced-scale decode where the format allows it, so the full-size pixels and the copy stay small.
ELA_SCALED_PIXELS = 12_000_000
ELA_IMAGE_SIZE = 1024
ELA_MAX_SCALE = 32

# The double-compression check reads at most this many pixels a side from the centre.
DCT_SAMPLE_SIZE = 1024
# ITU-R BT.601 as JPEG (JFIF) defines its luminance: Y = 0.299 R + 0.587 G + 0.114 B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
# OpenCV's histograms count in 32-bit floats, exact up to 2**24; each is taken over fewer pixels than that.
HISTOGRAM_PIXELS = 8_000_000
LOW_QUALITY = 60

CAVEAT = (
    "These are screening signals, not verdicts: re-saving, resizing and filters are normal for photos "
    "shared online, and none of them shows by itself that the picture's content was altered."
)
ELA_NOTE = (
    f"Error level analysis re-saved the image as JPEG at quality {ELA_QUALITY}; brighter areas changed more. "
    "Edges, text and fine texture are always bright: look for a region much brighter or darker than "
    "similar surfaces around it."
)

# The nine lowest AC frequencies (row, column), in zigzag order: the best populated histograms.
LOW_FREQUENCIES = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0))


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Error level analysis for any photo; quantisation and double-compression signals for JPEGs."""
    path = Path(path)
    with _open_photo(path) as image:
        image_format = image.format or "unknown"
        size = image.size
        tables = dict(getattr(image, "quantization", None) or {}) if image_format == "JPEG" else None
        ela, notes, luma = _error_level_analysis(image, path, Path(artifacts_dir), luma_wanted=tables is not None)
    if tables is None:
        recompression = None
        notes.append(
            f"The file is a {image_format} image, not a JPEG, so it has no quantisation tables to read; "
            "only error level analysis ran."
        )
    else:
        recompression = _recompression_signals(path, tables, size, luma)
    return {
        "ela": ela,
        "recompression": recompression,
        "notes": notes,
        "caveat": CAVEAT,
        "artifacts": ["ela.png"],
    }


# Opening and decoding


def _open_photo(path: Path) -> Image.Image:
    image = open_image(path)
    if image is None:
        raise Unsupported(
            f"Forensics reads photos only, and Pillow does not recognise this file as one (it looks like: "
            f"{sniff_file(path).description})."
        )
    width, height = image.size
    if width == 0 or height == 0:
        image.close()
        raise ExtractionFailed(f"The image declares {width:,} x {height:,} pixels, so it has nothing to analyse.")
    return image


# Error level analysis


def _error_level_analysis(
    image: Image.Image, path: Path, artifacts_dir: Path, *, luma_wanted: bool = False
) -> tuple[dict, list[str], np.ndarray | None]:
    """Write ela.png: the difference between the photo and its re-save, brightened and turned upright.

    Also returns the luminance of the centre crop the double-compression check reads, taken from this
    decode when it is at full size (`luma_wanted`, for a JPEG); None otherwise.
    """
    notes = [ELA_NOTE]
    width, height = image.size
    target = ELA_MAX_PIXELS
    if width * height > ELA_MAX_PIXELS:
        # A JPEG can decode at 1/2, 1/4 or 1/8 scale directly, which bounds the memory used.
        target = ELA_SCALED_PIXELS
        factor = math.sqrt(target / (width * height))
        image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))
    pixels = _turbo_pixels(image, path) if target == ELA_MAX_PIXELS else None
    if pixels is not None:
        turn = UPRIGHT.get(orientation(image))
        info = dict(image.info)  # as to_rgb's conversion keeps it for a greyscale JPEG
        decoded_mode = image.mode
    else:
        pixels, turn, info, decoded_mode = _pillow_pixels(image, path, target)
        if pixels.shape[:2] != (height, width):
            notes.append(
                f"The image is {width:,} x {height:,} pixels, so error level analysis ran on a copy scaled to "
                f"{pixels.shape[1]:,} x {pixels.shape[0]:,}; scaling blurs compression traces, so read it as coarser."
            )
    image.close()  # only the pixels are needed from here on
    at_full_size = pixels.shape[:2] == (height, width)
    luma = _centre_luma(decoded_mode, pixels) if luma_wanted and at_full_size else None
    difference = pixels
    cv2.absdiff(difference, _resaved(pixels), dst=difference)
    # The figures as ImageStat gives them from the difference's histogram: the highest value of any channel,
    # the mean of the channels' means, and the value the brightest 0.5% of all values reach.
    histograms = _histograms(difference)
    counts = histograms.sum(axis=0)
    max_difference = int(np.flatnonzero(counts)[-1])
    pixels = difference.shape[0] * difference.shape[1]
    mean_difference = sum(int(histogram @ np.arange(256)) / pixels for histogram in histograms) / 3
    # The brightest 0.5% of values saturate (scaling by the maximum lets one outlier darken the rest),
    # up to ELA_MAX_SCALE, past which a photo that barely changed would show only rounding noise.
    bright = int(np.searchsorted(np.cumsum(counts), counts.sum() * 0.995))
    scale = min(255 / max(bright, 1), ELA_MAX_SCALE)
    visible = _preview(difference, scale, turn)
    del difference
    _write_png(visible, info.get("icc_profile"), artifacts_dir / "ela.png")
    ela = {
        "file": "ela.png",
        "quality": ELA_QUALITY,
        "max_difference": max_difference,
        "mean_difference": round(mean_difference, 2),
        "scale": round(scale, 2),
    }
    return ela, notes, luma


def _turbo_pixels(image: Image.Image, path: Path) -> np.ndarray | None:
    """A JPEG's pixels (blue, green, red) decoded by libjpeg-turbo straight into an array, or None where Pillow
    must decode it: any JPEG that is not greyscale or YCbCr/RGB, and any that libjpeg warns about at all.

    This is Pillow's own decode (the same libjpeg-turbo arithmetic, pixel for pixel), without Pillow's
    4-byte pixels and the copy into an array they need, which together cost about 40% more. It is strict: a
    truncated or damaged file, which Pillow may refuse or read with gaps, goes to Pillow, whose outcome
    (its error, or its reading) the reviewer gets as before.
    """
    if image.format != "JPEG" or image.mode not in ("RGB", "L"):
        return None
    try:
        pixels = simplejpeg.decode_jpeg(path.read_bytes(), colorspace="BGR", strict=True)
    except (ValueError, OSError):
        return None
    return pixels if pixels.shape[:2] == (image.height, image.width) else None


def _pillow_pixels(image: Image.Image, path: Path, target: int) -> tuple[np.ndarray, Image.Transpose | None, dict, str]:
    """Any photo Pillow reads, decoded (at most `target` pixels) as a blue, green, red array; with the turn that
    shows it upright, the decode's info (its ICC profile) and the decoded colour mode."""
    try:
        if image.format == "HEIF" and image.width * image.height > ELA_MAX_PIXELS:
            rgb, turn = heif_rgb_within(image, path, target), None  # libheif has turned it already
        else:
            decode(image, path)
            # After decode(), which refuses a picture too large: reading a PNG's EXIF decodes it.
            turn = UPRIGHT.get(orientation(image))
            rgb = rgb_within(image, target)
    except ValueError as exc:
        raise ExtractionFailed(f"The image's colour mode {image.mode} could not be converted to RGB.") from exc
    pixels = _bgr_pixels(rgb)
    info, mode = dict(rgb.info), image.mode
    if rgb is not image:
        rgb.close()
    return pixels, turn, info, mode


def _bgr_pixels(rgb: Image.Image) -> np.ndarray:
    """An RGB picture's pixels as an array in OpenCV's channel order (blue, green, red), copied a strip at a
    time: numpy's conversion of the whole picture goes through tobytes(), which holds two full-size copies."""
    pixels = np.empty((rgb.height, rgb.width, 3), dtype=np.uint8)
    rows = max(1, STRIP_PIXELS // rgb.width)
    for top in range(0, rgb.height, rows):
        bottom = min(top + rows, rgb.height)
        strip = rgb.crop((0, top, rgb.width, bottom)).tobytes("raw", "BGR")
        pixels[top:bottom] = np.frombuffer(strip, dtype=np.uint8).reshape(bottom - top, rgb.width, 3)
    return pixels


def _resaved(pixels: np.ndarray) -> np.ndarray:
    """The pixels after a save as JPEG at ELA_QUALITY and a decode. OpenCV's encoder writes the very bytes Pillow's
    save(quality=ELA_QUALITY) writes (the same libjpeg-turbo, 4:2:0, standard tables, no optimisation), and
    libjpeg-turbo decodes them as Pillow does, into 3 bytes a pixel where Pillow would use 4."""
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, ELA_QUALITY])
    if not ok:
        raise ExtractionFailed("The photo could not be saved again as JPEG for error level analysis.")
    return simplejpeg.decode_jpeg(encoded.reshape(-1), colorspace="BGR", strict=True)


def _histograms(pixels: np.ndarray) -> np.ndarray:
    """Each channel's histogram (how many pixels hold each level, 0-255) of a 3-channel array, one row per channel."""
    step = max(1, HISTOGRAM_PIXELS // pixels.shape[1])
    counts = np.zeros((3, 256), dtype=np.int64)
    for top in range(0, pixels.shape[0], step):
        for channel in range(3):
            counts[channel] += (
                cv2.calcHist([pixels[top : top + step]], [channel], None, [256], [0, 256]).ravel().astype(np.int64)
            )
    return counts


def _sample_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centre crop the double-compression check reads, on the JPEG's 8x8 grid: at most DCT_SAMPLE_SIZE a side."""
    rows, columns = (min(size // 8 * 8, DCT_SAMPLE_SIZE) for size in (height, width))
    top = (height - rows) // 2 // 8 * 8
    left = (width - columns) // 2 // 8 * 8
    return left, top, left + columns, top + rows


def _centre_luma(mode: str, pixels: np.ndarray) -> np.ndarray | None:
    """The luminance of the sample crop, from the decoded pixels (blue, green, red): as decoded for a greyscale
    JPEG (whose three channels are equal), from the colour with the JPEG formula for a colour one; None for
    CMYK and other colour spaces, which have no luminance."""
    left, top, right, bottom = _sample_box(pixels.shape[1], pixels.shape[0])
    crop = pixels[top:bottom, left:right]
    if mode == "L":
        return crop[:, :, 0].astype(np.float64)
    if mode != "RGB":
        return None
    # The decode's Y is a whole number, which rounding gives back wherever no channel was clipped to 0 or 255.
    # Channel by channel: an array of the three as floats would be the reading's largest allocation but one.
    blue, green, red = (crop[:, :, channel].astype(np.float64) for channel in range(3))
    return np.rint(red * LUMA_WEIGHTS[0] + green * LUMA_WEIGHTS[1] + blue * LUMA_WEIGHTS[2])


def _preview(difference: np.ndarray, scale: float, turn: Image.Transpose | None) -> Image.Image:
    """The reviewer's ELA image: at most ELA_IMAGE_SIZE a side, brightened by `scale`, turned upright.

    Each pixel of a reduced preview is the mean of the full-size difference over the area it covers
    (OpenCV's area interpolation), then brightened: see VERSION 5.
    """
    height, width = difference.shape[:2]
    size = _preview_size(width, height)
    reduced = difference if size is None else cv2.resize(difference, size, interpolation=cv2.INTER_AREA)
    brighter = np.array([min(255, round(value * scale)) for value in range(256)], dtype=np.uint8)
    preview = Image.fromarray(cv2.cvtColor(cv2.LUT(reduced, brighter), cv2.COLOR_BGR2RGB))
    return preview.transpose(turn) if turn is not None else preview


def _write_png(picture: Image.Image, icc_profile: bytes | None, path: Path) -> None:
    """Save an RGB picture as PNG, with the photo's ICC profile when it is one for RGB (so that a browser shows the
    differences in the photo's colours); a profile libpng refuses (a damaged one) is left out.

    No PNG filter, and deflate's run-length strategy: error level differences are noise-like, which the filters
    (Pillow's default tries five on every row) only make harder to compress. Against Pillow's save at level 1
    this takes 40% of the time for a file 20 to 40% smaller, with the same pixels."""
    pixels = cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    encoded = None
    if icc_profile and icc_profile[16:20] == b"RGB ":
        with contextlib.suppress(cv2.error):
            profile = [np.frombuffer(icc_profile, dtype=np.uint8)]
            ok, encoded = cv2.imencodeWithMetadata(".png", pixels, [cv2.IMAGE_METADATA_ICCP], profile, params)
            encoded = encoded if ok else None
    if encoded is None:
        ok, encoded = cv2.imencode(".png", pixels, params)
        if not ok:
            raise ExtractionFailed("The error level image could not be written as PNG.")
    path.write_bytes(encoded.tobytes())


def _preview_size(width: int, height: int) -> tuple[int, int] | None:
    """The size Image.thumbnail((ELA_IMAGE_SIZE, ELA_IMAGE_SIZE)) gives a picture; None when it leaves it as is."""
    if width <= ELA_IMAGE_SIZE and height <= ELA_IMAGE_SIZE:
        return None
    aspect = width / height
    x = y = ELA_IMAGE_SIZE
    if x / y >= aspect:
        x = max(min(math.floor(y * aspect), math.ceil(y * aspect), key=lambda n: abs(aspect - n / y)), 1)
    else:
        y = max(
            min(math.floor(x / aspect), math.ceil(x / aspect), key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1
        )
    return x, y


# JPEG recompression


def estimate_quality(tables: dict[int, list[int]]) -> tuple[int, bool]:
    """The libjpeg quality whose tables are closest to these, and whether they match it exactly.

    Table 0 is compared with the standard luminance table and every other with the
    chrominance one, as libjpeg writes them; the distance is the sum of absolute
    differences, so for custom (camera) tables the quality is only the nearest fit.
    """
    # Unlike image.py's reading, which compares only the tables the components use, every
    # table counts here, by slot as libjpeg numbers them: the question is whether the whole
    # file is what libjpeg writes.
    quality, distance = nearest_quality(
        (table, IJG_LUMINANCE if slot == 0 else IJG_CHROMINANCE) for slot, table in tables.items()
    )
    return quality, distance == 0


def _recompression_signals(
    path: Path, tables: dict[int, list[int]], size: tuple[int, int], luma: np.ndarray | None = None
) -> dict:
    tables = {slot: list(table) for slot, table in tables.items() if len(table) == 64}
    if not tables:
        return {
            "estimated_quality": None,
            "standard_tables": None,
            "double_compression_hint": None,
            "combed_frequencies": None,
            "analysed_frequencies": None,
            "notes": ["The JPEG has no readable quantisation tables, so its compression history cannot be estimated."],
        }
    quality, standard = estimate_quality(tables)
    notes = []
    if standard:
        notes.append(
            f"Quantisation tables are the standard libjpeg tables at quality {quality}: the file was probably "
            "re-saved by software, not straight from a camera."
        )
    else:
        notes.append(
            f"Quantisation tables are not the standard libjpeg tables (the closest is quality {quality}): typical "
            "of camera firmware, or of an editor with its own tables."
        )
    if quality < LOW_QUALITY:
        notes.append(
            f"The estimated quality, {quality}, is low: heavy compression blurs detail and weakens every other "
            "signal here."
        )
    too_large = too_large_to_decode(*size)
    combed, analysed = (0, 0) if too_large else _double_compression(path, tables[min(tables)], luma)
    hint = None if analysed < 3 else combed * 3 >= analysed * 2
    if too_large:
        notes.append(
            f"The image is over the {MAX_DECODE_PIXELS // 1_000_000}-megapixel limit the desk decodes at full "
            "size, so its DCT coefficients were not read for traces of an earlier JPEG compression."
        )
    elif hint is None:
        notes.append(
            "The image has too little texture, or too fine a quantisation, to look for traces of an earlier "
            "JPEG compression."
        )
    elif hint:
        notes.append(
            f"The DCT coefficient histograms show the comb left by an earlier compression in {combed} of "
            f"{analysed} low frequencies: the file was probably saved as JPEG at least twice."
        )
    else:
        notes.append(
            f"The DCT coefficient histograms show no comb of an earlier compression ({combed} of {analysed} low "
            "frequencies), though a first save at a higher quality, or a resize or crop between saves, leaves none."
        )
    return {
        "estimated_quality": quality,
        "standard_tables": standard,
        "double_compression_hint": hint,
        "combed_frequencies": combed,
        "analysed_frequencies": analysed,
        "notes": notes,
    }


def _double_compression(path: Path, luma_table: list[int], luma: np.ndarray | None = None) -> tuple[int, int]:
    """How many of the nine lowest AC frequencies show a double-quantisation comb, of how many could be read.

    What it computes: the luminance of a crop from the centre, at most DCT_SAMPLE_SIZE
    pixels a side (`luma`, read from the error level analysis's decode; else the Y
    channel decoded on its own), cut into the JPEG's own 8x8 blocks, transformed with
    the DCT and divided by the file's quantisation steps, which gives back the integer
    coefficients the file stores (to the rounding of the decode). For each of the
    nine lowest AC frequencies it takes the histogram of |coefficient| (1 to 15). A
    JPEG compressed once has histograms that fall away from zero; one quantised
    first with a coarser step and then a finer one has empty or thin bins between
    full ones (a comb). A frequency counts as combed when a bin holds clearly more
    than an earlier one (at least 20 values, 1/0.7 times as many, and three standard
    deviations above it).

    Its limits: it sees a first save at a lower quality than the last one well, and a
    first save at a higher quality barely; any resize, rotation by other than 90
    degrees or crop off the 8-pixel grid between the saves erases the comb; steps of
    1 (quality above about 95) carry no trace and are skipped; flat images give too
    few values to judge. The caller calls it a hint when two thirds of at least three
    readable frequencies are combed.
    """
    if luma is None:
        luma = _decoded_luma(path)
        if luma is None:
            return 0, 0
    rows, columns = luma.shape
    blocks = (luma - 128).reshape(rows // 8, 8, columns // 8, 8)
    basis = _dct_basis()
    # Per 8x8 block: basis · block · basisᵀ, as batched matrix products (einsum's generic loop is ~10x slower).
    coefficients = basis @ blocks.transpose(0, 2, 1, 3) @ basis.T
    steps = np.array(luma_table, dtype=np.float64).reshape(8, 8)
    combed = analysed = 0
    for row, column in LOW_FREQUENCIES:
        if steps[row, column] < 2:
            continue
        values = np.abs(np.rint(coefficients[:, :, row, column] / steps[row, column])).astype(np.int64)
        histogram = np.bincount(values.ravel(), minlength=16)[:16]
        if histogram[1:].sum() < 200:
            continue
        analysed += 1
        combed += _is_combed(histogram)
    return combed, analysed


def _decoded_luma(path: Path) -> np.ndarray | None:
    """The sample crop of the JPEG's Y channel, decoded on its own; None when it has none or cannot be decoded."""
    try:
        with Image.open(path) as image:
            image.draft("L", None)  # libjpeg hands over the Y channel as decoded
            if image.mode != "L":
                return None  # CMYK and other colour spaces: no luminance channel to read
            image.load()
            # The crop starts on a multiple of 8 pixels, so its blocks are the file's own.
            return np.asarray(image.crop(_sample_box(*image.size)), dtype=np.float64)
    except DECODE_ERRORS:
        return None


def _is_combed(histogram: np.ndarray) -> bool:
    # Bin 0 is skipped: it alone holds one value (0), where every other bin holds two (+k and -k).
    lowest = histogram[1]
    for count in histogram[2:]:
        if count >= 20 and count * 0.7 > lowest and count - lowest > 3 * math.sqrt(count):
            return True
        lowest = min(lowest, count)
    return False


def _dct_basis() -> np.ndarray:
    """The orthonormal 8-point DCT-II matrix, which is the transform JPEG uses."""
    u = np.arange(8)[:, None]
    x = np.arange(8)[None, :]
    basis = np.sqrt(2 / 8) * np.cos((2 * x + 1) * u * np.pi / 16)
    basis[0, :] = np.sqrt(1 / 8)
    return basis
