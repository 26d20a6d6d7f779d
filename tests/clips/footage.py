"""Generated footage for the clip tests: long videos whose picture keeps changing, and clips cut from them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# Changing pictures that never repeat: Conway's life from a random start, and a Mandelbrot zoom.
LIFE = "life=size=320x240:rate=25:mold=10:ratio=0.5:seed={seed}:death_color=#203040:life_color=#e0c080"
MANDELBROT = "mandelbrot=size=320x240:rate=25"
# Ways a clip is changed on its way back to the desk, as ffmpeg filters.
RE_ENCODED = "null"
RESIZED = "scale=160:120"
LETTERBOXED = "scale=320:180,pad=320:320:0:70"
MIRRORED = "hflip"


def generated(path: Path, source: str, seconds: float) -> Path:
    """A video of `seconds` from one of ffmpeg's generated sources, in H.264."""
    _ffmpeg("-f", "lavfi", "-i", source, "-t", str(seconds), "-g", "50", "-pix_fmt", "yuv420p", str(path))
    return path


def cut(source: Path, path: Path, *, start: float, seconds: float, change: str = RE_ENCODED, crf: int = 30) -> Path:
    """`seconds` of `source` from `start`, changed by the ffmpeg filter `change` and re-encoded."""
    _ffmpeg(
        "-ss", str(start), "-i", str(source), "-t", str(seconds), "-vf", change,
        "-crf", str(crf), "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    return path


def without_keyframes(path: Path, seconds: float = 4) -> Path:
    """A raw H.264 stream with its IDR pictures (NAL type 5) taken out: frames, but no keyframe."""
    raw = path.with_suffix(".full.h264")
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264", str(raw),
    )  # fmt: skip
    data = raw.read_bytes()
    starts = [match.start() for match in re.finditer(b"\x00\x00\x01", data)] + [len(data)]
    units = [data[start:end] for start, end in zip(starts, starts[1:], strict=False)]
    path.write_bytes(b"".join(unit for unit in units if unit[3] & 0x1F != 5))
    return path


def with_broken_sample_table(source: Path, path: Path) -> Path:
    """A copy of an MP4 whose sample description box (stsd) is overwritten with 0xFF bytes."""
    data = bytearray(source.read_bytes())
    at = data.find(b"stsd")
    data[at + 4 : at + 40] = b"\xff" * 36
    path.write_bytes(bytes(data))
    return path


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments], check=True, timeout=300)  # noqa: S603, S607
