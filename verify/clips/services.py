"""Storing a video's timeline and writing its "clip of" flags: where in an earlier video a clip was cut from."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch

from verify.clips import CLIP_OF
from verify.clips.matching import ArchiveTimelines, ClipPlace, Timeline, place_clip
from verify.clips.models import VideoTimeline
from verify.models import Case, CaseMedia, Extraction, Flag, MediaItem, Verdict
from verify.similarity import case_standing, replace_item_flags, verdict_data
from workers.extractors import video_timeline

UNFINISHED = (Extraction.Status.PENDING, Extraction.Status.RUNNING)
MAX_FLAGS_PER_ITEM = 10
# A clip whose samples line up this well, or better, is flagged high; below it, medium.
HIGH_SHARE = 0.8


def update_clip_flags(item: MediaItem, *, reread: bool) -> list[Flag]:
    """The pipeline's step after an outcome: store the item's timeline once its reading has finished (again
    when `reread`), then rewrite its "clip of" flags. Nothing happens while the reading is unfinished.

    A later video whose timeline was stored first (its reading finished sooner) is looked up again,
    since this one was not yet there to be found.
    """
    readings = item.extractions.filter(extractor=video_timeline.NAME)
    if not readings.exists() or readings.filter(status__in=UNFINISHED).exists():
        return []
    stored_before = VideoTimeline.objects.filter(media_item=item).exists()
    stored = store_timeline(item) if reread or not stored_before else None
    flags = record_clip_flags(item)
    if stored is not None and not stored_before:
        for later in MediaItem.objects.filter(pk__gt=item.pk, timeline__isnull=False).order_by("pk"):
            record_clip_flags(later)
    return flags


def store_timeline(item: MediaItem) -> VideoTimeline | None:
    """Replace the item's stored timeline with that of its finished video_timeline reading; none if it has none."""
    from verify.pipeline import artifacts_dir  # the pipeline imports this module

    extraction = item.extractions.filter(extractor=video_timeline.NAME, status=Extraction.Status.OK).first()
    with transaction.atomic():
        VideoTimeline.objects.filter(media_item=item).delete()
        if extraction is None:
            return None
        result = extraction.result
        path = artifacts_dir(item, video_timeline.NAME) / video_timeline.TIMELINE_FILE
        return VideoTimeline.objects.create(
            media_item=item,
            samples_per_second=result["samples_per_second"],
            hashes=path.read_bytes(),
            unusable_samples=result.get("unusable_samples", []),
            unplaceable_reason=result.get("unplaceable_reason") or "",
        )


def places_of(item: MediaItem) -> list[ClipPlace]:
    """Where in earlier videos (lower id) the item is a clip of; best first. None for a video that cannot be placed."""
    timeline = VideoTimeline.objects.filter(media_item=item).first()
    if timeline is None or timeline.unplaceable_reason:
        return []
    rate = timeline.samples_per_second
    archive = ArchiveTimelines([t for t in archived_timelines(rate) if t.key < item.pk])
    return place_clip(_as_timeline(timeline), archive, samples_per_second=rate)


# Timelines this process has read, by (row id, stored at): a stored timeline is never changed, only replaced.
_loaded: dict[tuple[int, datetime], Timeline] = {}


def archived_timelines(samples_per_second: int) -> list[Timeline]:
    """Every stored timeline sampled at this rate, in media item order; only rows new to this process are read."""
    current = list(
        VideoTimeline.objects.filter(samples_per_second=samples_per_second)
        .order_by("media_item")
        .values_list("pk", "stored_at")
    )
    for gone in _loaded.keys() - set(current):
        del _loaded[gone]
    missing = [pk for pk, stored_at in current if (pk, stored_at) not in _loaded]
    for row in VideoTimeline.objects.filter(pk__in=missing):
        _loaded[(row.pk, row.stored_at)] = _as_timeline(row)
    return [_loaded[key] for key in current if key in _loaded]


def forget_timelines() -> None:
    """Drop the timelines this process has read (tests, whose rolled-back rows can reappear under an old id)."""
    _loaded.clear()


