"""The JSON export's case reports for a chunk of cases, read with values(): the same objects as
`reports.data.case_report` builds from loaded cases, in a fixed number of queries per chunk and
without building a model instance per case, file, reading or event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import models

from verify.exports.lookups import AnyOf
from verify.models import (
    Case,
    CaseEvent,
    CaseMedia,
    ChecklistItem,
    Extraction,
    Flag,
    MediaRating,
    Publication,
    Sighting,
    Verdict,
)
from verify.reports.data import SEVERITY_RANK, _iso, public_url
from verify.workflow import Stage

CASE_FIELDS = (
    "id",
    "title",
    "claim",
    "stage",
    "priority",
    "claimed_place",
    "claimed_latitude",
    "claimed_longitude",
    "claimed_at",
    "created_at",
)
MEDIA_FIELDS = (
    "case_id",
    "added_at",
    "media_item_id",
    "media_item__sha256",
    "media_item__original_name",
    "media_item__kind",
    "media_item__mime_type",
    "media_item__size",
    "media_item__captured_at_text",
    "media_item__device",
    "media_item__software",
    "media_item__width",
    "media_item__height",
    "media_item__duration",
    "media_item__gps_latitude",
    "media_item__gps_longitude",
)
VERDICT_FIELDS = (
    "id",
    "case_id",
    "number",
    "status",
    "rating",
    "confidence",
    "media_category",
    "summary",
    "rationale",
    "evidence",
    "proposed_at",
    "reviewed_at",
    "author__first_name",
    "author__last_name",
    "author__username",
    "reviewed_by__first_name",
    "reviewed_by__last_name",
    "reviewed_by__username",
)


def public_urls() -> Callable[[int], str]:
    """`reports.data.public_url` by case id, with one reverse() for the lot instead of one per published case
    (a sixth of a CSV export's time): the id is the URL's only variable part."""
    marker = 987654321
    head, tail = public_url(Case(pk=marker)).split(str(marker))
    return lambda case_id: f"{head}{case_id}{tail}"


def _labels(model: type[models.Model], field: str) -> dict:
    return dict(model._meta.get_field(field).flatchoices)


PRIORITY_LABELS = _labels(Case, "priority")
RATING_LABELS = _labels(Verdict, "rating")
PLATFORM_LABELS = _labels(Sighting, "platform")
EVENT_LABELS = _labels(CaseEvent, "kind")


def _person(row: dict, prefix: str) -> str | None:
    # As reports.data._person: the full name, else the user name.
    username = row[f"{prefix}__username"]
    if not username:
        return None
    return f"{row[f'{prefix}__first_name']} {row[f'{prefix}__last_name']}".strip() or username


def _by_case(rows: Iterable[dict], key: str = "case_id") -> dict[int, list[dict]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _flags(flags: list[dict]) -> list[dict]:
    ordered = sorted(flags, key=lambda f: (SEVERITY_RANK.get(f["severity"], len(SEVERITY_RANK)), f["kind"], f["id"]))
    return [{"kind": f["kind"], "severity": f["severity"], "message": f["message"]} for f in ordered]


def _current_verdict(verdicts: list[dict]) -> dict | None:
    # As reports.data.current_verdict: the approved verdict if any, else the latest proposal.
    approved = [v for v in verdicts if v["status"] == Verdict.Status.APPROVED]
    return approved[0] if approved else (verdicts[0] if verdicts else None)


def _verdict(verdict: dict | None) -> dict | None:
    if verdict is None:
        return None
    approved = verdict["status"] == Verdict.Status.APPROVED
    return {
        "version": verdict["number"],
        "status": verdict["status"],
        "rating": verdict["rating"],
        "rating_label": RATING_LABELS.get(verdict["rating"], verdict["rating"]),
        "confidence": verdict["confidence"],
        "media_category": verdict["media_category"] or None,
        "summary": verdict["summary"],
        "rationale": verdict["rationale"],
        "evidence": verdict["evidence"],
        "author": _person(verdict, "author"),
        "proposed_at": _iso(verdict["proposed_at"]),
        "approved_by": _person(verdict, "reviewed_by") if approved else None,
        "approved_at": _iso(verdict["reviewed_at"]) if approved else None,
    }


def _media(link: dict, readings: list[tuple], c2pa: dict | None, rating: dict | None, flags: list[dict]) -> dict:
    latitude, longitude = link["media_item__gps_latitude"], link["media_item__gps_longitude"]
    return {
        "sha256": link["media_item__sha256"],
        "original_name": link["media_item__original_name"],
        "kind": link["media_item__kind"],
        "mime_type": link["media_item__mime_type"],
        "size": link["media_item__size"],
        "collected_at": _iso(link["added_at"]),
        "captured_at": link["media_item__captured_at_text"] or None,
        "device": link["media_item__device"] or None,
        "software": link["media_item__software"] or None,
        "width": link["media_item__width"],
        "height": link["media_item__height"],
        "duration": link["media_item__duration"],
        "gps": {"latitude": latitude, "longitude": longitude}
        if latitude is not None and longitude is not None
        else None,
        "c2pa": (
            {
                "present": c2pa.get("present"),
                "validation_state": c2pa.get("validation_state"),
                "signer": c2pa.get("signer"),
            }
            if c2pa is not None
            else None
        ),
        "readings": dict(sorted(readings)),
        "rating": (
            {
                "category": rating["category"],
                "original_context": rating["original_context"] or None,
                "original_link": rating["original_link"] or None,
            }
            if rating
            else None
        ),
        "flags": _flags(flags),
    }


class _Chunk:
    """Everything the live reports of a chunk of cases show, read in one query per relation."""

    def __init__(self, case_ids: list[int]) -> None:
        self.public_url = public_urls()
        self.tags = defaultdict(list)
        for case_id, name in Case.tags.through.objects.filter(AnyOf("case_id", case_ids)).values_list(
            "case_id", "tag__name"
        ):
            self.tags[case_id].append(name)
        self.verdicts = _by_case(
            Verdict.objects.filter(AnyOf("case_id", case_ids)).order_by("case_id", "-number").values(*VERDICT_FIELDS)
        )
        current = [v["id"] for v in map(_current_verdict, self.verdicts.values()) if v is not None]
        self.ratings = {
            (r["verdict_id"], r["media_item_id"]): r
            for r in MediaRating.objects.filter(AnyOf("verdict_id", current)).values(
                "verdict_id", "media_item_id", "category", "original_context", "original_link"
            )
        }
        self.media = _by_case(
            CaseMedia.objects.filter(AnyOf("case_id", case_ids))
            .order_by("case_id", "added_at", "pk")
            .values(*MEDIA_FIELDS)
        )
        item_ids = [link["media_item_id"] for links in self.media.values() for link in links]
        self.readings = defaultdict(list)
        for item_id, extractor, status in Extraction.objects.filter(AnyOf("media_item_id", item_ids)).values_list(
            "media_item_id", "extractor", "status"
        ):
            self.readings[item_id].append((extractor, status))
        # Only the C2PA reading's result is shown; the others' (often large) results stay in the database.
        self.c2pa = dict(
            Extraction.objects.filter(
                AnyOf("media_item_id", item_ids), extractor="c2pa", status=Extraction.Status.OK
            ).values_list("media_item_id", "result")
        )
        self.flags = _by_case(
            Flag.objects.filter(AnyOf("case_id", case_ids))
            .order_by("kind", "pk")
            .values("id", "case_id", "media_item_id", "kind", "severity", "message")
        )
        self.checklist = _by_case(
            ChecklistItem.objects.filter(AnyOf("case_id", case_ids)).values(
                "case_id", "prompt", "required", "status", "notes", "evidence_links"
            )
        )
        self.sightings = _by_case(
            Sighting.objects.filter(AnyOf("case_id", case_ids)).values(
                "case_id", "role", "platform", "url", "account", "posted_at", "caption"
            )
        )
        self.events = _by_case(
            CaseEvent.objects.filter(AnyOf("case_id", case_ids))
            .order_by("at", "pk")
            .values(
                "case_id",
                "at",
                "kind",
                "note",
                "media_item__sha256",
                "actor__first_name",
                "actor__last_name",
                "actor__username",
            )
        )

    def report(self, case: dict) -> dict:
        """As reports.data.live_report, from the chunk's rows."""
        case_id = case["id"]
        verdict = _current_verdict(self.verdicts[case_id])
        flags_by_file = defaultdict(list)
        for flag in self.flags[case_id]:
            flags_by_file[flag["media_item_id"]].append(flag)
        sightings = self.sightings[case_id]
        dated = [s["posted_at"] for s in sightings if s["posted_at"] and s["role"] == Sighting.Role.APPEARANCE]
        latitude, longitude = case["claimed_latitude"], case["claimed_longitude"]
        return {
            "id": case_id,
            "title": case["title"],
            "claim": case["claim"],
            "stage": case["stage"],
            "stage_label": Stage(case["stage"]).label,
            "priority": PRIORITY_LABELS.get(case["priority"], case["priority"]),
            "tags": sorted(self.tags[case_id]),
            "claimed_place": case["claimed_place"] or None,
            "claimed_location": (
                {"latitude": latitude, "longitude": longitude}
                if latitude is not None and longitude is not None
                else None
            ),
            "claimed_at": _iso(case["claimed_at"]),
            "opened_at": _iso(case["created_at"]),
            "public_url": self.public_url(case_id) if case["stage"] == Stage.PUBLISHED else None,
            "verdict": _verdict(verdict),
            "checklist": [
                {
                    "question": item["prompt"],
                    "required": item["required"],
                    "status": item["status"],
                    "notes": item["notes"] or None,
                    "evidence_links": item["evidence_links"],
                }
                for item in self.checklist[case_id]
            ],
            "flags": _flags(flags_by_file.get(None, [])),
            "media": [
                _media(
                    link,
                    self.readings[link["media_item_id"]],
                    self.c2pa.get(link["media_item_id"]),
                    verdict and self.ratings.get((verdict["id"], link["media_item_id"])),
                    flags_by_file.get(link["media_item_id"], []),
                )
                for link in self.media[case_id]
            ],
            "sightings": [
                {
                    "role": s["role"],
                    "platform": PLATFORM_LABELS.get(s["platform"], s["platform"]),
                    "url": s["url"] or None,
                    "account": s["account"] or None,
                    "posted_at": _iso(s["posted_at"]),
                    "caption": s["caption"] or None,
                }
                for s in sightings
            ],
            "first_seen": _iso(min(dated)) if dated else None,
            "custody": [
                {
                    "at": _iso(e["at"]),
                    "event": EVENT_LABELS.get(e["kind"], e["kind"]),
                    "by": _person(e, "actor") or "system",
                    "file": e["media_item__sha256"],
                    "note": e["note"] or None,
                }
                for e in self.events[case_id]
            ],
        }


def published_reports(case_ids: Iterable[int]) -> dict[int, dict]:
    """The frozen report of each published case of `case_ids`, from its last publication (as reports.data)."""
    publications = Publication.objects.filter(AnyOf("case_id", case_ids)).order_by("case_id", "number")
    # In order of number, so that the last publication of each case is the one kept.
    return {case_id: document["report"] for case_id, document in publications.values_list("case_id", "document")}


def case_reports(case_ids: Sequence[int]) -> Iterator[dict]:
    """The report of each case of `case_ids`, in that order (ids no longer in the desk are skipped)."""
    cases = {case["id"]: case for case in Case.objects.filter(AnyOf("pk", case_ids)).order_by().values(*CASE_FIELDS)}
    documents = published_reports(pk for pk, case in cases.items() if case["stage"] == Stage.PUBLISHED)
    chunk = _Chunk([pk for pk in cases if pk not in documents])
    for case_id in case_ids:
        if case_id in documents:
            yield documents[case_id]
        elif case_id in cases:
            yield chunk.report(cases[case_id])
