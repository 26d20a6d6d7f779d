"""Consistency flags: signals from a file's readings and the case's claim for a reviewer to weigh, never verdicts.

The rules are pure functions over two plain dicts, a `Claim` (what the case says:
when and where) and an item's `Readings` (its kind, the results of its successful
extractions, its summary fields and its sightings in the case), so they can be read
and tested without a database. `recompute_flags` turns them into `Flag` rows.

Values are taken as the file states them: a GPS of 0,0 or a Los Angeles photo with
a positive longitude is kept and flagged, never corrected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from django.db import models, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from verify.case_story import distance_km
from verify.models import Case, Extraction, Flag, MediaItem, Sighting, storable_json
from workers.extractors.summary import parse_recorded_time

INFO, LOW, MEDIUM, HIGH = Flag.Severity.INFO, Flag.Severity.LOW, Flag.Severity.MEDIUM, Flag.Severity.HIGH
SEVERITY_RANK = {INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3}

CAPTURE_AFTER_CLAIM = "capture-after-claim"
CAPTURE_LONG_BEFORE_CLAIM = "capture-long-before-claim"
GPS_DISTANCE = "gps-distance"
GPS_IMPOSSIBLE = "gps-impossible"
METADATA_STRIPPED = "metadata-stripped"
EDITING_SOFTWARE = "editing-software"
THUMBNAIL_DIFFERS = "thumbnail-differs"
C2PA = "c2pa"
FIRST_SEEN_BEFORE_CLAIM = "first-seen-before-claim"
# The kinds this module deletes and rewrites. Others (the similarity module's
# "seen-before" and "same-file") belong to other writers and are never touched here.
OWNED_KINDS = frozenset(
    {
        CAPTURE_AFTER_CLAIM,
        CAPTURE_LONG_BEFORE_CLAIM,
        GPS_DISTANCE,
        GPS_IMPOSSIBLE,
        METADATA_STRIPPED,
        EDITING_SOFTWARE,
        THUMBNAIL_DIFFERS,
        C2PA,
        FIRST_SEEN_BEFORE_CLAIM,
    }
)
# Case fields the flags read; a change to any of them recomputes the case's flags.
CLAIM_FIELDS = frozenset({"claim", "claimed_at", "claimed_latitude", "claimed_longitude", "claimed_place"})

# Times.
# Claimed times are rarely known to the minute and camera clocks drift by minutes, so
# a capture or a sighting within an hour of the claimed time is not flagged.
CLAIM_TIME_GRACE = timedelta(hours=1)
# A capture time without a UTC offset is local time of an unknown zone. Zones run
# from UTC-12 to UTC+14, so such a time is compared allowing 14 h either way.
UNKNOWN_ZONE_TOLERANCE = timedelta(hours=14)
# Captured up to a day after the claimed time may still be the same event when the
# claimed time is only known to the day (entered as midnight); beyond that, the file
# was made after the event it is said to show.
CAPTURE_AFTER_HIGH = timedelta(hours=24)
# Claims are usually made after the fact and give the event's time loosely ("last
# week", "yesterday"), so a capture some days before the claimed time fits many
# honest claims. Recycled footage of an earlier event typically resurfaces months or
# years later: more than 30 days before is "long before", more than a year is high.
LONG_BEFORE = timedelta(days=30)
LONG_BEFORE_HIGH = timedelta(days=365)
# Dates a clock that was never set reports: the QuickTime epoch (an mvhd time of 0),
# the Unix and FAT epochs, and the factory default of many cameras.
UNSET_CLOCK_DATES = frozenset({date(1904, 1, 1), date(1970, 1, 1), date(1980, 1, 1), date(2000, 1, 1)})

# Places.
# (upper bound in km, severity). A claimed point usually stands for a town or a city
# centre, and a phone's fix without satellites (cell towers, Wi-Fi) can be off by
# kilometres: under 5 km is the same place; up to 25 km the same city or its
# outskirts; up to 100 km the same region; beyond that, somewhere else.
GPS_DISTANCE_BANDS = ((5.0, INFO), (25.0, LOW), (100.0, MEDIUM), (math.inf, HIGH))
# A far position whose mirror image (a flipped hemisphere) lies within this distance of
# the claimed place is probably a writer's sign error; the message says so.
MIRROR_MATCH_KM = 25.0

# Thumbnails.
# DCF cameras store 160 x 120 thumbnails whatever the picture's shape, letterboxed with
# black bars (a 3:2 Canon or Leica photo has a 4:3 thumbnail), so their shape says nothing.
DCF_THUMBNAIL_SIZES = frozenset({(160, 120), (120, 160)})
# Thumbnails are whole pixels: a 45 x 60 one is only accurate to about 2 %. Shapes within
# 5 % (or 2 px on the short side, whichever is more) are the same shape.
THUMBNAIL_ASPECT_TOLERANCE = 0.05
THUMBNAIL_PIXEL_SLACK = 2
# pHash bits (of 64) that differ between the thumbnail and the picture. On the shared
# corpus a camera's own thumbnail is within 4 bits of its picture once letterbox bars
# are trimmed and the orientation applied; unrelated pictures differ by about 32.
THUMBNAIL_HASH_DIFFERS_BITS = 14

# Software. (pattern, product, severity); the first match decides. Only known editors
# are listed, so a camera's or phone's firmware string ("fw 05.15", "15.2.1",
# "v7H1-74e") never matches.
GENERATOR = "an image generator: the picture may be synthetic or generatively edited"
EDITOR = "an editor: the file was opened and saved by it, which may or may not have changed its content"
ORGANISER = "a photo organiser or raw converter: it rewrites metadata or develops raw files, rarely edits content"
REENCODER = "a re-encoder: the video was re-encoded or remuxed, as messaging apps, converters and downloaders do"
EDITING_SOFTWARE_NAMES = (
    (r"\bfirefly\b", "Adobe Firefly", HIGH, GENERATOR),
    (r"\bmidjourney\b", "Midjourney", HIGH, GENERATOR),
    (r"\bdall[\s·-]?e\b", "DALL-E", HIGH, GENERATOR),
    (r"\bstable\s?diffusion\b", "Stable Diffusion", HIGH, GENERATOR),
    (r"\blightroom\b", "Adobe Lightroom", MEDIUM, EDITOR),
    (r"\bphotoshop\b", "Adobe Photoshop", MEDIUM, EDITOR),
    (r"\badobe express\b", "Adobe Express", MEDIUM, EDITOR),
    (r"\bgimp\b", "GIMP", MEDIUM, EDITOR),
    (r"\baffinity photo\b", "Affinity Photo", MEDIUM, EDITOR),
    (r"\bpixelmator\b", "Pixelmator", MEDIUM, EDITOR),
    (r"\bpaint\.net\b", "Paint.NET", MEDIUM, EDITOR),
    (r"\bpaintshop\b", "Corel PaintShop", MEDIUM, EDITOR),
    (r"\bphotopea\b", "Photopea", MEDIUM, EDITOR),
    (r"\bkrita\b", "Krita", MEDIUM, EDITOR),
    (r"\bsnapseed\b", "Snapseed", MEDIUM, EDITOR),
    (r"\bpicsart\b", "PicsArt", MEDIUM, EDITOR),
    (r"\bcanva\b", "Canva", MEDIUM, EDITOR),
    (r"\bfacetune\b", "Facetune", MEDIUM, EDITOR),
    (r"\bfotor\b", "Fotor", MEDIUM, EDITOR),
    (r"\bphotoscape\b", "PhotoScape", MEDIUM, EDITOR),
    (r"\bluminar\b", "Luminar", MEDIUM, EDITOR),
    (r"\bmeitu\b", "Meitu", MEDIUM, EDITOR),
    (r"\bpolarr\b", "Polarr", MEDIUM, EDITOR),
    (r"\bvsco\b", "VSCO", MEDIUM, EDITOR),
    (r"\bcapcut\b", "CapCut", MEDIUM, EDITOR),
    (r"\binshot\b", "InShot", MEDIUM, EDITOR),
    (r"\bpremiere\b", "Adobe Premiere", MEDIUM, EDITOR),
    (r"\bafter effects\b", "Adobe After Effects", MEDIUM, EDITOR),
    (r"\bfinal cut\b", "Final Cut Pro", MEDIUM, EDITOR),
    (r"\bdavinci\b", "DaVinci Resolve", MEDIUM, EDITOR),
    (r"\bimovie\b", "iMovie", MEDIUM, EDITOR),
    (r"\bkinemaster\b", "KineMaster", MEDIUM, EDITOR),
    (r"\bfilmora\b", "Filmora", MEDIUM, EDITOR),
    (r"\bvegas pro\b", "Vegas Pro", MEDIUM, EDITOR),
    (r"\bshotcut\b", "Shotcut", MEDIUM, EDITOR),
    (r"\bopenshot\b", "OpenShot", MEDIUM, EDITOR),
    (r"\bkdenlive\b", "Kdenlive", MEDIUM, EDITOR),
    (r"\badobe bridge\b", "Adobe Bridge", LOW, ORGANISER),
    (r"\bpicasa\b", "Picasa", LOW, ORGANISER),
    (r"\bacdsee\b", "ACDSee", LOW, ORGANISER),
    (r"\bcapture one\b", "Capture One", LOW, ORGANISER),
    (r"\bdarktable\b", "darktable", LOW, ORGANISER),
    (r"\brawtherapee\b", "RawTherapee", LOW, ORGANISER),
    (r"\bhandbrake\b", "HandBrake", LOW, REENCODER),
    (r"\blav[fc]\d", "FFmpeg (libavformat/libavcodec)", LOW, REENCODER),
    (r"\bffmpeg\b", "FFmpeg", LOW, REENCODER),
)
_EDITING_SOFTWARE_PATTERNS = tuple(
    (re.compile(pattern, re.IGNORECASE), product, severity, what)
    for pattern, product, severity, what in EDITING_SOFTWARE_NAMES
)

# C2PA validation codes (C2PA specification, "Validation" status codes), in words.
_CHANGED_AFTER_SIGNING = "the file's bytes no longer match the signed hash: the file was changed after signing"
C2PA_CODE_MEANINGS = {
    "claimSignature.mismatch": "the signature does not match the manifest: the manifest was changed after signing",
    "claimSignature.missing": "the manifest has no signature",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired when it signed",
    "signingCredential.invalid": "the signing certificate is malformed or not allowed to sign",
    "signingCredential.untrusted": "the signer is not on a trust list (expected: the desk configures none)",
    "assertion.hashedURI.mismatch": "an assertion was changed after signing",
    "assertion.missing": "an assertion the manifest lists is missing",
    "assertion.dataHash.mismatch": _CHANGED_AFTER_SIGNING,
    "assertion.bmffHash.mismatch": _CHANGED_AFTER_SIGNING,
    "assertion.boxesHash.mismatch": _CHANGED_AFTER_SIGNING,
    "assertion.dataHash.malformed": "the manifest's hash of the file is malformed",
    "ingredient.hashedURI.mismatch": "an ingredient's manifest was changed after signing",
    "timeStamp.mismatch": "the time-stamp does not belong to this signature",
    "timeStamp.outsideValidity": "the time-stamp falls outside the certificate's validity",
    "manifest.inaccessible": "a manifest the file refers to could not be read",
}
C2PA_EXPECTED_CODES = frozenset({"signingCredential.untrusted"})
# IPTC digital source types that declare generative AI.
GENERATIVE_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")


class Claim(TypedDict):
    """What the case claims: when (aware datetime) and where (signed degrees, place name)."""

    claimed_at: datetime | None
    latitude: float | None
    longitude: float | None
    place: str


class SightingFacts(TypedDict):
    posted_at: datetime | None
    platform: str
    account: str
    url: str


class Readings(TypedDict):
    """One media item as the rules see it."""

    kind: str  # MediaItem.Kind: photo, video, other
    results: dict[str, dict]  # {extractor name: result} of the item's OK extractions
    summary: dict[str, Any]  # the MediaItem summary fields (captured_at_text, gps_latitude, software...)
    sightings: list[SightingFacts]  # the item's sightings in this case


@dataclass(frozen=True)
class FlagSpec:
    kind: str
    severity: str
    message: str
    data: dict = field(default_factory=dict)


# Capture time


@dataclass(frozen=True)
class _Capture:
    text: str  # as the file states it
    moment: datetime  # aware; for a time without offset, the local time read as if it were UTC
    zone_known: bool
    source: str
    container_time: bool  # the time a video container was written, not necessarily the capture


def _capture(readings: Readings) -> _Capture | None:
    """The item's capture time: the photo's EXIF (or XMP, FLIR) time, else the video container's."""
    exif = readings["results"].get("exif") or {}
    video = readings["results"].get("video") or {}
    if text := _text(exif.get("captured_at")):
        source, container = _text(exif.get("captured_at_source")) or "EXIF", False
    elif text := _text(video.get("captured_at")):
        container = text == _text(video.get("created_at"))
        source = "the container's creation time" if container else "the QuickTime capture date"
    else:
        return None
    moment = parse_recorded_time(text)
    if moment is None:
        return None
    zone_known = moment.tzinfo is not None
    return _Capture(text, moment if zone_known else moment.replace(tzinfo=UTC), zone_known, source, container)


