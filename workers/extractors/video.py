"""The video extractor: what ffprobe reads from a video's container: streams, duration, capture time, GPS, device.

Values are kept as the file records them: GPS is never "corrected", times keep the
offset the device wrote. Outcomes besides a result:

- `Unsupported` when ffprobe reads the file as a still image (JPEG, PNG, TIFF...).
- `ExtractionFailed` when ffprobe cannot read the file, takes longer than
  `FFPROBE_TIMEOUT_S`, is not installed, or finds a container with no video or
  audio stream in it. The last is a failure, not `Unsupported`: the file claims to
  be a video, so a container without a single picture or sound track is broken
  (or hostile), and the reviewer should see it as such.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from workers.extractors.base import ExtractionFailed, Unsupported

NAME = "video"
VERSION = "2"
KINDS = frozenset({"video"})

FFPROBE_TIMEOUT_S = 30

# Tag names are looked up case-insensitively, first match wins.
GPS_TAGS = ("com.apple.quicktime.location.ISO6709", "location", "location-eng")
MAKE_TAGS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
MODEL_TAGS = ("com.apple.quicktime.model", "com.android.model", "model")
SOFTWARE_TAGS = ("com.apple.quicktime.software", "com.android.version", "software")
# Apple's creationdate is the moment of capture in local time with its offset; "date" (the item
# list's ©day, as Android phones and ffmpeg write it) also keeps its zone; creation_time (the mvhd
# atom) is when the file was written, in UTC.
CAPTURE_TIME_TAGS = ("com.apple.quicktime.creationdate", "date", "creation_time")

# One ISO 6709 coordinate: sign, integer part (DD, DDMM or DDMMSS), optional fraction.
_ISO6709 = re.compile(
    r"^(?P<lat>[+-]\d{2}(?:\d{2}){0,2}(?:\.\d*)?)"
    r"(?P<lon>[+-]\d{3}(?:\d{2}){0,2}(?:\.\d*)?)"
    r"(?P<alt>[+-]\d+(?:\.\d*)?)?"
    r"(?:CRS[^/]*)?/?$"
)
# "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55a8...] " in front of ffprobe's messages.
_LOG_CONTEXT = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Read the container's format, streams and metadata tags with ffprobe."""
    probe = run_ffprobe(path)
    container = probe.get("format", {})
    streams = probe.get("streams", [])
    format_name = container.get("format_name", "unknown")
    if format_name == "image2" or format_name.endswith("_pipe"):
        raise Unsupported(f"ffprobe reads this file as a still image ({format_name}), not a video.")
    if not any(stream.get("codec_type") in ("video", "audio") for stream in streams):
        raise ExtractionFailed(
            f"The file has no video or audio stream: ffprobe found {_count_streams(streams)} "
            f"in its {format_name} container."
        )

    tags = {key: str(value) for key, value in container.get("tags", {}).items()}
    picture = _main_video_stream(streams)
    iso6709 = _first_tag(tags, GPS_TAGS)
    return {
        "container": format_name,
        "duration": _float(container.get("duration")),
        "width": picture.get("width") if picture else None,
        "height": picture.get("height") if picture else None,
        "streams": [_describe_stream(stream) for stream in streams],
        "encoder": _first_tag(tags, ("encoder",)),
        "created_at": _iso8601(tags, ("creation_time",)),
        "captured_at": _iso8601(tags, CAPTURE_TIME_TAGS),
        "gps": parse_iso6709(iso6709) if iso6709 else None,
        "make": _first_tag(tags, MAKE_TAGS),
        "model": _first_tag(tags, MODEL_TAGS),
        "software": _first_tag(tags, SOFTWARE_TAGS),
        "tags": tags,
        "ffprobe": probe,
    }


