"""Screening signals for a reviewer: an error level analysis image, and traces of JPEG re-saving.

Nothing here is a verdict. Error level analysis (ELA) shows how much each area of a
photo changes when it is saved again as JPEG; the recompression signals read the
JPEG's quantisation tables and the histograms of its DCT coefficients to say whether
the file looks like it came straight from a camera or was re-saved by software.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageStat, UnidentifiedImageError
from pillow_heif import register_heif_opener

from workers.extractors.base import ExtractionFailed, Unsupported, describe_size
from workers.filetype import SNIFF_BYTES, sniff

NAME = "forensics"
VERSION = "1"
KINDS = frozenset({"photo"})

# Declared width x height above which a photo is refused rather than decoded (a
# guard against decompression bombs; no common camera or phone default comes near).
MAX_IMAGE_PIXELS = 100_000_000

ELA_QUALITY = 90
# ELA holds three full-size RGB copies at once (the photo, its re-save and their
# difference; Pillow keeps 4 bytes a pixel): about 300 MB at this cap. Larger photos
# (a 48-MP phone shot, a 61-MP camera) are scaled down to it first, which blurs their
# compression traces; JPEGs are decoded at 1/2, 1/4 or 1/8 scale where that suffices.
ELA_MAX_PIXELS = 25_000_000
ELA_IMAGE_SIZE = 1024
ELA_MAX_SCALE = 32

# The double-compression check reads at most this many pixels a side from the centre.
DCT_SAMPLE_SIZE = 1024
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

# Exceptions Pillow and its plugins raise for files they recognise but cannot decode.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError)

# How to turn a stored image upright for each EXIF orientation (as ImageOps.exif_transpose does).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# The example tables of the JPEG standard (ITU-T T.81 Annex K), in natural order;
# libjpeg scales them by quality, and most software that re-saves a JPEG uses libjpeg.
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

# The nine lowest AC frequencies (row, column), in zigzag order: the best populated histograms.
LOW_FREQUENCIES = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0))

register_heif_opener()


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Error level analysis for any photo; quantisation and double-compression signals for JPEGs."""
    path = Path(path)
    with _open_photo(path) as image:
        image_format = image.format or "unknown"
        tables = dict(getattr(image, "quantization", None) or {}) if image_format == "JPEG" else None
        ela, notes = _error_level_analysis(image, path, Path(artifacts_dir))
    if tables is None:
        recompression = None
        notes.append(
            f"The file is a {image_format} image, not a JPEG, so it has no quantisation tables to read; "
            "only error level analysis ran."
        )
    else:
        recompression = _recompression_signals(path, tables)
    return {
        "ela": ela,
        "recompression": recompression,
        "notes": notes,
        "caveat": CAVEAT,
        "artifacts": ["ela.png"],
    }


# Opening and decoding


def _open_photo(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # The size check below is the bound; Pillow's own warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError as exc:
        with path.open("rb") as file:
            filetype = sniff(file.read(SNIFF_BYTES))
        if filetype.kind == "photo":
            raise ExtractionFailed(
                f"The file starts like a {filetype.description} but its header is damaged, so it cannot be decoded."
            ) from exc
        raise Unsupported(
            f"Forensics reads photos only, and Pillow does not recognise this file as one (it looks like: "
            f"{filetype.description})."
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"The image is too large to decode safely ({exc}).") from exc
    except DECODE_ERRORS as exc:
        raise ExtractionFailed(f"The image header could not be read ({_reason(exc)}).") from exc
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS or width == 0 or height == 0:
        image.close()
        raise ExtractionFailed(
            f"The image declares {width:,} x {height:,} pixels, outside the 1 to "
            f"{MAX_IMAGE_PIXELS // 1_000_000}-megapixel range this extractor decodes."
        )
    return image


def _decode(image: Image.Image, path: Path) -> None:
    """Decode the pixels, turning Pillow's errors into a sentence for the reviewer."""
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"The image is too large to decode safely ({exc}).") from exc
    except DECODE_ERRORS as exc:
        reason = _reason(exc)
        if "truncated" in reason:
            raise ExtractionFailed(
                f"The {image.format or 'image'} file is truncated: it ends after {describe_size(path.stat().st_size)}, "
                "before its image data is complete."
            ) from exc
        raise ExtractionFailed(f"The {image.format or 'image'} data could not be decoded ({reason}).") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB (itself if it already is); transparency flattened onto white, deep data scaled."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        low, high = (0.0, 65535.0) if image.mode.startswith("I;16") else (float(values.min()), float(values.max()))
        grey = np.clip((values - low) * 255.0 / (high - low or 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8); 1 when the EXIF is missing or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODE_ERRORS:
        return 1
    return value if value in UPRIGHT else 1


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).rstrip(".")


# Error level analysis