def capture_after_claim(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag a capture time later than the claimed time (beyond CLAIM_TIME_GRACE).

    Low within CAPTURE_AFTER_HIGH (the claimed time may only be known to the day), beyond
    that high, or medium when the time is a video container's write time, which a
    re-encoded copy resets. A time without a UTC offset is allowed UNKNOWN_ZONE_TOLERANCE.
    """
    claimed_at, capture = _claimed_at(claim), _capture(readings)
    if claimed_at is None or capture is None:
        return []
    slack = timedelta(0) if capture.zone_known else UNKNOWN_ZONE_TOLERANCE
    after = capture.moment - claimed_at - slack
    if after <= CLAIM_TIME_GRACE:
        return []
    severity = LOW if after <= CAPTURE_AFTER_HIGH else MEDIUM if capture.container_time else HIGH
    at_least = "" if capture.zone_known else "at least "
    message = (
        f"Captured {at_least}{_duration(after)} after the claimed time: the file says {capture.text} "
        f"({capture.source}), the claim says {_utc(claimed_at)}."
    )
    if severity == LOW:
        message += " Claimed times are often known only to the day, so this may still be the same event."
    else:
        message += " A file made after the event cannot show it as it happened, unless the device's clock was wrong."
    message += _capture_caveats(capture)
    return [FlagSpec(CAPTURE_AFTER_CLAIM, severity, message, _capture_data(capture, claimed_at, after))]


def capture_long_before_claim(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag a capture time more than LONG_BEFORE earlier than the claimed time: possibly recycled footage.

    Medium, high beyond LONG_BEFORE_HIGH; low when the date is one an unset clock reports.
    """
    claimed_at, capture = _claimed_at(claim), _capture(readings)
    if claimed_at is None or capture is None:
        return []
    slack = timedelta(0) if capture.zone_known else UNKNOWN_ZONE_TOLERANCE
    before = claimed_at - capture.moment - slack
    if before <= LONG_BEFORE:
        return []
    unset_clock = capture.moment.date() in UNSET_CLOCK_DATES
    severity = LOW if unset_clock else HIGH if before > LONG_BEFORE_HIGH else MEDIUM
    at_least = "" if capture.zone_known else "at least "
    message = (
        f"Captured {at_least}{_duration(before)} before the claimed time: the file says {capture.text} "
        f"({capture.source}), the claim says {_utc(claimed_at)}."
    )
    if unset_clock:
        message += (
            f" {capture.moment.date():%d %B %Y} is a date clocks fall back to when never set, "
            "so the device's clock may simply have been wrong."
        )
    else:
        message += " Old footage presented as new looks like this, unless the device's clock was wrong."
    message += _capture_caveats(capture)
    data = _capture_data(capture, claimed_at, before) | {"unset_clock_date": unset_clock}
    return [FlagSpec(CAPTURE_LONG_BEFORE_CLAIM, severity, message, data)]


def _capture_caveats(capture: _Capture) -> str:
    caveats = ""
    if not capture.zone_known:
        caveats += (
            " The file's time has no time zone (local time of an unknown zone), "
            f"so it was compared allowing ±{UNKNOWN_ZONE_TOLERANCE.total_seconds() / 3600:.0f} h."
        )
    if capture.container_time:
        caveats += (
            " This is when the video file was written, which for a re-encoded or re-saved copy is the time of the "
            "copy, not of the recording."
        )
    return caveats


def _capture_data(capture: _Capture, claimed_at: datetime, difference: timedelta) -> dict:
    return {
        "captured_at": capture.text,
        "source": capture.source,
        "time_zone_known": capture.zone_known,
        "claimed_at": claimed_at.isoformat(),
        "difference_hours": round(difference.total_seconds() / 3600, 1),
    }


# GPS


def _position(readings: Readings) -> tuple[Any, Any, str] | None:
    """(latitude, longitude, source) exactly as the file records them, or None without a position."""
    for extractor, default_source in (("exif", "EXIF GPS"), ("video", "the container's location tag")):
        result = readings["results"].get(extractor) or {}
        gps = result.get("gps")
        if isinstance(gps, dict) and gps.get("latitude") is not None and gps.get("longitude") is not None:
            return gps["latitude"], gps["longitude"], _text(result.get("gps_source")) or default_source
    return None


def _impossibility(latitude: Any, longitude: Any) -> str | None:
    """Why a position cannot be a real fix, or None when it can."""
    numbers = [_number(latitude), _number(longitude)]
    if None in numbers:
        return "is not a number"
    lat, lon = numbers
    if not all(math.isfinite(value) for value in numbers):
        return "is not a finite number"
    if abs(lat) > 90:
        return "has a latitude beyond ±90°"
    if abs(lon) > 180:
        return "has a longitude beyond ±180°"
    if lat == 0 and lon == 0:
        return "is exactly 0,0"
    return None


def gps_impossible(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag a recorded position that cannot be a real fix: 0,0, off the globe, or not a number.

    0,0 is low: it is what a phone without a satellite fix writes, and says only that the
    position means nothing. Other impossible values are medium: broken or tampering software.
    """
    position = _position(readings)
    if position is None:
        return []
    latitude, longitude, source = position
    reason = _impossibility(latitude, longitude)
    if reason is None:
        return []
    shown = f"{_coordinate_text(latitude)}, {_coordinate_text(longitude)}"
    if reason == "is exactly 0,0":
        severity = LOW
        message = (
            f"The file's GPS position ({source}) is exactly 0,0, in the Gulf of Guinea: typical of a phone that "
            "wrote its GPS fields without a satellite fix. The position says nothing about where the file was made."
        )
    else:
        severity = MEDIUM
        message = (
            f"The file's GPS position ({source}) {reason} ({shown}): no real fix looks like this. "
            "The software that wrote it was faulty, or the metadata was edited."
        )
    data = {"latitude": _json_number(latitude), "longitude": _json_number(longitude), "source": source}
    return [FlagSpec(GPS_IMPOSSIBLE, severity, message, data | {"reason": reason})]


def gps_distance(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag how far the recorded position is from the claimed place (great-circle, km to one decimal).

    Severity by GPS_DISTANCE_BANDS. Without claimed coordinates the position is reported as
    info. Impossible positions are gps_impossible's and are not measured.
    """
    position = _position(readings)
    if position is None or _impossibility(position[0], position[1]):
        return []
    latitude, longitude, source = float(position[0]), float(position[1]), position[2]
    here = f"{latitude:.6f}, {longitude:.6f}"
    data = {"latitude": latitude, "longitude": longitude, "source": source}
    claimed = _claimed_point(claim)
    if claimed is None:
        message = (
            f"The file records a GPS position ({here}, {source}); the case has no claimed coordinates, "
            "so its distance from the claimed place was not measured."
        )
        return [FlagSpec(GPS_DISTANCE, INFO, message, data | {"distance_km": None})]
    km = round(distance_km(latitude, longitude, *claimed), 1)
    severity = next(band_severity for limit, band_severity in GPS_DISTANCE_BANDS if km < limit)
    place = _place_text(claim, claimed)
    message = f"The file's GPS position ({here}, {source}) is {km:,.1f} km from {place}."
    data |= {"distance_km": km, "claimed_latitude": claimed[0], "claimed_longitude": claimed[1]}
    if severity == INFO:
        message += " That fits the claimed place."
    if mirror := _mirror_near(latitude, longitude, claimed):
        mirrored_km, flipped, (mirror_lat, mirror_lon) = mirror
        message += (
            f" With its {flipped} sign flipped ({mirror_lat:.6f}, {mirror_lon:.6f}) it would be {mirrored_km:,.1f} km "
            "from the claimed place: some software writes the hemisphere wrongly, so check the sign before the place."
        )
        data |= {"mirrored_km": mirrored_km, "mirrored": flipped}
    return [FlagSpec(GPS_DISTANCE, severity, message, data)]


def _mirror_near(latitude: float, longitude: float, claimed: tuple[float, float]):
    """(km, which sign, point) of the nearest sign-flipped position within MIRROR_MATCH_KM, when the real one is not."""
    if distance_km(latitude, longitude, *claimed) <= MIRROR_MATCH_KM:
        return None
    candidates = [
        (distance_km(lat, lon, *claimed), flipped, (lat, lon))
        for lat, lon, flipped in (
            (latitude, -longitude, "longitude"),
            (-latitude, longitude, "latitude"),
            (-latitude, -longitude, "latitude and longitude"),
        )
        if (lat, lon) != (latitude, longitude)
    ]
    best = min(candidates, default=None)
    if best is None or best[0] > MIRROR_MATCH_KM:
        return None
    return round(best[0], 1), best[1], best[2]


# Metadata


def metadata_stripped(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag a photo without camera make, model and capture time, or a video without make, model and creation time.

    Low: messaging apps and social platforms strip these fields from every file they pass
    on, so their absence is a reason to look for the original, not a sign of tampering.
    A photo's GPS is listed when absent too, but many cameras never record one.
    """
    if readings["kind"] == MediaItem.Kind.PHOTO and "exif" in readings["results"]:
        exif = readings["results"]["exif"] or {}
        fields = {
            "camera make": exif.get("make"),
            "camera model": exif.get("model"),
            "capture time": exif.get("captured_at") or exif.get("captured_at_raw"),
        }
        extra = {"GPS position": exif.get("gps")}
    elif readings["kind"] == MediaItem.Kind.VIDEO and "video" in readings["results"]:
        video = readings["results"]["video"] or {}
        fields = {
            "device make": video.get("make"),
            "device model": video.get("model"),
            "creation time": video.get("captured_at") or video.get("created_at"),
        }
        extra = {}
    else:
        return []
    if any(fields.values()):
        return []
    absent = list(fields) + [name for name, value in extra.items() if not value]
    message = (
        f"The file's metadata has no {_join(absent, 'or')}. That is typical of files passed through messaging apps "
        "or social platforms (WhatsApp, Telegram, Facebook, X strip these fields), and of screenshots and exports: "
        "look for the original file."
    )
    return [FlagSpec(METADATA_STRIPPED, LOW, message, {"absent": absent})]


def editing_software(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag software fields that name an editor, generator, organiser or re-encoder from EDITING_SOFTWARE_NAMES.

    One flag per item, as severe as the most severe tool named.
    """
    found = []
    for where, value in _software_fields(readings):
        for pattern, product, severity, what in _EDITING_SOFTWARE_PATTERNS:
            if pattern.search(value):
                found.append({"product": product, "field": where, "value": value, "severity": severity, "what": what})
                break
    if not found:
        return []
    found.sort(key=lambda tool: -SEVERITY_RANK[tool["severity"]])
    sentences = [f"{tool['product']} ({tool['field']}: “{tool['value']}”) is {tool['what']}." for tool in found]
    message = "The metadata names software beyond the camera: " + " ".join(sentences)
    return [FlagSpec(EDITING_SOFTWARE, found[0]["severity"], message, {"tools": found})]


def _software_fields(readings: Readings) -> list[tuple[str, str]]:
    """(where, value) of every field naming software that wrote the file."""
    exif = readings["results"].get("exif") or {}
    video = readings["results"].get("video") or {}
    tags = exif.get("tags") if isinstance(exif.get("tags"), dict) else {}
    candidates = [
        ("EXIF Software", exif.get("software")),
        ("EXIF ProcessingSoftware", tags.get("Image ProcessingSoftware")),
        ("XMP CreatorTool", tags.get("XMP xmp:CreatorTool")),
        ("video software tag", video.get("software")),
        ("video encoder tag", video.get("encoder")),
    ]
    seen, fields = set(), []
    for where, value in candidates:
        text = _text(value)
        if text and text not in seen:
            seen.add(text)
            fields.append((where, text))
    return fields


# Thumbnail


def thumbnail_differs(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Flag an EXIF thumbnail that no longer matches the picture: edits after capture that kept the old thumbnail.

    With the thumbnail's perceptual hash (image extractor, `exif_thumbnail.phash`) and the
    picture's (perceptual extractor, `hash`), different content is high. Otherwise, and in
    addition, the shapes are compared as stored (both share the EXIF orientation): a
    different shape means a crop or reshape (medium); a quarter-turned shape means the
    pixels were rotated after the thumbnail was made (low). DCF 160 x 120 thumbnails are
    letterboxed, so their shape is not compared.
    """
    image = readings["results"].get("image") or {}
    thumbnail = image.get("exif_thumbnail")
    if not image.get("has_exif_thumbnail") or not isinstance(thumbnail, dict):
        return []
    size, thumb_size = _size(image), _size(thumbnail)
    if size is None or thumb_size is None:
        return []
    shape = _thumbnail_shape(size, thumb_size)
    data: dict[str, Any] = {"image_size": list(size), "thumbnail_size": list(thumb_size), "shape": shape}
    findings: list[tuple[str, str]] = []
    distance = None if shape == "turned" else _thumbnail_hash_distance(readings, thumbnail)
    if distance is not None:
        data["hash_distance"] = distance
        if distance > THUMBNAIL_HASH_DIFFERS_BITS:
            findings.append(
                (
                    HIGH,
                    f"The EXIF thumbnail shows different content from the picture ({distance} of 64 perceptual-hash "
                    "bits differ): the picture was changed or replaced after the thumbnail was made.",
                )
            )
    if shape == "different":
        findings.append(
            (
                MEDIUM,
                f"The EXIF thumbnail ({_dimensions(thumb_size)}) has a different shape from the picture "
                f"({_dimensions(size)}): the picture was cropped or resized after capture and the old thumbnail kept.",
            )
        )
    elif shape == "turned":
        orientation = (readings["results"].get("exif") or {}).get("orientation")
        tag = f" (EXIF orientation {orientation})" if orientation else ""
        findings.append(
            (
                LOW,
                f"The EXIF thumbnail ({_dimensions(thumb_size)}) is turned a quarter turn from the picture "
                f"({_dimensions(size)}){tag}: the pixels were rotated after capture and the old thumbnail kept. "
                "A rotation rarely changes what a picture shows.",
            )
        )
    if not findings:
        return []
    severity = max((severity for severity, _ in findings), key=SEVERITY_RANK.__getitem__)
    message = " ".join(sentence for _, sentence in findings) + " Compare the thumbnail with the picture."
    return [FlagSpec(THUMBNAIL_DIFFERS, severity, message, data)]


def _thumbnail_shape(size: tuple[int, int], thumb_size: tuple[int, int]) -> str:
    """One of "same", "turned" (a quarter turn), "different", or "not compared" (DCF letterboxed size)."""
    ratio, thumb_ratio = size[0] / size[1], thumb_size[0] / thumb_size[1]
    tolerance = max(THUMBNAIL_ASPECT_TOLERANCE, THUMBNAIL_PIXEL_SLACK / min(thumb_size))
    if abs(thumb_ratio / ratio - 1) <= tolerance:
        return "same"
    if thumb_size in DCF_THUMBNAIL_SIZES:
        return "not compared"
    if abs(thumb_ratio * ratio - 1) <= tolerance:
        return "turned"
    return "different"


def _thumbnail_hash_distance(readings: Readings, thumbnail: dict) -> int | None:
    perceptual = readings["results"].get("perceptual") or {}
    thumb_hash, picture_hash = _text(thumbnail.get("phash")), _text(perceptual.get("hash"))
    if not thumb_hash or not picture_hash or perceptual.get("quality") not in (None, "ok"):
        return None
    try:
        return (int(thumb_hash, 16) ^ int(picture_hash, 16)).bit_count()
    except ValueError:
        return None


# Content Credentials


def c2pa_credentials(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Report the file's Content Credentials: valid (info), invalid (high, with the failures explained), or absent.

    "Invalid" is c2pa's validation_state; "signingCredential.untrusted" alone is expected
    on a valid manifest, as the desk configures no trust list. A valid manifest declaring
    generative AI as its source is medium.
    """
    if readings["kind"] not in (MediaItem.Kind.PHOTO, MediaItem.Kind.VIDEO) or "c2pa" not in readings["results"]:
        return []
    c2pa = readings["results"]["c2pa"] or {}
    if not c2pa.get("present"):
        if remote := _text(c2pa.get("remote_manifest")):
            message = f"The file's Content Credentials (C2PA) are stored remotely at {remote} and were not fetched."
            return [FlagSpec(C2PA, INFO, message, {"state": "remote", "remote_manifest": remote})]
        message = (
            "No Content Credentials (C2PA manifest) in the file. Most cameras and phones do not write them, "
            "and platforms remove them, so their absence says little."
        )
        return [FlagSpec(C2PA, INFO, message, {"state": "absent"})]
    state = _text(c2pa.get("validation_state")) or "unknown"
    signer, generator = _text(c2pa.get("signer")) or "an unnamed signer", _text(c2pa.get("claim_generator"))
    by = f"signed by {signer}" + (f" with {generator}" if generator else "")
    errors = [error for error in c2pa.get("validation_errors") or [] if isinstance(error, dict)]
    data = {
        "state": state,
        "signer": c2pa.get("signer"),
        "claim_generator": generator,
        "codes": [error.get("code") for error in errors],
    }
    if state == "Invalid":
        failures = [error for error in errors if error.get("code") not in C2PA_EXPECTED_CODES] or errors
        explained = "; ".join(f"{error.get('code')}: {_c2pa_meaning(error)}" for error in failures)
        message = (
            f"The file's Content Credentials (C2PA) are invalid ({by}): {explained or 'no reason given'}. "
            "What the manifest says about the file's origin and history cannot be relied on."
        )
        return [FlagSpec(C2PA, HIGH, message, data)]
    if state not in ("Valid", "Trusted"):
        message = f"The file has Content Credentials (C2PA, {by}) that could not be validated (state: {state})."
        return [FlagSpec(C2PA, INFO, message, data)]
    message = (
        f"The file has {state.lower()} Content Credentials (C2PA), {by}. Valid means the manifest is intact and "
        "matches the file; who the signer is still needs checking"
        + (" (no trust list is configured)." if state == "Valid" else ".")
    )
    severity = INFO
    generative = sorted(
        {
            str(action.get("digital_source_type")).rsplit("/", 1)[-1]
            for action in c2pa.get("actions") or []
            if isinstance(action, dict)
            and str(action.get("digital_source_type") or "").endswith(GENERATIVE_SOURCE_TYPES)
        }
    )
    if generative:
        severity = MEDIUM
        message += f" The manifest declares the content as generated by AI ({', '.join(generative)})."
        data["generative_source_types"] = generative
    return [FlagSpec(C2PA, severity, message, data)]


def _c2pa_meaning(error: dict) -> str:
    return C2PA_CODE_MEANINGS.get(error.get("code")) or _text(error.get("explanation")) or "no explanation given"


# Sightings


def first_seen_before_claim(claim: Claim, sightings: list[SightingFacts], *, of_file: bool = True) -> list[FlagSpec]:
    """Flag an earliest sighting posted before the claimed time (beyond CLAIM_TIME_GRACE): high.

    A file posted before the event it supposedly shows existed before that event. With
    `of_file` False the sightings are the case's own (where the claim appeared).
    """
    claimed_at = _claimed_at(claim)
    dated = [sighting for sighting in sightings if isinstance(sighting.get("posted_at"), datetime)]
    if claimed_at is None or not dated:
        return []
    earliest = min(dated, key=lambda sighting: _aware(sighting["posted_at"]))
    posted_at = _aware(earliest["posted_at"])
    before = claimed_at - posted_at
    if before <= CLAIM_TIME_GRACE:
        return []
    where = ", ".join(part for part in (earliest.get("platform"), earliest.get("account")) if part) or "a sighting"
    subject = "This file was" if of_file else "The case's earliest sighting was"
    message = (
        f"{subject} posted {_duration(before)} before the claimed time: {where} at {_utc(posted_at)}, "
        f"the claim says {_utc(claimed_at)}. "
        + (
            "The file existed before the event it supposedly shows."
            if of_file
            else "Whatever it showed existed before the event it supposedly shows."
        )
    )
    data = {
        "posted_at": posted_at.isoformat(),
        "claimed_at": claimed_at.isoformat(),
        "platform": earliest.get("platform"),
        "account": earliest.get("account"),
        "url": earliest.get("url"),
        "difference_hours": round(before.total_seconds() / 3600, 1),
    }
    return [FlagSpec(FIRST_SEEN_BEFORE_CLAIM, HIGH, message, data)]


ITEM_RULES = (
    capture_after_claim,
    capture_long_before_claim,
    gps_impossible,
    gps_distance,
    metadata_stripped,
    editing_software,
    thumbnail_differs,
    c2pa_credentials,
)


def item_flags(claim: Claim, readings: Readings) -> list[FlagSpec]:
    """Every rule's flags for one media item, its sightings included."""
    specs = [spec for rule in ITEM_RULES for spec in rule(claim, readings)]
    return specs + first_seen_before_claim(claim, readings["sightings"])


# The database side


def claim_of(case: Case) -> Claim:
    return {
        "claimed_at": case.claimed_at,
        "latitude": case.claimed_latitude,
        "longitude": case.claimed_longitude,
        "place": case.claimed_place,
    }


def _sighting_facts(sighting: Sighting) -> SightingFacts:
    return {
        "posted_at": sighting.posted_at,
        "platform": sighting.get_platform_display(),
        "account": sighting.account,
        "url": sighting.url,
    }


SUMMARY_FIELDS = (
    "captured_at",
    "captured_at_text",
    "gps_latitude",
    "gps_longitude",
    "device",
    "software",
    "duration",
    "width",
    "height",
)


def readings_of(item: MediaItem, sightings: list[Sighting]) -> Readings:
    """The item's readings; uses a prefetched `ok_extractions` when there is one."""
    extractions = getattr(item, "ok_extractions", None)
    if extractions is None:
        extractions = item.extractions.filter(status=Extraction.Status.OK)
    return {
        "kind": item.kind,
        "results": {extraction.extractor: extraction.result or {} for extraction in extractions},
        "summary": {name: getattr(item, name) for name in SUMMARY_FIELDS},
        "sightings": [_sighting_facts(sighting) for sighting in sightings],
    }


def recompute_flags(case: Case, *, item: MediaItem | None = None) -> list[Flag]:
    """Replace the case's flags of OWNED_KINDS with the current ones, in one transaction; returns them.
    With `item`, only that file's flags are replaced (its readings changed) and the rest stand, so a
    reading's outcome costs the same in a case of 200 files as in a case of one.

    The case row is locked first, so two extractions finishing at once recompute one after the other.
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        claim = claim_of(case)
        # Only appearances say when the file or claim was out: an official's response dated before the
        # claimed time is no sign that the footage is older.
        sightings = list(case.sightings.filter(role=Sighting.Role.APPEARANCE))
        items = case.media_items.prefetch_related(
            Prefetch(
                "extractions",
                queryset=Extraction.objects.filter(status=Extraction.Status.OK).order_by("extractor"),
                to_attr="ok_extractions",
            )
        ).order_by("pk")
        stale = Flag.objects.filter(case=case, kind__in=OWNED_KINDS)
        if item is not None:
            items, stale = items.filter(pk=item.pk), stale.filter(media_item=item)
        pairs: list[tuple[MediaItem | None, FlagSpec]] = []
        for each in items:
            own = [sighting for sighting in sightings if sighting.media_item_id == each.pk]
            pairs += [(each, spec) for spec in item_flags(claim, readings_of(each, own))]
        if item is None:
            unattached = [_sighting_facts(sighting) for sighting in sightings if sighting.media_item_id is None]
            pairs += [(None, spec) for spec in first_seen_before_claim(claim, unattached, of_file=False)]
        stale.delete()
        now = timezone.now()
        return Flag.objects.bulk_create(
            Flag(
                case=case,
                media_item=each,
                kind=spec.kind,
                severity=spec.severity,
                message=storable_json(spec.message),
                data=storable_json(spec.data),
                computed_at=now,
            )
            for each, spec in pairs
        )


def recompute_flags_for_item(item: MediaItem) -> None:
    """Recompute the item's flags in every case it belongs to (its readings changed)."""
    for case in Case.objects.filter(media_items=item).order_by("pk"):
        recompute_flags(case, item=item)


_SEVERITY_ORDER = models.Case(
    models.When(severity=HIGH, then=0),
    models.When(severity=MEDIUM, then=1),
    models.When(severity=LOW, then=2),
    default=3,
    output_field=models.IntegerField(),
)


def case_flags(case: Case) -> QuerySet[Flag]:
    """All the case's flags (seen-before included), high severity first, case-level ones before each file's."""
    return (
        Flag.objects.filter(case=case)
        .select_related("media_item")
        .annotate(severity_order=_SEVERITY_ORDER)
        .order_by("severity_order", models.F("media_item_id").asc(nulls_first=True), "kind", "pk")
    )


# Small helpers


def _claimed_at(claim: Claim) -> datetime | None:
    claimed_at = claim.get("claimed_at")
    return _aware(claimed_at) if isinstance(claimed_at, datetime) else None


def _claimed_point(claim: Claim) -> tuple[float, float] | None:
    latitude, longitude = _number(claim.get("latitude")), _number(claim.get("longitude"))
    if latitude is None or longitude is None or not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    return (latitude, longitude) if abs(latitude) <= 90 and abs(longitude) <= 180 else None


def _place_text(claim: Claim, point: tuple[float, float]) -> str:
    point = f"{point[0]:.4f}, {point[1]:.4f}"
    place = (claim.get("place") or "").strip()
    return f"the claimed place, {place} ({point})" if place else f"the claimed position ({point})"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _duration(span: timedelta) -> str:
    """A span as a reader says it: "40 min", "5 h 20 min", "12 days", "about 3.2 years (1,170 days)"."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = span.days
    if days < 365:
        return f"{days} days"
    return f"about {days / 365.25:.1f} years ({days:,} days)"


def _dimensions(size: tuple[int, int]) -> str:
    return f"{size[0]} × {size[1]}"


def _size(reading: dict) -> tuple[int, int] | None:
    width, height = reading.get("width"), reading.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _json_number(value: Any) -> float | str:
    """The value for a flag's data: JSON (and PostgreSQL's jsonb) has no NaN or infinity."""
    number = _number(value)
    return number if number is not None and math.isfinite(number) else str(value)


def _coordinate_text(value: Any) -> str:
    number = _number(value)
    return f"{number:.6f}" if number is not None and math.isfinite(number) else repr(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _join(names: list[str], word: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"