def _as_timeline(row: VideoTimeline) -> Timeline:
    hashes, mirrored, usable = row.as_arrays()
    return Timeline(key=row.media_item_id, hashes=hashes, mirrored=mirrored, usable=usable)


def record_clip_flags(item: MediaItem) -> list[Flag]:
    """Rewrite the item's "clip of" flags in each of its cases, one per earlier video it was cut from."""
    places = places_of(item)[:MAX_FLAGS_PER_ITEM]
    videos = MediaItem.objects.in_bulk([place.key for place in places])
    first_links = _first_links([place.key for place in places])
    return replace_item_flags(
        item,
        CLIP_OF,
        [
            Flag(
                case=case,
                media_item=item,
                kind=CLIP_OF,
                severity=_severity(place, first_links.get(place.key), case),
                message=clip_message(place, videos[place.key], first_links.get(place.key)),
                data=_flag_data(place, videos[place.key], first_links.get(place.key)),
            )
            for case in item.cases.all()
            for place in places
        ],
    )


def refresh_flags_citing(case_id: int) -> None:
    """Rewrite the "clip of" flags that cite a video of this case, and with it the case's stage and verdict."""
    item_ids = list(CaseMedia.objects.filter(case_id=case_id).values_list("media_item_id", flat=True))
    citing = Flag.objects.filter(kind=CLIP_OF, data__earlier_media_item__in=item_ids).values_list("media_item_id")
    for item in MediaItem.objects.filter(pk__in=citing).order_by("pk"):
        record_clip_flags(item)


def _first_links(item_ids: list[int]) -> dict[int, CaseMedia]:
    """Each item's first link to a case (the case it was first collected for), with that case's verdicts."""
    links = (
        CaseMedia.objects.filter(media_item_id__in=item_ids)
        .select_related("case")
        .prefetch_related(Prefetch("case__verdicts", queryset=Verdict.objects.order_by("-number")))
        .order_by("-added_at", "-pk")
    )
    return {link.media_item_id: link for link in links}


def _severity(place: ClipPlace, first: CaseMedia | None, case: Case) -> str:
    if first is not None and first.case_id == case.pk:
        return Flag.Severity.INFO  # a clip of a video in the same case
    return Flag.Severity.HIGH if place.matched_share >= HIGH_SHARE else Flag.Severity.MEDIUM


def clip_message(place: ClipPlace, video: MediaItem, first: CaseMedia | None) -> str:
    """ "This 14 s clip is 01:32–01:46 of 'protest.mp4', the video collected for case #3 '...' (stage; verdict)"."""
    length = round(place.end - place.start)
    where = f"{timecode(place.start)}–{timecode(place.end)}"
    name = f"'{video.original_name}'" if video.original_name else f"video {video.sha256[:12]}"
    if first is None:
        collected = "a video no longer in any case"
    else:
        case = first.case
        collected = f"the video collected for case #{case.pk} '{case.title}' ({case_standing(case)})"
    how = f"{place.samples_matched} of {place.samples_compared} sampled frames line up"
    if place.mirrored:
        how += ", once this clip is mirrored"
    return f"This {length} s clip is {where} of {name}, {collected}; {how}."


def timecode(seconds: float) -> str:
    """01:32, or 1:02:03 past an hour."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _flag_data(place: ClipPlace, video: MediaItem, first: CaseMedia | None) -> dict:
    return {
        "earlier_media_item": video.pk,
        "earlier_sha256": video.sha256,
        "earlier_name": video.original_name,
        "earlier_cases": [first.case_id] if first else [],
        "earlier_case_stage": first.case.stage if first else None,
        "earlier_verdict": verdict_data(first.case) if first else None,
        "start_seconds": round(place.start, 3),
        "end_seconds": round(place.end, 3),
        "mirrored": place.mirrored,
        "samples_matched": place.samples_matched,
        "samples_compared": place.samples_compared,
        "mean_distance": round(place.mean_distance, 2),
    }
