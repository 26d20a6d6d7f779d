"""The normalised summary of one file's readings: what lists and reports show at a glance, and where
the readers disagree about it."""

from __future__ import annotations

from datetime import datetime

# Two readers agree on a position when they are within this many degrees (about 11 m).
GPS_TOLERANCE = 1e-4


def _first(*values):
    return next((v for v in values if v not in (None, "")), None)


def _gps(reading: dict | None) -> tuple[float | None, float | None]:
    if not reading or reading.get("latitude") is None or reading.get("longitude") is None:
        return None, None
    return float(reading["latitude"]), float(reading["longitude"])


def parse_recorded_time(text: str | None) -> datetime | None:
    """A time as a file records it (ISO 8601, offset optional), or None when it cannot be read."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def summarise(results: dict[str, dict]) -> dict:
    """Merge successful extractor results ({name: result}) into the MediaItem's summary fields.

    Camera metadata (exif) wins over container metadata (video) for who and when;
    pixel dimensions come from the decoder (image) or the video stream. Values are
    kept as the file states them: a GPS of 0,0 stays 0,0 here and is flagged later.
    """
    exif, image, video = results.get("exif") or {}, results.get("image") or {}, results.get("video") or {}
    # ExifTool, where it ran, fills in what the desk's own readers did not find (maker notes, containers).
    exiftool = results.get("exiftool") or {}
    make = _first(exif.get("make"), video.get("make"), exiftool.get("make"))
    model = _first(exif.get("model"), video.get("model"), exiftool.get("model"))
    device = " ".join(part for part in (make, model) if part and not (make and model and model.startswith(make)))
    if make and model and model.startswith(make):
        device = model
    captured_text = _first(
        exif.get("captured_at"), video.get("captured_at"), video.get("created_at"), exiftool.get("captured_at")
    )
    latitude, longitude = _gps(exif.get("gps"))
    if latitude is None:
        latitude, longitude = _gps(video.get("gps"))
    if latitude is None:
        latitude, longitude = _gps(exiftool.get("gps"))
    captured = parse_recorded_time(captured_text)
    return {
        "captured_at_text": captured_text or "",
        # A capture time without an offset is local time of unknown zone; it is kept
        # as text only, since any instant we stored would be a guess.
        "captured_at": captured if captured and captured.tzinfo else None,
        "gps_latitude": latitude,
        "gps_longitude": longitude,
        "device": device or "",
        "software": _first(exif.get("software"), video.get("software"), video.get("encoder"), exiftool.get("software"))
        or "",
        "duration": video.get("duration"),
        "width": _first(image.get("width"), video.get("width")),
        "height": _first(image.get("height"), video.get("height")),
        "disagreements": disagreements(results),
    }


def disagreements(results: dict[str, dict]) -> list[dict]:
    """Where the readers that ran read a different make, model, capture time or GPS position.

    Each entry names the field and gives every reader's value ({"field": "captured_at", "readers":
    {"exif": ..., "exiftool": ...}}). A reader that found nothing is listed only when another found
    something: a missing value next to a found one is a disagreement too.
    """
    found = []
    readers = {name: result for name, result in results.items() if name in ("exif", "video", "exiftool") and result}
    for field, same in (("make", _same_text), ("model", _same_text), ("captured_at", _same_time), ("gps", _same_gps)):
        values = {name: _field(result, field) for name, result in readers.items()}
        present = [value for value in values.values() if value not in (None, "")]
        if len(values) < 2 or not present:
            continue
        if len(present) < len(values) or any(not same(present[0], other) for other in present[1:]):
            found.append({"field": field, "readers": values})
    return found


def _field(result: dict, field: str):
    if field == "captured_at":
        return _first(result.get("captured_at"), result.get("created_at"))
    if field == "gps":
        latitude, longitude = _gps(result.get("gps"))
        return None if latitude is None else [latitude, longitude]
    return result.get(field)


def _same_text(one, other) -> bool:
    return str(one).strip().casefold() == str(other).strip().casefold()


def _same_time(one, other) -> bool:
    """The same moment to the second; when both say their zone, the same zone too."""
    first, second = parse_recorded_time(one), parse_recorded_time(other)
    if first is None or second is None:
        return one == other
    if (first.tzinfo is None) != (second.tzinfo is None):
        return first.replace(tzinfo=None, microsecond=0) == second.replace(tzinfo=None, microsecond=0)
    return first.replace(microsecond=0) == second.replace(microsecond=0) and first.utcoffset() == second.utcoffset()


def _same_gps(one, other) -> bool:
    return all(abs(a - b) <= GPS_TOLERANCE for a, b in zip(one, other, strict=True))
