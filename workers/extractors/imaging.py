"""Opening and decoding photos with Pillow, for the extractors that work on their pixels (perceptual, forensics)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageStat, UnidentifiedImageError
from pillow_heif import register_heif_opener

from workers.extractors.base import ExtractionFailed, describe_size
from workers.filetype import SNIFF_BYTES, FileType, sniff

# Declared width x height above which a photo is refused rather than decoded: 100
# megapixels is above every common camera and phone default, and decoding more is
# how a small "decompression bomb" file exhausts a worker's memory.
MAX_IMAGE_PIXELS = 100_000_000

# Exceptions Pillow and its plugins raise for files they recognise but cannot decode.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError)

register_heif_opener()


def open_image(path: Path) -> Image.Image | None:
    """The image with its header read; None when Pillow does not recognise the file and it does not start like a photo.

    The caller checks the declared size against MAX_IMAGE_PIXELS before decoding.
    """
    try:
        with warnings.catch_warnings():
            # The caller's size check is the bound; Pillow's own warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError as exc:
        filetype = sniff_file(path)
        if filetype.kind == "photo":
            raise ExtractionFailed(
                f"The file starts like a {filetype.description} but its header is damaged, so it cannot be decoded."
            ) from exc
        return None
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"The image is too large to decode safely ({exc}).") from exc
    except DECODE_ERRORS as exc:
        raise ExtractionFailed(f"The image header could not be read ({_reason(exc)}).") from exc


def decode(image: Image.Image, path: Path) -> None:
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


def to_rgb(image: Image.Image) -> Image.Image:
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


def sniff_file(path: Path) -> FileType:
    """What the file's first bytes say it is."""
    with path.open("rb") as file:
        return sniff(file.read(SNIFF_BYTES))


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).rstrip(".")


# Below this standard deviation of grey levels (0-255, on a 32x32 copy) a picture is nearly
# one shade: its perceptual hash carries no information and would match unrelated images.
LOW_DETAIL_STD = 3.0


def has_detail(rgb: Image.Image) -> bool:
    """Whether a picture has enough detail for its perceptual hash to mean anything."""
    small = rgb.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    return ImageStat.Stat(small).stddev[0] >= LOW_DETAIL_STD
