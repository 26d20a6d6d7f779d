"""A video's timeline of perceptual hashes, SAMPLES_PER_SECOND frames a second, so a clip cut from it can be placed.

SAMPLES_PER_SECOND frames a second are decoded small and grey; each loses its letterbox or
pillarbox bars (edge rows and columns of one flat shade), is shrunk to 32x32 as pHash shrinks a
picture, and is hashed with pHash (the 64-bit hash workers/extractors/perceptual.py uses for
photos, computed here for all samples at once), as is and mirrored. The hashes go into one binary
artifact (TIMELINE_FILE: little-endian uint64 pairs, as is then mirrored, one pair per sample); a
sample too close to one shade to hash meaningfully (a black or blank frame) is listed in the result
as unusable, never matched.

Outcomes besides a result:

- `Unsupported` when the file has sound but no picture.
- `ExtractionFailed` when ffprobe cannot read the container (corrupt metadata), when the video
  stream has frames but no keyframe (nothing in it can be decoded from a clean start), when
  nothing can be decoded, or when ffmpeg takes longer than FFMPEG_TIMEOUT_S.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.fftpack
from PIL import Image

from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.imaging import LOW_DETAIL_STD
from workers.extractors.video import run_ffprobe

NAME = "video_timeline"
VERSION = "1"
KINDS = frozenset({"video"})

ALGORITHM = "phash-64"
# Eight a second: a clip cut anywhere is then at most 1/16 s out of step with the nearest sample of
# the video it was cut from, which matters for footage that changes quickly.
SAMPLES_PER_SECOND = 8
# pHash reads a 32x32 grey copy of the picture; samples are decoded at that size.
HASH_SIDE = 32
# Two hours; later samples are not read (the result says so). 1 KiB of pixels is kept per sample.
MAX_SAMPLES = 2 * 60 * 60 * SAMPLES_PER_SECOND
TIMELINE_FILE = "timeline.bin"
FFPROBE_TIMEOUT_S = 60
FFMPEG_TIMEOUT_S = 900
# Bars are looked for in frames decoded at SAMPLE_SIDE x SAMPLE_SIDE, whatever their shape.
SAMPLE_SIDE = 96
# A row or column whose lightest and darkest pixels differ by at most this many grey levels is a bar, not picture.
BAR_RANGE = 12
# A clip is placed from at least this many seconds of samples with detail...
MIN_PLACEABLE_SECONDS = 3
# ...showing at least this many pictures that differ by more than CHANGE_DISTANCE bits: a clip that hardly
# changes (a still, a static shot) would line up equally well anywhere in a video of the same scene.
MIN_DISTINCT_PICTURES = 3
CHANGE_DISTANCE = 12
# Trimming that would leave less than this share of a side has found something else than bars.
MIN_PICTURE_SHARE = 0.25


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Sample, trim and hash the video's frames; the hashes go to TIMELINE_FILE in artifacts_dir."""
    path = Path(path).resolve()
    stream = _video_stream(path)
    _require_keyframe(path)
    samples, trimmed = decode_samples(path)
    if not len(samples):
        raise ExtractionFailed(
            f"No picture could be decoded from the {stream.get('codec_name', 'unknown')} video stream, "
            "so the video has no timeline to compare."
        )
    hashes, mirrored = phash_many(samples), phash_many(samples[:, :, ::-1])
    usable = samples.reshape(len(samples), -1).std(axis=1) >= LOW_DETAIL_STD
    timeline = np.empty((len(hashes), 2), dtype="<u8")
    timeline[:, 0], timeline[:, 1] = hashes, mirrored
    (Path(artifacts_dir) / TIMELINE_FILE).write_bytes(timeline.tobytes())
    return {
        "algorithm": ALGORITHM,
        "samples_per_second": SAMPLES_PER_SECOND,
        "samples": len(hashes),
        "duration": round(len(hashes) / SAMPLES_PER_SECOND, 3),
        "truncated": len(samples) >= MAX_SAMPLES,
        "trimmed_samples": trimmed,
        "unusable_samples": [int(index) for index in np.flatnonzero(~usable)],
        "unplaceable_reason": unplaceable_reason(hashes, usable),
        "artifacts": [TIMELINE_FILE],
    }


def unplaceable_reason(hashes: np.ndarray, usable: np.ndarray) -> str | None:
    """Why a clip of this video could not be placed in another; None when it can be."""
    seconds = int(usable.sum()) / SAMPLES_PER_SECOND
    if seconds < MIN_PLACEABLE_SECONDS:
        return (
            f"Only {seconds:g} s of the video's {len(hashes) / SAMPLES_PER_SECOND:g} s have picture detail enough "
            f"to compare (the rest is blank or one colour); placing a clip takes at least {MIN_PLACEABLE_SECONDS} s."
        )
    distinct: list[int] = []
    for value in hashes[usable]:
        if all(int(value ^ seen).bit_count() > CHANGE_DISTANCE for seen in distinct):
            distinct.append(value)
            if len(distinct) >= MIN_DISTINCT_PICTURES:
                return None
    return (
        f"The picture hardly changes over the video's {len(hashes) / SAMPLES_PER_SECOND:g} s "
        f"({len(distinct)} distinct picture{'s' if len(distinct) != 1 else ''}), so a clip would line up "
        "equally well at many places and its place cannot be told."
    )


