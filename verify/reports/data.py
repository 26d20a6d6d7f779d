"""One case's verdict report as plain data, built from a case loaded by `selectors.report_cases`.

Every export format starts from `case_report`; it makes no queries of its own.
"""

from __future__ import annotations

import copy

from django.conf import settings
from django.urls import reverse

from verify.models import Case, Extraction, Flag, Sighting, Verdict
from verify.workflow import Stage

REPORT_SCHEMA_VERSION = "1.3"
# Most serious first, in reports.
SEVERITY_RANK = {Flag.Severity.HIGH: 0, Flag.Severity.MEDIUM: 1, Flag.Severity.LOW: 2, Flag.Severity.INFO: 3}


def current_verdict(case: Case) -> Verdict | None:
    """The approved verdict if there is one, else the latest proposal (from the prefetched versions)."""
    verdicts = list(case.verdicts.all())
    approved = [v for v in verdicts if v.status == Verdict.Status.APPROVED]
    return approved[0] if approved else (verdicts[0] if verdicts else None)


def public_url(case: Case) -> str:
    return settings.SITE_URL + reverse("public-verdict", args=[case.pk])


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _person(user) -> str | None:
    if user is None:
        return None
    # As User.get_full_name() does, from the fields alone (historical models in migrations have no methods).
    return f"{user.first_name} {user.last_name}".strip() or user.username


def _flags(flags: list[Flag]) -> list[dict]:
    ordered = sorted(flags, key=lambda f: (SEVERITY_RANK.get(f.severity, len(SEVERITY_RANK)), f.kind, f.pk))
    return [{"kind": f.kind, "severity": f.severity, "message": f.message} for f in ordered]


def _media(link, ratings: dict[int, object], flags: list[Flag]) -> dict:
    item = link.media_item
    extractions = {e.extractor: e for e in item.extractions.all()}
    c2pa = extractions.get("c2pa")
    rating = ratings.get(item.pk)
    return {
        "sha256": item.sha256,
        "original_name": item.original_name,
        "kind": item.kind,
        "mime_type": item.mime_type,
        "size": item.size,
        "collected_at": _iso(link.added_at),
        "captured_at": item.captured_at_text or None,
        "device": item.device or None,
        "software": item.software or None,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "gps": (
            {"latitude": item.gps_latitude, "longitude": item.gps_longitude}
            if item.gps_latitude is not None and item.gps_longitude is not None
            else None
        ),
        "c2pa": (
            {
                "present": c2pa.result.get("present"),
                "validation_state": c2pa.result.get("validation_state"),
                "signer": c2pa.result.get("signer"),
            }
            if c2pa and c2pa.status == Extraction.Status.OK
            else None
        ),
        "readings": {name: e.status for name, e in sorted(extractions.items())},
        "rating": (
            {
                "category": rating.category,
                "original_context": rating.original_context or None,
                "original_link": rating.original_link or None,
            }
            if rating
            else None
        ),
        "flags": _flags(flags),
    }


def _verdict(verdict: Verdict | None) -> dict | None:
    if verdict is None:
        return None
    return {
        "version": verdict.number,
        "status": verdict.status,
        "rating": verdict.rating,
        "rating_label": verdict.get_rating_display(),
        "confidence": verdict.confidence,
        "media_category": verdict.media_category or None,
        "summary": verdict.summary,
        "rationale": verdict.rationale,
        "evidence": verdict.evidence,
        "author": _person(verdict.author),
        "proposed_at": _iso(verdict.proposed_at),
        "approved_by": _person(verdict.reviewed_by) if verdict.status == Verdict.Status.APPROVED else None,
        "approved_at": _iso(verdict.reviewed_at) if verdict.status == Verdict.Status.APPROVED else None,
    }


def case_report(case: Case) -> dict:
    """Everything a report of `case` shows, as JSON-ready data (see docs/report-schema.md).

    A published case's report is the one frozen when its verdict was approved, never its live fields.
    """
    from verify.record.frozen import latest_publication

    if case.stage == Stage.PUBLISHED and (publication := latest_publication(case)) is not None:
        return copy.deepcopy(publication.document["report"])
    return live_report(case)


def live_report(case: Case) -> dict:
    """The report of `case` from its fields as they are now."""
    verdict = current_verdict(case)
    ratings = {r.media_item_id: r for r in verdict.media_ratings.all()} if verdict else {}
    sightings = list(case.sightings.all())
    # Only appearances date the file or claim; a response (an official's statement) does not.
    dated = [s for s in sightings if s.posted_at and s.role == Sighting.Role.APPEARANCE]
    flags_by_file: dict[int | None, list[Flag]] = {}
    for flag in case.flags.all():
        flags_by_file.setdefault(flag.media_item_id, []).append(flag)
    return {
        "id": case.pk,
        "title": case.title,
        "claim": case.claim,
        "stage": case.stage,
        "stage_label": Stage(case.stage).label,
        "priority": case.get_priority_display(),
        "tags": sorted(t.name for t in case.tags.all()),
        "claimed_place": case.claimed_place or None,
        "claimed_location": (
            {"latitude": case.claimed_latitude, "longitude": case.claimed_longitude}
            if case.claimed_latitude is not None and case.claimed_longitude is not None
            else None
        ),
        "claimed_at": _iso(case.claimed_at),
        "opened_at": _iso(case.created_at),
        "public_url": public_url(case) if case.stage == Stage.PUBLISHED else None,
        "verdict": _verdict(verdict),
        "checklist": [
            {
                "question": item.prompt,
                "required": item.required,
                "status": item.status,
                "notes": item.notes or None,
                "evidence_links": item.evidence_links,
            }
            for item in case.checklist.all()
        ],
        "flags": _flags(flags_by_file.get(None, [])),
        "media": [_media(link, ratings, flags_by_file.get(link.media_item_id, [])) for link in case.case_media.all()],
        "sightings": [
            {
                "role": s.role,
                "platform": s.get_platform_display(),
                "url": s.url or None,
                "account": s.account or None,
                "posted_at": _iso(s.posted_at),
                "caption": s.caption or None,
            }
            for s in sightings
        ],
        "first_seen": _iso(min(s.posted_at for s in dated)) if dated else None,
        "custody": [
            {
                "at": _iso(e.at),
                "event": e.get_kind_display(),
                "by": _person(e.actor) or "system",
                "file": e.media_item.sha256 if e.media_item else None,
                "note": e.note or None,
            }
            for e in case.events.all()
        ],
    }
