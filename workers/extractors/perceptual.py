"""Perceptual hashes of a photo, or of a video's keyframes, so that re-posted copies of a file can be found.

A photo gets one 64-bit pHash (ImageHash) of the picture as a viewer sees it, after
EXIF orientation, a thumbnail, and its width and height as displayed; and, from the thumbnail, the
region hashes it is kept under and the variant hashes it is looked up by (workers/extractors/regions.py).
A video gets up to MAX_KEYFRAMES keyframes spread over its duration, saved as small JPEGs for the reviewer
and hashed one by one.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

from workers.extractors import imaging, regions
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.imaging import (
    DECODE_ERRORS,
    FULL_SIZE_PIXELS,
    UPRIGHT,
    decode,
    heif_rgb_within,
    open_image,
    orientation,
    rgb_within,
    to_rgb,
)

NAME = "perceptual"
# 2: a picture over 50 megapixels (100 in 1) is refused unless it is a JPEG, which is read at reduced scale
# at any size; one of 25 to 50 megapixels in another format is hashed from a copy reduced to 4 megapixels
# (a HEIF's from libheif's own buffer). Pictures up to 25 megapixels read exactly as in 1.
# 3: a photo's reading also lists its region and variant hashes, for matching copies cropped, captioned,
# turned, mirrored or pasted into a collage (verify/matching/).
VERSION = "3"
KINDS = frozenset({"photo", "video"})

ALGORITHM = "phash-64"

THUMBNAIL_SIZE = 640
# Above imaging.FULL_SIZE_PIXELS, a picture that cannot be decoded at reduced scale (any but a JPEG) is
# hashed from a copy of at most WORKING_PIXELS, made a strip at a time: pHash reads only a 32x32 copy of it.
WORKING_PIXELS = 4_000_000
THUMBNAIL_QUALITY = 80
KEYFRAME_WIDTH = 480
MAX_KEYFRAMES = 12
FFPROBE_TIMEOUT_SECONDS = 30
FFMPEG_TIMEOUT_SECONDS = 60

# pHash compares a 32x32 greyscale copy against its own median; when that copy is
# almost one shade, the hash's bits are decided by noise and match unrelated images.
LOW_QUALITY_REASON = "The image is almost a single colour, so its hash would match unrelated images"


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Hash a photo, or a video's keyframes; non-images are read as video."""
    path = Path(path)
    image = _open_photo(path)
    if image is None:
        return _extract_video(path, Path(artifacts_dir))
    with image:
        return _extract_photo(image, path, Path(artifacts_dir))


def hamming_distance(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hex hashes from this extractor."""
    return imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)


# Photos


def _open_photo(path: Path) -> Image.Image | None:
    """The image, header read; None when Pillow does not recognise the file. decode() checks its size."""
    image = open_image(path)
    if image is None:
        return None
    width, height = image.size
    if width == 0 or height == 0:
        image.close()
        raise ExtractionFailed(f"The image declares {width} x {height} pixels, so it has nothing to hash.")
    return image


def _extract_photo(image: Image.Image, path: Path, artifacts_dir: Path) -> dict:
    width, height = image.size
    # A JPEG decodes at 1/2, 1/4 or 1/8 scale for free; the hash needs only 32x32.
    image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if image.format == "HEIF" and width * height > FULL_SIZE_PIXELS:
        rgb, turned = heif_rgb_within(image, path, WORKING_PIXELS), False  # libheif has turned it already
    else:
        # The image reader's decode of the same JPEG at this scale, when it ran just before in this process.
        decoded = imaging.take_decoded(path, image)
        if decoded is None:
            decode(image, path)
        rgb, turned = _upright_rgb(decoded or image)
    if turned:
        width, height = height, width
    hashed = _hash(rgb)
    if min(rgb.size) < regions.MIN_SIDE:
        reason = f"The picture is only {rgb.width} x {rgb.height} pixels, too small for its hash to tell it from others"
        hashed = {**hashed, "quality": "low", "low_quality_reason": reason}
    rgb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    rgb.save(artifacts_dir / "thumb.jpg", "JPEG", quality=THUMBNAIL_QUALITY)
    usable = hashed["quality"] == "ok"
    return {
        "regions": _region_hashes(regions.stored_regions(rgb)) if usable else [],
        "variants": _region_hashes(regions.query_variants(rgb)) if usable else [],
        "algorithm": ALGORITHM,
        "hash": hashed["hash"],
        "quality": hashed["quality"],
        "low_quality_reason": hashed["low_quality_reason"],
        "width": width,
        "height": height,
        "artifacts": ["thumb.jpg"],
    }


def _region_hashes(pictures: list[tuple[str, Image.Image]]) -> list[dict]:
    """Each region's or variant's label and hex hash; a near-uniform one (a blank quarter) is left out."""
    return [{"label": h.label, "hash": f"{h.value:016x}"} for h in regions.hash_regions(pictures)]


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; unreadable EXIF leaves it as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        return image


def _upright_rgb(image: Image.Image) -> tuple[Image.Image, bool]:
    """The decoded picture as RGB, turned upright, and whether it was turned a quarter; above FULL_SIZE_PIXELS
    a reduced copy, and the full-size pixels are let go as soon as it is made."""
    if image.width * image.height <= FULL_SIZE_PIXELS:
        upright = _upright(image)
        return to_rgb(upright), upright.size != image.size
    turn = UPRIGHT.get(orientation(image))
    rgb = rgb_within(image, WORKING_PIXELS)
    image.close()
    if turn is None:
        return rgb, False
    return rgb.transpose(turn), turn in QUARTER_TURNS


QUARTER_TURNS = (
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
)


def _hash(rgb: Image.Image) -> dict:
    """The pHash of a picture, marked low quality when the picture is nearly one shade."""
    grey = imaging.grey_copy(rgb)
    low_detail = not imaging.has_detail(rgb, grey)
    return {
        "hash": str(imaging.phash(rgb, grey)),
        "quality": "low" if low_detail else "ok",
        "low_quality_reason": LOW_QUALITY_REASON if low_detail else None,
    }


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
            hashed = _hash(to_rgb(frame))
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