def read_timeline(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (as is, mirrored) uint64 hashes of a TIMELINE_FILE."""
    pairs = np.frombuffer(Path(path).read_bytes(), dtype="<u8").reshape(-1, 2)
    return pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64)


def _video_stream(path: Path) -> dict:
    """The first picture stream ffprobe finds; a reason when the container cannot be read or has none."""
    probe = run_ffprobe(path)
    streams = probe.get("streams", [])
    pictures = [
        s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if pictures:
        return pictures[0]
    if any(s.get("codec_type") == "audio" for s in streams):
        raise Unsupported("The file has sound but no moving picture, so it has no timeline to compare.")
    raise ExtractionFailed("ffprobe found no video stream in the file, so it has no timeline to compare.")


def _require_keyframe(path: Path) -> None:
    """Fail when the first video stream's packets include no keyframe: every picture would be decoded
    from references that are not in the file, so any hash of it would be of decoder guesswork."""
    command = [
        "ffprobe",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=flags",
        "-of",
        "csv=p=0",
        f"file:{path}",
    ]
    completed = _run(command, FFPROBE_TIMEOUT_S, "ffprobe")
    flags = completed.stdout.decode("ascii", errors="replace").split()
    if not flags:
        raise ExtractionFailed("The video stream holds no frames, so the video has no timeline to compare.")
    if not any(flag.startswith("K") for flag in flags):
        raise ExtractionFailed(
            f"The video stream has {len(flags):,} frames but not one keyframe, so none of its pictures "
            "can be decoded from a clean start and the video has no timeline to compare."
        )


def decode_samples(path: Path) -> tuple[np.ndarray, int]:
    """SAMPLES_PER_SECOND grey HASH_SIDE x HASH_SIDE pictures a second, each from inside its own bars, as a
    uint8 array; and how many had bars trimmed.

    Frames are read one at a time from ffmpeg's output, so memory does not grow with the video's length
    beyond the 1 KiB kept per sample.
    """
    side = SAMPLE_SIDE
    command = _ffmpeg(path, f"fps={SAMPLES_PER_SECOND},scale={side}:{side}:flags=area,format=gray")
    samples, trimmed = [], 0
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        deadline = time.monotonic() + FFMPEG_TIMEOUT_S
        try:
            while len(samples) < MAX_SAMPLES and (frame := process.stdout.read(side * side)):
                if len(frame) < side * side:
                    break
                if time.monotonic() > deadline:
                    raise ExtractionFailed(f"Decoding the video took longer than {FFMPEG_TIMEOUT_S} s and was stopped.")
                picture, had_bars = _inside_bars(np.frombuffer(frame, dtype=np.uint8).reshape(side, side))
                samples.append(picture)
                trimmed += had_bars
        finally:
            # A closed pipe stops an ffmpeg that is still writing (past MAX_SAMPLES, or after a failure here).
            process.stdout.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not samples and process.returncode != 0:
            errors.seek(0)
            raise ExtractionFailed(f"The video could not be decoded: ffmpeg says {_reason(errors.read(), path)}.")
    empty = np.zeros((0, HASH_SIDE, HASH_SIDE), dtype=np.uint8)
    return (np.stack(samples) if samples else empty), trimmed


def _inside_bars(frame: np.ndarray) -> tuple[np.ndarray, bool]:
    """The frame without its flat edge rows and columns, shrunk to HASH_SIDE square as pHash shrinks it."""
    top, bottom = _span(_flat_lines(frame, axis=1))
    left, right = _span(_flat_lines(frame, axis=0))
    had_bars = (top, bottom, left, right) != (0, frame.shape[0], 0, frame.shape[1])
    picture = Image.fromarray(np.ascontiguousarray(frame[top:bottom, left:right]), mode="L")
    return np.asarray(picture.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS)), had_bars


def phash_many(pictures: np.ndarray) -> np.ndarray:
    """imagehash.phash of each 32x32 grey picture, as uint64 (first bit most significant), all at once."""
    pixels = pictures.astype(np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)
    low = dct[:, :8, :8].reshape(len(pictures), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _ffmpeg(path: Path, filters: str) -> list[str]:
    return [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-i",
        f"file:{path}",
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        filters,
        "-f",
        "rawvideo",
        "pipe:",
    ]


def _reason(stderr: bytes, path: Path) -> str:
    """ffmpeg's last complaint, without the file's path."""
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    # "[h264 @ 0x55a8...] " in front of ffmpeg's messages says nothing to a reader.
    reason = re.sub(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", lines[-1]) if lines else "nothing"
    return reason.replace(f"file:{path}", "the file").replace(str(path), "the file").rstrip(".")


def _flat_lines(frame: np.ndarray, *, axis: int) -> np.ndarray:
    """For each row (axis=1) or column (axis=0): whether it is one flat shade, lightest to darkest."""
    spread = frame.max(axis=axis).astype(np.int16) - frame.min(axis=axis)
    return spread <= BAR_RANGE


def _span(flat: np.ndarray) -> tuple[int, int]:
    """Start and end of the picture between bars of equal width at both edges; all of it if too little is left.

    Letterboxing and pillarboxing centre the picture, so only as many flat lines as both edges have are
    bars: a flat area of the picture itself that reaches one edge (a night sky, a black interior) is kept,
    whether or not bars were added around it.
    """
    side = len(flat)
    if flat.all():
        return 0, side
    bar = min(int(np.argmin(flat)), int(np.argmin(flat[::-1])))
    if side - 2 * bar < side * MIN_PICTURE_SHARE:
        return 0, side
    return bar, side - bar


def _run(command: list[str], timeout: int, tool: str) -> subprocess.CompletedProcess:
    # A missing ffmpeg raises FileNotFoundError on purpose: that is the worker's fault, not the file's.
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as error:
        raise ExtractionFailed(f"Reading the video took longer than {timeout} s, so {tool} was stopped.") from error