def run_ffprobe(path: Path) -> dict:
    """ffprobe's JSON for the file, or ExtractionFailed saying why there is none."""
    command = [
        "ffprobe",
        "-v",
        "error",
        # Only the file itself: a playlist inside it must not make ffprobe open URLs.
        "-protocol_whitelist",
        "file",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        # "file:" so that a name starting with "-" or containing "http:" is still just a path.
        f"file:{Path(path).resolve()}",
    ]
    try:
        completed = subprocess.run(command, capture_output=True, timeout=FFPROBE_TIMEOUT_S, check=False)  # noqa: S603
    except FileNotFoundError as error:
        raise ExtractionFailed("ffprobe is not installed: ffmpeg must be installed to read videos.") from error
    except subprocess.TimeoutExpired as error:
        raise ExtractionFailed(f"ffprobe gave up after {FFPROBE_TIMEOUT_S} s without finishing the file.") from error
    if completed.returncode != 0:
        raise ExtractionFailed(f"ffprobe could not read the file: {_ffprobe_reason(completed.stderr, path)}")
    try:
        return json.loads(completed.stdout.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as error:
        raise ExtractionFailed(f"ffprobe's output could not be read as JSON ({error.msg}).") from error


def parse_iso6709(text: str) -> dict | None:
    """Signed decimal degrees (and metres) from an ISO 6709 point such as "+37.3318-122.0312+010.000/"."""
    match = _ISO6709.match(text.strip())
    if not match:
        return None
    altitude = match.group("alt")
    return {
        "latitude": _sexagesimal(match.group("lat"), degree_digits=2),
        "longitude": _sexagesimal(match.group("lon"), degree_digits=3),
        "altitude": float(altitude) if altitude else None,
    }


def _sexagesimal(coordinate: str, *, degree_digits: int) -> float:
    """Decimal degrees from ISO 6709's ±D.D, ±DM.M or ±DMS.S forms (D has 2 digits for latitude, 3 for longitude)."""
    sign = -1.0 if coordinate[0] == "-" else 1.0
    whole, _, fraction = coordinate[1:].partition(".")
    fraction = f".{fraction}" if fraction else ""
    degrees = whole[:degree_digits]
    rest = whole[degree_digits:]
    if not rest:
        return sign * float(degrees + fraction)
    if len(rest) == 2:
        return sign * (int(degrees) + float(rest + fraction) / 60)
    return sign * (int(degrees) + int(rest[:2]) / 60 + float(rest[2:] + fraction) / 3600)


def _count_streams(streams: list[dict]) -> str:
    """ "no streams", "1 stream (data)", "2 streams (data, subtitle)"."""
    if not streams:
        return "no streams"
    types = ", ".join(sorted({stream.get("codec_type", "unknown") for stream in streams}))
    return f"{len(streams)} stream{'s' if len(streams) > 1 else ''} ({types})"


def _main_video_stream(streams: list[dict]) -> dict | None:
    """The first video stream that is a picture track, not embedded cover art."""
    videos = [stream for stream in streams if stream.get("codec_type") == "video"]
    moving = [stream for stream in videos if not stream.get("disposition", {}).get("attached_pic")]
    return (moving or videos or [None])[0]


def _describe_stream(stream: dict) -> dict:
    return {
        "index": stream.get("index"),
        "type": stream.get("codec_type"),
        "codec": stream.get("codec_name") or _codec_tag(stream),
        "profile": stream.get("profile"),
        "width": stream.get("width"),
        "height": stream.get("height"),
        "fps": _frame_rate(stream),
        "bit_rate": _int(stream.get("bit_rate")),
        "duration": _float(stream.get("duration")),
        "rotation": _rotation(stream),
    }


def _codec_tag(stream: dict) -> str | None:
    """The four-character code for streams ffprobe has no decoder name for (e.g. Apple's "mebx" metadata)."""
    tag = stream.get("codec_tag_string", "")
    return tag if tag and "[" not in tag else None


def _frame_rate(stream: dict) -> float | None:
    if stream.get("codec_type") != "video":
        return None
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = Fraction(stream.get(key, ""))
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:
            return round(float(rate), 3)
    return None


def _rotation(stream: dict) -> float | None:
    """Degrees from the display matrix (ffprobe 5+) or the older "rotate" tag, as ffprobe states them."""
    for side_data in stream.get("side_data_list", []):
        if "rotation" in side_data:
            return _float(side_data["rotation"])
    return _float(stream.get("tags", {}).get("rotate"))


def _first_tag(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {key.lower(): value for key, value in tags.items()}
    for name in names:
        value = lowered.get(name.lower(), "").strip()
        if value:
            return value
    return None


def _iso8601(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    """The first of the named tags that holds an ISO 8601 time, in ISO 8601 with the offset it was recorded with."""
    lowered = {key.lower(): value for key, value in tags.items()}
    for name in names:
        try:
            return datetime.fromisoformat(lowered.get(name.lower(), "").strip()).isoformat()
        except ValueError:
            continue
    return None


def _ffprobe_reason(stderr: bytes, path: Path) -> str:
    """ffprobe's verdict (its last line) with the complaints that led to it, as the end of a sentence.

    ffprobe prints the demuxer's details first ("Multiple mdhd?", "error reading header")
    and its conclusion last ("Invalid data found when processing input"); both help a reader.
    """
    prefix = f"file:{Path(path).resolve()}: "
    lines = [
        _LOG_CONTEXT.sub("", line).strip().removeprefix(prefix).removeprefix(f"{Path(path).resolve()}: ")
        for line in stderr.decode("utf-8", errors="replace").strip().splitlines()
    ]
    lines = list(dict.fromkeys(line.rstrip(".") for line in lines if line))
    if not lines:
        return "it gave no reason."
    verdict, details = lines[-1], lines[:-1][:3]
    verdict = verdict[0].lower() + verdict[1:]
    return f"{verdict} ({'; '.join(details)})." if details else f"{verdict}."


def _float(value: object) -> float | None:
    """A finite number, or None: JSON (and PostgreSQL's jsonb) has no NaN or infinity."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
