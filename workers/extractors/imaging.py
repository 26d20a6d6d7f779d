"""Opening and decoding photos with Pillow, for the extractors that work on their pixels (perceptual, forensics)."""

from __future__ import annotations

import math
import threading
import warnings
from pathlib import Path

import imagehash
import numpy as np
import pillow_heif
from PIL import Image, ImageStat, UnidentifiedImageError
from pillow_heif import register_heif_opener

from workers.extractors.base import ExtractionFailed, describe_size
from workers.filetype import SNIFF_BYTES, FileType, sniff

# The most pixels the desk decodes at once, in a worker or in the web process (search by file).
# Decoded, Pillow keeps up to 4 bytes a pixel (and pillow-heif 3 more while it hands a HEIF
# over), so 50 megapixels hold at most ~200-350 MB; a JPEG is first decoded at 1/2, 1/4 or 1/8
# scale where the reading allows it, and the limit applies to that. Larger pictures keep their
# metadata and header readings but are not decoded: a few hundred KB of PNG can declare 100
# megapixels and take over a gigabyte to turn into RGB.
MAX_DECODE_PIXELS = 50_000_000
# Pillow's own check, for any picture opened without ours: it warns above this and refuses
# above twice it, when the file is opened.
Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS
# Above this many pixels a picture is no longer read at full size by the extractors that look at its
# pixels; they work on a copy reduced a strip at a time (rgb_within, heif_rgb_within).
FULL_SIZE_PIXELS = 25_000_000
STRIP_PIXELS = 250_000

# Exceptions Pillow and its plugins raise for files they recognise but cannot decode.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError)

# EXIF orientation → the turn that shows the picture upright (as ImageOps.exif_transpose applies it).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

register_heif_opener()
_unchecked_open = threading.Lock()


def open_header(path: Path) -> Image.Image:
    """Image.open without Pillow's size check: opening reads only the header, and every decode here checks
    the size itself (decode), so a huge picture still gives its format, size and metadata."""
    with _unchecked_open, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def too_large_to_decode(width: int, height: int) -> str | None:
    """Why a picture of this size is not decoded, in a sentence; None when it may be."""
    if width * height <= MAX_DECODE_PIXELS:
        return None
    return (
        f"The picture is {width * height / 1_000_000:.1f} megapixels ({width:,} x {height:,}), over the "
        f"{MAX_DECODE_PIXELS // 1_000_000}-megapixel limit the desk decodes, so its pixels were not read; "
        "its metadata was still read."
    )


def open_image(path: Path) -> Image.Image | None:
    """The image with its header read; None when Pillow does not recognise the file and it does not start like a photo.

    decode() refuses a picture over MAX_DECODE_PIXELS, after any draft() the caller asks for.
    """
    try:
        return open_header(path)
    except UnidentifiedImageError as exc:
        filetype = sniff_file(path)
        if filetype.kind == "photo":
            raise ExtractionFailed(
                f"The file starts like a {filetype.description} but its header is damaged, so it cannot be decoded."
            ) from exc
        return None
    except DECODE_ERRORS as exc:
        raise ExtractionFailed(f"The image header could not be read ({_reason(exc)}).") from exc


def decode(image: Image.Image, path: Path) -> None:
    """Decode the pixels, turning Pillow's errors into a sentence for the reviewer; refuse a picture too large."""
    if too_large := too_large_to_decode(*image.size):
        raise ExtractionFailed(too_large)
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


