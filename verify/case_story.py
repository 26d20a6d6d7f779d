"""The case page's story: claim, captures and sightings on one timeline; claimed place and GPS on one map."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from verify.desk.formats import duration, moment
from verify.models import Case, Extraction, MediaItem, Sighting
from workers.extractors.summary import parse_recorded_time as _parse_recorded  # read as the summary does

# Mean Earth radius (IUGG); haversine on a sphere is within 0.5 % of the ellipsoid.
EARTH_RADIUS_KM = 6371.0088
# UTC offsets in use run from -12:00 to +14:00, so a local time of unknown zone is
# an instant somewhere from 14 hours before to 12 hours after the same clock time in UTC.
MOST_AHEAD_OF_UTC = timedelta(hours=14)
MOST_BEHIND_UTC = timedelta(hours=12)
# Among events at the same instant, the claim comes first, then captures, then sightings.
_KIND_ORDER = {"claim": 0, "capture": 1, "sighting": 2}
# The outbound link a person may choose to open for a point, when the desk loads no map tiles.
OPEN_MAP_URL = "https://www.openstreetmap.org/"
OPEN_MAP_ZOOM = 12
UNFINISHED = (Extraction.Status.PENDING, Extraction.Status.RUNNING)


def story_context(case: Case) -> dict:
    """What the case page's story template needs."""
    return {"story": case_story(case), "map_tile_url": settings.MAP_TILE_URL}


def case_story(case: Case) -> dict:
    """The case's timeline and map points, read in two queries whatever the number of files and sightings.

    A file whose readings are not all finished yet may still gain a capture time or GPS: where it
    has none so far, the story says "pending", never "none".
    """
    items = list(_items(case))
    sightings = list(case.sightings.select_related("media_item"))
    dated, undated = [], []
    for event in [_claim_event(case), *(_capture_event(i, case) for i in items), *_sighting_events(sightings, case)]:
        (dated if event["at"] is not None else undated).append(event)
    dated.sort(key=lambda event: (event["at"], _KIND_ORDER[event["kind"]]))
    for event in dated + undated:
        event["notes"] = [note for note in (event["why_unknown"], event["recorded"], event["window"]) if note]
    claimed = _claimed_point(case)
    readings = [_gps_point(item, claimed) for item in items if _has_gps(item)]
    points = ([claimed] if claimed else []) + readings
    return {
        "events": dated,
        "undated": undated,
        "timeline": [{"title": "", "events": dated}, {"title": "Time unknown", "events": undated}],
        "points": points,
        "map_points": [_for_map(point) for point in points],
        "claimed_place": case.claimed_place,
        "has_claimed_coordinates": claimed is not None,
        "files_without_gps": [item for item in items if not _has_gps(item) and not item.still_reading],
        "files_gps_pending": [item for item in items if not _has_gps(item) and item.still_reading],
        "reading": any(item.still_reading for item in items),
        "zone": timezone.get_current_timezone_name(),
    }


def _items(case: Case):
    """The case's files in the order they were added, each marked `still_reading` while a reading is unfinished."""
    unfinished = Extraction.objects.filter(media_item=OuterRef("media_item"), status__in=UNFINISHED)
    links = case.case_media.select_related("media_item").annotate(still_reading=Exists(unfinished))
    for link in links.order_by("added_at", "pk"):
        link.media_item.still_reading = link.still_reading
        yield link.media_item


# The timeline.


def _claim_event(case: Case) -> dict:
    event = _event("claim", "Claimed event", detail=case.claimed_place)
    if case.claimed_at is None:
        event["why_unknown"] = "No claimed time on the case"
    else:
        event.update(_timing(case.claimed_at, claimed_at=None))
    return event


def _capture_event(item: MediaItem, case: Case) -> dict:
    event = _event("capture", f"Captured: {item.original_name or item.kind}", anchor=_media_anchor(item))
    text = item.captured_at_text
    recorded = _parse_recorded(text)
    if recorded is not None and recorded.tzinfo is not None:
        event.update(_timing(item.captured_at or recorded, case.claimed_at))
        event["recorded"] = f"file records {_wall_clock(recorded)} {_offset(recorded)}"
    elif item.captured_at is not None:
        event.update(_timing(item.captured_at, case.claimed_at))
    elif recorded is not None:
        event.update(_local_timing(text, recorded, case.claimed_at))
    elif text:
        event["why_unknown"] = f"File records “{text}”, which is not a readable time"
    elif getattr(item, "still_reading", False):
        event["why_unknown"] = "Capture time pending: the file is still being read"
        event["pending"] = True
    else:
        event["why_unknown"] = "No capture time in the file"
    return event


def _local_timing(text: str, recorded: datetime, claimed_at: datetime | None) -> dict:
    """A capture time without an offset: a clock time in an unknown zone, placed by that clock
    time read as UTC, with the range of instants it can stand for."""
    as_utc = recorded.replace(tzinfo=UTC)
    date_only = len(text.strip()) == len("2024-01-31")
    earliest = as_utc - MOST_AHEAD_OF_UTC
    latest = as_utc + MOST_BEHIND_UTC + (timedelta(days=1) if date_only else timedelta(0))
    return {
        "at": as_utc,
        "when": f"{_wall_date(recorded)}, local date" if date_only else f"{_wall_clock(recorded)} local",
        "zone_unknown": True,
        "recorded": f"file records {text} with no UTC offset: time zone unknown",
        "window": f"between {moment(earliest)} and {moment(latest)}, whatever the zone",
        "relative": _relative_window(earliest, latest, claimed_at),
    }


