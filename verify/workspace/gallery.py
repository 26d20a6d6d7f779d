"""The case's media as a compact gallery: one small card per file, its full details fetched when it is opened."""

from __future__ import annotations

import hashlib
from collections import Counter

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from verify import flags, media_panel
from verify.bidi import bdi
from verify.desk.formats import duration, size
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
    statuses: dict[str, str] = entry["statuses"]
    finished = sum(status not in Extraction.UNFINISHED for status in statuses.values())
    counts = Counter(flag.severity for flag in item_flags)
    return {
        "item": item,
        "anchor": "media-" + item.sha256[:12],
        "thumbnails": _thumbnails(item, entry["previews"]),
        "is_video": item.kind == MediaItem.Kind.VIDEO,
        # Until every reading has an outcome, a blank fact means "not read yet", not "none".
        "reading": finished < len(statuses),
        "finished": finished,
        "readings": len(statuses),
        "failed": sum(status in FAILED for status in statuses.values()),
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


def card_html(card: dict, *, sensitive: bool) -> SafeString:
    """A card's HTML. Built here rather than in a template: a case of 400 files draws 400 of them on every
    page and refresh, and Django's template nodes were most of that time (bench/case_page.py)."""
    item: MediaItem = card["item"]
    return format_html(
        '<li class="vd-card" id="{}" data-file="{}"><details><summary><span class="vd-thumbs{}">{}</span>'
        '<span class="vd-card-text"><span class="vd-card-name">{}</span>'
        '<span class="vd-card-facts"><span class="vd-badge vd-kind-{}">{}</span> {}</span>'
        '<span class="vd-card-badges">{}</span></span></summary><div class="vd-card-body"></div></details></li>',
        card["anchor"],
        item.pk,
        " vd-strip" if card["is_video"] else "",
        _thumbnails_html(card, sensitive=sensitive),
        bdi(item.original_name),
        item.kind,
        item.get_kind_display(),
        _facts_html(card),
        _badges_html(card),
    )


PENDING = mark_safe('<span class="vd-pending">pending</span>')


def _thumbnails_html(card: dict, *, sensitive: bool) -> SafeString:
    if not card["thumbnails"]:
        return format_html(
            '<span class="vd-thumb-none">{}</span>', "preview pending" if card["reading"] else "no preview"
        )
    blurred = mark_safe(' class="vd-sensitive" title="Graphic content: click to show"') if sensitive else ""
    return format_html_join(
        "",
        '<img{} src="{}" alt="{}" loading="lazy">',
        (
            (blurred, thumb["url"], f"Keyframe at {duration(thumb['time'])}" if card["is_video"] else "Preview")
            for thumb in card["thumbnails"]
        ),
    )


def _facts_html(card: dict) -> SafeString:
    item: MediaItem = card["item"]
    facts = [size(item.size)]
    if item.width:
        facts.append(f"{item.width} × {item.height} px")
    if item.duration is not None:
        facts.append(duration(item.duration))
    if item.captured_at_text:
        facts.append(format_html("captured {}", bdi(item.captured_at_text)))
    else:
        facts.append(format_html("capture time {}", PENDING) if card["reading"] else "no capture time")
    if card["has_gps"]:
        facts.append("GPS")
    else:
        facts.append(format_html("GPS {}", PENDING) if card["reading"] else "no GPS")
    return format_html_join(" · ", "{}", ((fact,) for fact in facts))


def _badges_html(card: dict) -> SafeString:
    badges = [
        format_html('<span class="vd-badge vd-severity-{}">{} {}</span>', severity, count, severity)
        for severity, count in card["flag_counts"]
    ]
    if card["damaged"]:
        badges.append(mark_safe('<span class="vd-badge vd-damaged-badge">damaged</span>'))
    if card["reading"]:
        badges.append(
            format_html(
                '<span class="vd-badge vd-status-pending">reading {}/{}</span>', card["finished"], card["readings"]
            )
        )
    elif card["failed"]:
        badges.append(
            format_html(
                '<span class="vd-badge vd-status-failed">{} reading{} failed</span>',
                card["failed"],
                "" if card["failed"] == 1 else "s",
            )
        )
    return format_html_join("", "{}", ((badge,) for badge in badges))


def _thumbnails(item: MediaItem, result: dict | None) -> list[dict]:
    """The perceptual reader's keyframes (a few, evenly spread) or its thumbnail; none until it has read the file."""
    if not result:
        return []
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


def gallery_html(cards: list[dict], *, sensitive: bool) -> SafeString:
    return format_html_join("", "{}", ((card_html(card, sensitive=sensitive),) for card in cards))


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