def to_rgb(image: Image.Image, value_range: tuple[float, float] | None = None) -> Image.Image:
    """The image as 8-bit RGB (itself if it already is); transparency flattened onto white, deep data scaled
    (from its own lowest and highest values, or from `value_range`)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16"):
            low, high = 0.0, 65535.0
        else:
            low, high = value_range or (float(values.min()), float(values.max()))
        grey = np.clip((values - low) * 255.0 / (high - low or 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def rgb_within(image: Image.Image, max_pixels: int) -> Image.Image:
    """The decoded image as 8-bit RGB of at most `max_pixels`: to_rgb(image) when it fits; otherwise reduced
    by a whole factor (each pixel the mean of a box), a strip at a time, so no full-size copy is ever made."""
    width, height = image.size
    if width * height <= max_pixels:
        return to_rgb(image)
    factor = math.ceil(math.sqrt(width * height / max_pixels))
    value_range = image.getextrema() if image.mode in ("I", "F") else None
    reduced = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    reduced.info = dict(image.info)  # as to_rgb's conversions keep it
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(top + rows, height)))
        reduced.paste(to_rgb(strip, value_range).reduce(factor), (0, top // factor))
    return reduced


def heif_rgb_within(image: Image.Image, path: Path, max_pixels: int) -> Image.Image:
    """A HEIF picture (opened, not decoded) as RGB of at most `max_pixels`, reduced a strip at a time straight
    from libheif's decoded buffer: Pillow's load() would copy that buffer whole (3 bytes a pixel) into an
    image of its own (4 more), which for a 48-megapixel phone photo is 330 MB at once."""
    if too_large := too_large_to_decode(*image.size):
        raise ExtractionFailed(too_large)
    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
        picture = heif[image.tell()]
        width, height = picture.size
        mode, stride, pixels = picture.mode, picture.stride, memoryview(picture.data)
    except (*DECODE_ERRORS, RuntimeError) as exc:
        raise ExtractionFailed(f"The HEIF data could not be decoded ({_reason(exc)}).") from exc
    factor = max(1, math.ceil(math.sqrt(width * height / max_pixels)))
    reduced = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        strip = Image.frombuffer(
            mode, (width, bottom - top), pixels[top * stride : bottom * stride], "raw", mode, stride, 1
        )
        reduced.paste(to_rgb(strip).reduce(factor), (0, top // factor))
    reduced.info = dict(image.info)
    return reduced


# The last JPEG a reader decoded at reduced scale in this process, for the next reader of the same file that
# asks for the same scale: the image reader, which decodes only to prove the data whole, leaves it for the
# perceptual reader, which hashes it. Reading the entropy-coded data is most of any JPEG decode's cost.
_kept_decode: tuple[tuple, Image.Image] | None = None
_kept_decode_lock = threading.Lock()


def keep_decoded(path: Path, decoded: Image.Image) -> None:
    """Keep a copy of this decoded JPEG (opened from `path`, drafted and loaded) for take_decoded; one at a time."""
    global _kept_decode
    copy = decoded.copy()  # its pixels, info and EXIF; the reader closes its own
    with _kept_decode_lock:
        _kept_decode = (_decode_key(path, decoded), copy)


def take_decoded(path: Path, drafted: Image.Image) -> Image.Image | None:
    """The kept decode of this file at the size and mode `drafted` (opened and drafted, not loaded) would
    decode to, handed over once; None when there is none."""
    global _kept_decode
    with _kept_decode_lock:
        kept, _kept_decode = _kept_decode, None
    if drafted.format != "JPEG" or kept is None or kept[0] != _decode_key(path, drafted):
        return None
    return kept[1]


def _decode_key(path: Path, image: Image.Image) -> tuple:
    stat = Path(path).stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, image.format, image.mode, image.size)


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8); 1 when the EXIF is missing or unreadable."""
    try:
        value = image.getexif().get(0x0112, 1)
    except DECODE_ERRORS:
        return 1
    return value if value in UPRIGHT else 1


def sniff_file(path: Path) -> FileType:
    """What the file's first bytes say it is."""
    with path.open("rb") as file:
        return sniff(file.read(SNIFF_BYTES))


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).rstrip(".")


# Below this standard deviation of grey levels (0-255, on a 32x32 copy) a picture is nearly
# one shade: its perceptual hash carries no information and would match unrelated images.
LOW_DETAIL_STD = 3.0
# The side of the grey copy imagehash.phash reads (hash_size 8 x highfreq_factor 4).
HASHED_SIDE = 32


def grey_copy(picture: Image.Image) -> Image.Image:
    """The 32x32 greyscale copy (Lanczos) that pHash and has_detail read: made once, it serves both."""
    return picture.convert("L").resize((HASHED_SIDE, HASHED_SIDE), Image.Resampling.LANCZOS)


def has_detail(rgb: Image.Image, grey: Image.Image | None = None) -> bool:
    """Whether a picture has enough detail for its perceptual hash to mean anything (`grey`: its grey_copy)."""
    small = grey if grey is not None else grey_copy(rgb)
    return ImageStat.Stat(small).stddev[0] >= LOW_DETAIL_STD


def phash(picture: Image.Image, grey: Image.Image | None = None) -> imagehash.ImageHash:
    """imagehash.phash of a picture, from its grey_copy when given: phash makes the same copy first, and a
    copy already that size and mode passes through its conversion and resize unchanged."""
    return imagehash.phash(grey if grey is not None else grey_copy(picture))