def _error_level_analysis(image: Image.Image, path: Path, artifacts_dir: Path) -> tuple[dict, list[str]]:
    """Write ela.png: the difference between the photo and its re-save, brightened and turned upright."""
    notes = [ELA_NOTE]
    width, height = image.size
    orientation = _orientation(image)
    if width * height > ELA_MAX_PIXELS:
        # A JPEG can decode at 1/2, 1/4 or 1/8 scale directly, which bounds the memory used.
        factor = math.sqrt(ELA_MAX_PIXELS / (width * height))
        image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))
    _decode(image, path)
    try:
        rgb = _to_rgb(image)
    except ValueError as exc:
        raise ExtractionFailed(f"The image's colour mode {image.mode} could not be converted to RGB.") from exc
    if rgb.width * rgb.height > ELA_MAX_PIXELS:
        factor = math.sqrt(ELA_MAX_PIXELS / (rgb.width * rgb.height))
        rgb = rgb.resize((int(rgb.width * factor), int(rgb.height * factor)), Image.Resampling.LANCZOS)
    if rgb.size != (width, height):
        notes.append(
            f"The image is {width:,} x {height:,} pixels, so error level analysis ran on a copy scaled to "
            f"{rgb.width:,} x {rgb.height:,}; scaling blurs compression traces, so read it as coarser."
        )
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=ELA_QUALITY)
    with Image.open(buffer) as resaved:
        difference = ImageChops.difference(rgb, _to_rgb(resaved))
    del rgb, buffer
    max_difference = max(high for _, high in difference.getextrema())
    mean_difference = sum(ImageStat.Stat(difference).mean) / 3
    # The brightest 0.5% of values saturate (scaling by the maximum lets one outlier darken the rest),
    # up to ELA_MAX_SCALE, past which a photo that barely changed would show only rounding noise.
    counts = np.array(difference.histogram()).reshape(-1, 256).sum(axis=0)
    bright = int(np.searchsorted(np.cumsum(counts), counts.sum() * 0.995))
    scale = min(255 / max(bright, 1), ELA_MAX_SCALE)
    visible = difference.point(lambda value: min(255, round(value * scale)))
    del difference
    if orientation in UPRIGHT:
        visible = visible.transpose(UPRIGHT[orientation])
    visible.thumbnail((ELA_IMAGE_SIZE, ELA_IMAGE_SIZE), Image.Resampling.LANCZOS)
    visible.save(artifacts_dir / "ela.png", "PNG")
    ela = {
        "file": "ela.png",
        "quality": ELA_QUALITY,
        "max_difference": int(max_difference),
        "mean_difference": round(mean_difference, 2),
        "scale": round(scale, 2),
    }
    return ela, notes


# JPEG recompression


def ijg_table(base: tuple[int, ...], quality: int) -> list[int]:
    """A standard table scaled as libjpeg's jpeg_set_quality does (baseline: capped at 255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((value * scale + 50) // 100, 1), 255) for value in base]


def estimate_quality(tables: dict[int, list[int]]) -> tuple[int, bool]:
    """The libjpeg quality whose tables are closest to these, and whether they match it exactly.

    Table 0 is compared with the standard luminance table and every other with the
    chrominance one, as libjpeg writes them; the distance is the sum of absolute
    differences, so for custom (camera) tables the quality is only the nearest fit.
    """
    best_quality, best_distance = 0, math.inf
    for quality in range(100, 0, -1):
        distance = 0
        for slot, table in tables.items():
            standard = ijg_table(IJG_LUMINANCE if slot == 0 else IJG_CHROMINANCE, quality)
            distance += sum(abs(a - b) for a, b in zip(table, standard, strict=True))
        if distance < best_distance:
            best_quality, best_distance = quality, distance
    return best_quality, best_distance == 0


def _recompression_signals(path: Path, tables: dict[int, list[int]]) -> dict:
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
    combed, analysed = _double_compression(path, tables[min(tables)])
    hint = None if analysed < 3 else combed * 3 >= analysed * 2
    if hint is None:
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


def _double_compression(path: Path, luma_table: list[int]) -> tuple[int, int]:
    """How many of the nine lowest AC frequencies show a double-quantisation comb, of how many could be read.

    What it computes: the luminance channel is decoded (before colour conversion),
    cut into the JPEG's own 8x8 blocks (from the centre, at most DCT_SAMPLE_SIZE
    pixels a side), transformed with the DCT and divided by the file's quantisation
    steps, which gives back the integer coefficients the file stores. For each of the
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
    try:
        with Image.open(path) as image:
            image.draft("L", None)  # libjpeg hands over the Y channel as decoded
            if image.mode != "L":
                return 0, 0  # CMYK and other colour spaces: no luminance channel to read
            image.load()
            # The crop starts on a multiple of 8 pixels, so its blocks are the file's own.
            rows, columns = (min(size // 8 * 8, DCT_SAMPLE_SIZE) for size in (image.height, image.width))
            top = (image.height - rows) // 2 // 8 * 8
            left = (image.width - columns) // 2 // 8 * 8
            luma = np.asarray(image.crop((left, top, left + columns, top + rows)), dtype=np.float64)
    except DECODE_ERRORS:
        return 0, 0
    blocks = (luma - 128).reshape(rows // 8, 8, columns // 8, 8)
    basis = _dct_basis()
    coefficients = np.einsum("ux,axby,vy->abuv", basis, blocks, basis)
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