def _sighting_events(sightings: list[Sighting], case: Case) -> list[dict]:
    events, first_found = [], False
    # Sightings come ordered by posted time (undated last), so the first dated appearance is the first
    # appearance. A response (an official confirming or disputing the claim) never is.
    for sighting in sightings:
        responds = sighting.role == Sighting.Role.RESPONSE
        platform = sighting.get_platform_display()
        event = _event(
            "sighting",
            f"Response ({platform})" if responds else f"Posted on {platform}",
            platform=sighting.get_platform_display(),
            account=sighting.account,
            url=sighting.url,
            detail=sighting.caption,
            media_name=sighting.media_item.original_name if sighting.media_item else "",
            anchor=_media_anchor(sighting.media_item) if sighting.media_item else "",
        )
        if sighting.posted_at is None:
            event["why_unknown"] = "Posted time not recorded"
        else:
            event.update(_timing(sighting.posted_at, case.claimed_at))
            if not responds:
                event["first_appearance"] = not first_found
                first_found = True
        events.append(event)
    return events


def _event(kind: str, label: str, **fields) -> dict:
    event = {
        "kind": kind,
        "label": label,
        "at": None,
        "when": "",
        "zone_unknown": False,
        "recorded": "",
        "window": "",
        "relative": "",
        "detail": "",
        "anchor": "",
        "first_appearance": False,
        "why_unknown": "",
        "pending": False,
    }
    event.update(fields)
    return event


def _timing(at: datetime, claimed_at: datetime | None) -> dict:
    at = at.astimezone(UTC)
    relative = ""
    if claimed_at is not None:
        delta = at - claimed_at
        if not delta:
            relative = "at the claimed time"
        else:
            relative = f"{duration(delta)} {'before' if delta < timedelta(0) else 'after'} the claimed time"
    return {"at": at, "when": moment(at), "relative": relative}


def _relative_window(earliest: datetime, latest: datetime, claimed_at: datetime | None) -> str:
    if claimed_at is None:
        return ""
    if latest < claimed_at:
        return "before the claimed time, whatever the zone"
    if earliest > claimed_at:
        return "after the claimed time, whatever the zone"
    return "before or after the claimed time, depending on the zone"


def _wall_date(clock: datetime) -> str:
    return f"{clock.day} {clock:%b %Y}"


def _wall_clock(clock: datetime) -> str:
    """A clock time as a file records it, in the desk's date style but in no zone of the desk's."""
    return f"{_wall_date(clock)}, {clock:%H:%M:%S}" if clock.second else f"{_wall_date(clock)}, {clock:%H:%M}"


def _offset(clock: datetime) -> str:
    minutes = int(clock.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _media_anchor(item: MediaItem) -> str:
    # The id of the item's card in the gallery (verify.workspace.gallery.card).
    return f"media-{item.sha256[:12]}"


# The map.


def _has_gps(item: MediaItem) -> bool:
    return item.gps_latitude is not None and item.gps_longitude is not None


def _claimed_point(case: Case) -> dict | None:
    if case.claimed_latitude is None or case.claimed_longitude is None:
        return None
    label = case.claimed_place or "Claimed place"
    return _point("claimed", label, case.claimed_latitude, case.claimed_longitude, claimed=None)


def _gps_point(item: MediaItem, claimed: dict | None) -> dict:
    point = _point("gps", item.original_name or item.kind, item.gps_latitude, item.gps_longitude, claimed)
    point["anchor"] = _media_anchor(item)
    # Kept as the file states it: 0, 0 stays 0, 0, marked rather than dropped.
    if point["on_earth"] and item.gps_latitude == 0 and item.gps_longitude == 0:
        point["impossible"] = "impossible: 0, 0 is where an empty GPS reading lands (Gulf of Guinea)"
    return point


def _point(kind: str, label: str, latitude: float, longitude: float, claimed: dict | None) -> dict:
    on_earth = _on_earth(latitude, longitude)
    distance = None
    if claimed and claimed["on_earth"] and on_earth:
        distance = round(distance_km(claimed["latitude"], claimed["longitude"], latitude, longitude), 1)
    return {
        "kind": kind,
        "label": label,
        "latitude": latitude,
        "longitude": longitude,
        "distance_km": distance,
        "on_earth": on_earth,
        "impossible": "" if on_earth else "impossible: not a position on Earth",
        "anchor": "",
        "map_link": open_map_link(latitude, longitude) if on_earth else "",
    }


def open_map_link(latitude: float, longitude: float) -> str:
    """A web map at the position, for a person to open if they choose; the desk itself never fetches it."""
    lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
    return f"{OPEN_MAP_URL}?{urlencode({'mlat': lat, 'mlon': lon})}#map={OPEN_MAP_ZOOM}/{lat}/{lon}"


def _on_earth(latitude: float, longitude: float) -> bool:
    finite = math.isfinite(latitude) and math.isfinite(longitude)
    return finite and -90 <= latitude <= 90 and -180 <= longitude <= 180


def _for_map(point: dict) -> dict:
    """A point as the map script reads it; readings that are not places are listed but not drawn."""
    drawable = not point["impossible"]
    return {
        "label": point["label"],
        "claimed": point["kind"] == "claimed",
        "lat": point["latitude"] if drawable else None,
        "lon": point["longitude"] if drawable else None,
        "distance_km": point["distance_km"],
        "drawable": drawable,
    }


def distance_km(latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float) -> float:
    """Great-circle distance between two positions in kilometres (haversine)."""
    phi_a, phi_b = math.radians(latitude_a), math.radians(latitude_b)
    half_chord = (
        math.sin((phi_b - phi_a) / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(math.radians(longitude_b - longitude_a) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, half_chord)))
