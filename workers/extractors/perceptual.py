"""Perceptual hashes of a photo, or of a video's keyframes, so that re-posted copies of a file can be found.

A photo gets one 64-bit pHash (ImageHash) of the picture as a viewer sees it, after
EXIF orientation, a thumbnail, and its width and height as displayed. A video gets up to MAX_KEYFRAMES keyframes spread
over its duration, saved as small JPEGs for the reviewer and hashed one by one.
"""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from workers.extractors.base import ExtractionFailed, Unsupported, describe_size
from workers.filetype import SNIFF_BYTES, FileType, sniff

NAME = "perceptual"
VERSION = "1"
KINDS = frozenset({"photo", "video"})

ALGORITHM = "phash-64"

# Declared width x height above which a photo is refused rather than decoded: 100
# megapixels is above every common camera and phone default, and decoding more is
# how a small "decompression bomb" file exhausts a worker's memory.
MAX_IMAGE_PIXELS = 100_000_000

THUMBNAIL_SIZE = 640
THUMBNAIL_QUALITY = 80
KEYFRAME_WIDTH = 480
MAX_KEYFRAMES = 12
FFPROBE_TIMEOUT_SECONDS = 30
FFMPEG_TIMEOUT_SECONDS = 60

# pHash compares a 32x32 greyscale copy against its own median; when that copy is
# almost one shade, the hash's bits are decided by noise and match unrelated images.
LOW_DETAIL_STD = 3.0
LOW_QUALITY_REASON = "The image is almost a single colour, so its hash would match unrelated images"

# Exceptions Pillow and its plugins raise for files they recognise but cannot decode.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError)

register_heif_opener()


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Hash a photo, or a video's keyframes; non-images are read as video."""
    path = Path(path)
    image = _open_image(path)
    if image is None:
        return _extract_video(path, Path(artifacts_dir))
    with image:
        return _extract_photo(image, path, Path(artifacts_dir))


