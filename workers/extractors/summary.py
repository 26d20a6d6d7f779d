"""The normalised summary of one file's readings: what lists and reports show at a glance."""

from __future__ import annotations

from datetime import datetime


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
    make = _first(exif.get("make"), video.get("make"))
    model = _first(exif.get("model"), video.get("model"))
    device = " ".join(part for part in (make, model) if part and not (make and model and model.startswith(make)))
    if make and model and model.startswith(make):
        device = model
    captured_text = _first(exif.get("captured_at"), video.get("captured_at"), video.get("created_at"))
    latitude, longitude = _gps(exif.get("gps"))
    if latitude is None:
        latitude, longitude = _gps(video.get("gps"))
    captured = parse_recorded_time(captured_text)
    return {
        "captured_at_text": captured_text or "",
        # A capture time without an offset is local time of unknown zone; it is kept
        # as text only, since any instant we stored would be a guess.
        "captured_at": captured if captured and captured.tzinfo else None,
        "gps_latitude": latitude,
        "gps_longitude": longitude,
        "device": device or "",
        "software": _first(exif.get("software"), video.get("software"), video.get("encoder")) or "",
        "duration": video.get("duration"),
        "width": _first(image.get("width"), video.get("width")),
        "height": _first(image.get("height"), video.get("height")),
    }
