"""The case's media as a compact gallery: one small card per file, its full details fetched when it is opened."""

from __future__ import annotations

import hashlib
from collections import Counter

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from verify import flags, media_panel
from verify.models import Case, Extraction, Flag, MediaItem
from verify.record import fixity, timestamps

SEVERITIES = [Flag.Severity.HIGH, Flag.Severity.MEDIUM, Flag.Severity.LOW, Flag.Severity.INFO]
STRONGEST_SHOWN = 5
KEYFRAMES_ON_A_CARD = 4
FAILED = (Extraction.Status.FAILED, Extraction.Status.TIMED_OUT)


def flag_summary(case_flags: list[Flag]) -> dict:
    """Counts by severity, strongest first, and the strongest flags themselves (`case_flags` comes sorted so)."""
    counts = Counter(flag.severity for flag in case_flags)
    return {
        "total": len(case_flags),
        "counts": [(severity, severity.label, counts[severity]) for severity in SEVERITIES if counts[severity]],
        "strongest": case_flags[:STRONGEST_SHOWN],
    }


def card(entry: dict, item_flags: list[Flag], damaged: bool) -> dict:
    """What a file's card shows: a thumbnail or keyframe strip, its kind, key facts and flag badges."""
    item: MediaItem = entry["item"]
    extractions: dict[str, Extraction] = entry["extractions"]
    finished = sum(e.is_finished for e in extractions.values())
    counts = Counter(flag.severity for flag in item_flags)
    return {
        "item": item,
        "anchor": "media-" + item.sha256[:12],
        "thumbnails": _thumbnails(item, extractions.get("perceptual")),
        "is_video": item.kind == MediaItem.Kind.VIDEO,
        # Until every reading has an outcome, a blank fact means "not read yet", not "none".
        "reading": finished < len(extractions),
        "finished": finished,
        "readings": len(extractions),
        "failed": sum(e.status in FAILED for e in extractions.values()),
        "has_gps": item.gps_latitude is not None and item.gps_longitude is not None,
        "flag_counts": [(severity, counts[severity]) for severity in SEVERITIES if counts[severity]],
        "damaged": damaged,
    }


def card_version(card: dict, *, sensitive: bool) -> str:
    """A short digest of everything a card shows: it changes exactly when the card would be drawn differently."""
    item = card["item"]
    shown = (
        item.original_name,
        item.kind,
        item.size,
        item.width,
        item.height,
        item.duration,
        item.captured_at_text,
        [thumb["url"] for thumb in card["thumbnails"]],
        *(card[key] for key in ("reading", "finished", "readings", "failed", "has_gps", "flag_counts", "damaged")),
        sensitive,
    )
    return hashlib.blake2b(repr(shown).encode(), digest_size=4).hexdigest()


def _thumbnails(item: MediaItem, perceptual: Extraction | None) -> list[dict]:
    if perceptual is None or perceptual.status != Extraction.Status.OK:
        return []
    result = perceptual.result
    frames = result.get("keyframes") or []
    if frames:
        step = max(1, len(frames) // KEYFRAMES_ON_A_CARD)
        return [
            {"url": _artifact_url(item, frame["file"]), "time": frame.get("time")}
            for frame in frames[::step][:KEYFRAMES_ON_A_CARD]
        ]
    return [{"url": _artifact_url(item, name), "time": None} for name in result.get("artifacts", [])[:1]]


def _artifact_url(item: MediaItem, name: str) -> str:
    return reverse("media-artifact", args=[item.sha256, "perceptual", name])


def gallery_context(case: Case) -> dict:
    """The media panel of the case page: progress, links and captures, case-level flags, and one card per file."""
    panel = media_panel.panel_context(case)
    by_item: dict[int | None, list[Flag]] = {}
    for flag in panel["panel"]["flags"]:
        by_item.setdefault(flag.media_item_id, []).append(flag)
    items = [entry["item"] for entry in panel["panel"]["items"]]
    damaged = fixity.damaged_files(items)
    panel["cards"] = [
        card(entry, by_item.get(entry["item"].pk, []), entry["item"].pk in damaged) for entry in panel["panel"]["items"]
    ]
    panel["flag_summary"] = flag_summary(panel["panel"]["flags"])
    return panel


def file_details_view(model_admin, request: HttpRequest, case_id: int, item_id: int) -> HttpResponse:
    """One file's full details (summary, map, ELA, Content Credentials, readers, raw readings), fetched on opening."""
    case = media_panel.case_for(request, case_id)
    item = get_object_or_404(MediaItem.objects.filter(cases=case), pk=item_id)
    extractions = {e.extractor: e for e in item.extractions.order_by("extractor")}
    entry = {
        "item": item,
        "link": case.case_media.select_related("added_by").get(media_item=item),
        "extractions": extractions,
        "flags": list(flags.case_flags(case).filter(media_item=item)),
        "damaged": fixity.damaged_files([item]).get(item.pk, []),
        "timestamp": timestamps.shown_for([item])[item.pk],
        **media_panel.presentation(item, extractions),
    }
    context = {"case": case, "entry": entry, "map_tile_url": settings.MAP_TILE_URL, "sensitive": case.is_graphic}
    return TemplateResponse(request, "admin/verify/case/workspace/file_details.html", context)