def hamming_distance(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hex hashes from this extractor."""
    return imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)


# Photos


def _open_image(path: Path) -> Image.Image | None:
    """The image, header read and size checked; None when Pillow does not recognise the file."""
    try:
        with warnings.catch_warnings():
            # The size check below is the bound; Pillow's own warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError as exc:
        filetype = _sniff(path)
        if filetype.kind == "photo":
            raise ExtractionFailed(
                f"The file starts like a {filetype.description} but its header is damaged, so it cannot be decoded."
            ) from exc
        return None
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"The image is too large to decode safely ({exc}).") from exc
    except DECODE_ERRORS as exc:
        raise ExtractionFailed(f"The image header could not be read ({_reason(exc)}).") from exc
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise ExtractionFailed(
            f"The image declares {width:,} x {height:,} pixels, more than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit, so it was not decoded."
        )
    if width == 0 or height == 0:
        image.close()
        raise ExtractionFailed(f"The image declares {width} x {height} pixels, so it has nothing to hash.")
    return image


def _extract_photo(image: Image.Image, path: Path, artifacts_dir: Path) -> dict:
    width, height = image.size
    # A JPEG decodes at 1/2, 1/4 or 1/8 scale for free; the hash needs only 32x32.
    image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    _decode(image, path)
    upright = _upright(image)
    if upright.size != image.size:
        width, height = height, width
    rgb = _to_rgb(upright)
    hashed = _hash(rgb)
    rgb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    rgb.save(artifacts_dir / "thumb.jpg", "JPEG", quality=THUMBNAIL_QUALITY)
    return {
        "algorithm": ALGORITHM,
        "hash": hashed["hash"],
        "quality": hashed["quality"],
        "low_quality_reason": hashed["low_quality_reason"],
        "width": width,
        "height": height,
        "artifacts": ["thumb.jpg"],
    }


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


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; unreadable EXIF leaves it as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        return image


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


def _hash(rgb: Image.Image) -> dict:
    """The pHash of a picture, marked low quality when the picture is nearly one shade."""
    small = rgb.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    low_detail = float(np.asarray(small, dtype=np.float64).std()) < LOW_DETAIL_STD
    return {
        "hash": str(imagehash.phash(rgb)),
        "quality": "low" if low_detail else "ok",
        "low_quality_reason": LOW_QUALITY_REASON if low_detail else None,
    }


def _sniff(path: Path) -> FileType:
    with path.open("rb") as file:
        return sniff(file.read(SNIFF_BYTES))


def _reason(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).rstrip(".")


# Videos


def _extract_video(path: Path, artifacts_dir: Path) -> dict:
    duration = _probe_video(path)
    times = _write_keyframes(path, artifacts_dir, duration)
    files = sorted(artifacts_dir.glob("keyframe-*.jpg"))
    if not files:
        raise ExtractionFailed("No keyframes could be decoded from the video.")
    keyframes = []
    for index, file in enumerate(files):
        with Image.open(file) as frame:
            hashed = _hash(_to_rgb(frame))
        keyframes.append(
            {
                "time": times.get(index),
                "file": file.name,
                "hash": hashed["hash"],
                "quality": hashed["quality"],
            }
        )
    return {
        "algorithm": ALGORITHM,
        "duration": duration,
        "keyframes": keyframes,
        "artifacts": [file.name for file in files],
    }


def _probe_video(path: Path) -> float | None:
    """The duration in seconds (None if unknown); fails or is unsupported when there is no video to read."""
    command = [
        "ffprobe",
        "-loglevel",
        "level+error",
        "-show_entries",
        "format=duration:stream=codec_type",
        "-of",
        "json",
        str(path),
    ]
    completed = _run(command, FFPROBE_TIMEOUT_SECONDS, "ffprobe")
    if completed.returncode != 0:
        raise ExtractionFailed(
            f"No keyframes could be decoded from the video. FFprobe could not read the file: "
            f"{_ffmpeg_error(completed.stderr, path)}."
        )
    try:
        probe = json.loads(completed.stdout or "{}")
    except ValueError as exc:
        raise ExtractionFailed(
            "No keyframes could be decoded from the video. FFprobe's answer was unreadable."
        ) from exc
    kinds = [stream.get("codec_type") for stream in probe.get("streams", [])]
    if "video" not in kinds:
        found = ", ".join(sorted({kind for kind in kinds if kind})) or "none"
        if "audio" in kinds:
            raise Unsupported(f"The file has sound but no picture, so there are no keyframes (streams: {found}).")
        raise ExtractionFailed(
            f"No keyframes could be decoded from the video. FFprobe found no video stream in it (streams: {found})."
        )
    try:
        duration = float(probe.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        return None
    return duration if duration > 0 else None


def _write_keyframes(path: Path, artifacts_dir: Path, duration: float | None) -> dict[int, float]:
    """Save up to MAX_KEYFRAMES keyframes, evenly thinned over the duration; returns their times by index."""
    # Only keyframes are decoded (-skip_frame nokey), so a long video costs one frame per GOP.
    spacing = duration / MAX_KEYFRAMES if duration else 0
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{spacing:.3f})'"
    command = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "level+info",
        "-skip_frame",
        "nokey",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        f"{select},scale='min({KEYFRAME_WIDTH},iw)':-2,showinfo",
        "-fps_mode",
        "vfr",
        "-frames:v",
        str(MAX_KEYFRAMES),
        "-q:v",
        "3",
        "-start_number",
        "0",
        str(artifacts_dir / "keyframe-%02d.jpg"),
    ]
    completed = _run(command, FFMPEG_TIMEOUT_SECONDS, "ffmpeg")
    if completed.returncode != 0 and not any(artifacts_dir.glob("keyframe-*.jpg")):
        raise ExtractionFailed(
            f"No keyframes could be decoded from the video. FFmpeg reported: {_ffmpeg_error(completed.stderr, path)}."
        )
    times = {}
    for match in re.finditer(r"Parsed_showinfo.*?\bn:\s*(\d+).*?\bpts_time:\s*(-?[\d.]+)", completed.stderr):
        times[int(match.group(1))] = round(float(match.group(2)), 3)
    return times


def _run(command: list[str], timeout: int, tool: str) -> subprocess.CompletedProcess:
    # A missing ffmpeg raises FileNotFoundError on purpose: that is the worker's fault, not the file's.
    try:
        return subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            command, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ExtractionFailed(f"Reading the video took longer than {timeout} seconds, so {tool} was stopped.") from exc


def _ffmpeg_error(stderr: str, path: Path) -> str:
    """The first error FFmpeg printed (the cause; later ones are consequences), without paths or prefixes."""
    lines = stderr.splitlines()
    errors = [line for line in lines if "[error]" in line] or [line for line in lines if "[fatal]" in line] or lines
    if not errors:
        return "no reason given"
    line = errors[0].replace(str(path), "the file")
    line = re.sub(r"\[[^\]]*\]\s*", "", line).strip()
    line = line.removeprefix("the file:").strip()
    return line.rstrip(".") or "no reason given"
