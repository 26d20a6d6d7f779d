"""The JSON export's case reports for a chunk of cases, read with values_list(): the same objects as
`reports.data.case_report` builds from loaded cases, in a fixed number of queries per chunk, built straight
from each row's tuple without a model instance or an intermediate dict per case, file, reading or event."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import models
from django.db.models import TextField
from django.db.models.functions import Cast

from verify.exports.lookups import AnyOf, IsoTime, iso_text
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
from verify.reports.data import SEVERITY_RANK, public_url
from verify.workflow import Stage


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
STAGE_LABELS = {stage.value: stage.label for stage in Stage}
APPROVED = Verdict.Status.APPROVED
APPEARANCE = Sighting.Role.APPEARANCE


def _person(first_name: str | None, last_name: str | None, username: str | None) -> str | None:
    """As reports.data._person, from a row's name columns: the full name, else the user name."""
    if not username:
        return None
    return f"{first_name} {last_name}".strip() or username


def _flags(flags: list[tuple] | None) -> list[dict]:
    # Each flag as (severity rank, kind, id, the flag's dict): most serious first, as reports.data._flags.
    # Most files and claims have none.
    return [flag for *_, flag in sorted(flags)] if flags else []


def _current_verdict(verdicts: list[tuple]) -> tuple | None:
    # As reports.data.current_verdict (versions newest first): the approved one if any, else the latest proposal.
    for verdict in verdicts:
        if verdict[3] == APPROVED:
            return verdict
    return verdicts[0] if verdicts else None


def _json_text(field: str) -> Cast:
    # A JSON column read as its text: the driver and the field's converter decode every value otherwise,
    # most of them empty lists (a fifth of the export's time), where `_loads` decodes only the others.
    return Cast(field, TextField())


def _loads(text: str | None):
    if text == "[]":
        return []
    return None if text is None else json.loads(text)


def _by_case(pairs: Iterable[tuple[int, object]]) -> defaultdict[int, list]:
    grouped = defaultdict(list)
    for case_id, value in pairs:
        grouped[case_id].append(value)
    return grouped


class _Chunk:
    """Everything the live reports of a chunk of cases show, read in one query per relation."""

    def __init__(self, case_ids: list[int]) -> None:
        self.public_url = public_urls()
        self.tags = _by_case(
            Case.tags.through.objects.filter(AnyOf("case_id", case_ids)).values_list("case_id", "tag__name")
        )
        self._read_verdicts(case_ids)
        self._read_media(case_ids)
        self.checklist = _by_case(
            (
                case_id,
                {
                    "question": prompt,
                    "required": required,
                    "status": status,
                    "notes": notes or None,
                    "evidence_links": _loads(links),
                },
            )
            for case_id, prompt, required, status, notes, links in ChecklistItem.objects.filter(
                AnyOf("case_id", case_ids)
            ).values_list("case_id", "prompt", "required", "status", "notes", _json_text("evidence_links"))
        )
        self.sightings = defaultdict(list)
        # The earliest time a file appeared (a response, such as an official's statement, dates nothing).
        first_seen = {}
        for case_id, role, platform, url, account, posted_at, caption in Sighting.objects.filter(
            AnyOf("case_id", case_ids)
        ).values_list("case_id", "role", "platform", "url", "account", IsoTime("posted_at"), "caption"):
            posted = iso_text(posted_at)
            self.sightings[case_id].append(
                {
                    "role": role,
                    "platform": PLATFORM_LABELS.get(platform, platform),
                    "url": url or None,
                    "account": account or None,
                    "posted_at": posted,
                    "caption": caption or None,
                }
            )
            # Times read as text (IsoTime, in UTC) sort as the times themselves do.
            if posted_at and role == APPEARANCE and (case_id not in first_seen or posted_at < first_seen[case_id]):
                first_seen[case_id] = posted_at
        self.first_seen = {case_id: iso_text(posted_at) for case_id, posted_at in first_seen.items()}
        self.custody = _by_case(
            (
                case_id,
                {
                    "at": iso_text(at),
                    "event": EVENT_LABELS.get(kind, kind),
                    "by": _person(first_name, last_name, username) or "system",
                    "file": sha256,
                    "note": note or None,
                },
            )
            for case_id, at, kind, note, sha256, first_name, last_name, username in CaseEvent.objects.filter(
                AnyOf("case_id", case_ids)
            )
            .order_by("at", "pk")
            .values_list(
                "case_id",
                IsoTime("at"),
                "kind",
                "note",
                "media_item__sha256",
                "actor__first_name",
                "actor__last_name",
                "actor__username",
            )
        )

    def _read_verdicts(self, case_ids: list[int]) -> None:
        versions = _by_case(
            (row[0], row)
            for row in Verdict.objects.filter(AnyOf("case_id", case_ids))
            .order_by("case_id", "-number")
            .values_list(
                "case_id",
                "id",
                "number",
                "status",
                "rating",
                "confidence",
                "media_category",
                "summary",
                "rationale",
                _json_text("evidence"),
                IsoTime("proposed_at"),
                IsoTime("reviewed_at"),
                "author__first_name",
                "author__last_name",
                "author__username",
                "reviewed_by__first_name",
                "reviewed_by__last_name",
                "reviewed_by__username",
            )
        )
        self.verdicts: dict[int, tuple[int, dict]] = {}
        for case_id, verdicts in versions.items():
            (_, pk, number, status, rating, confidence, category, summary, rationale, evidence, proposed_at,
             reviewed_at, *author, reviewer_first, reviewer_last, reviewer) = _current_verdict(verdicts)  # fmt: skip
            approved = status == APPROVED
            self.verdicts[case_id] = (
                pk,
                {
                    "version": number,
                    "status": status,
                    "rating": rating,
                    "rating_label": RATING_LABELS.get(rating, rating),
                    "confidence": confidence,
                    "media_category": category or None,
                    "summary": summary,
                    "rationale": rationale,
                    "evidence": _loads(evidence),
                    "author": _person(*author),
                    "proposed_at": iso_text(proposed_at),
                    "approved_by": _person(reviewer_first, reviewer_last, reviewer) if approved else None,
                    "approved_at": iso_text(reviewed_at) if approved else None,
                },
            )

    def _read_media(self, case_ids: list[int]) -> None:
        current = [pk for pk, _ in self.verdicts.values()]
        ratings = {
            (verdict_id, item_id): {
                "category": category,
                "original_context": context or None,
                "original_link": link or None,
            }
            for verdict_id, item_id, category, context, link in MediaRating.objects.filter(
                AnyOf("verdict_id", current)
            ).values_list("verdict_id", "media_item_id", "category", "original_context", "original_link")
        }
        self.flags = defaultdict(list)
        for pk, case_id, item_id, kind, severity, message in (
            Flag.objects.filter(AnyOf("case_id", case_ids))
            .order_by()
            .values_list("id", "case_id", "media_item_id", "kind", "severity", "message")
        ):
            rank = SEVERITY_RANK.get(severity, len(SEVERITY_RANK))
            self.flags[case_id, item_id].append(
                (rank, kind, pk, {"kind": kind, "severity": severity, "message": message})
            )
        links = list(
            CaseMedia.objects.filter(AnyOf("case_id", case_ids))
            .order_by("case_id", "added_at", "pk")
            .values_list(
                "case_id",
                IsoTime("added_at"),
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
        )
        item_ids = [link[2] for link in links]
        readings = _by_case(
            (item_id, (extractor, status))
            for item_id, extractor, status in Extraction.objects.filter(AnyOf("media_item_id", item_ids))
            .order_by()
            .values_list("media_item_id", "extractor", "status")
        )
        # Only the C2PA reading's result is shown; the others' (often large) results stay in the database.
        c2pa = dict(
            Extraction.objects.filter(
                AnyOf("media_item_id", item_ids), extractor="c2pa", status=Extraction.Status.OK
            ).values_list("media_item_id", "result")
        )
        self.media = defaultdict(list)
        for (case_id, added_at, item_id, sha256, name, kind, mime_type, size, captured_at, device, software,
             width, height, duration, latitude, longitude) in links:  # fmt: skip
            verdict = self.verdicts.get(case_id)
            reading = c2pa.get(item_id)
            self.media[case_id].append(
                {
                    "sha256": sha256,
                    "original_name": name,
                    "kind": kind,
                    "mime_type": mime_type,
                    "size": size,
                    "collected_at": iso_text(added_at),
                    "captured_at": captured_at or None,
                    "device": device or None,
                    "software": software or None,
                    "width": width,
                    "height": height,
                    "duration": duration,
                    "gps": {"latitude": latitude, "longitude": longitude}
                    if latitude is not None and longitude is not None
                    else None,
                    "c2pa": (
                        {
                            "present": reading.get("present"),
                            "validation_state": reading.get("validation_state"),
                            "signer": reading.get("signer"),
                        }
                        if reading is not None
                        else None
                    ),
                    "readings": dict(sorted(readings.get(item_id, ()))),
                    "rating": ratings.get((verdict[0], item_id)) if verdict else None,
                    "flags": _flags(self.flags.get((case_id, item_id))),
                }
            )

    def report(self, case: tuple) -> dict:
        """As reports.data.live_report, from the chunk's rows."""
        case_id, title, claim, stage, priority, place, latitude, longitude, claimed_at, created_at = case
        verdict = self.verdicts.get(case_id)
        return {
            "id": case_id,
            "title": title,
            "claim": claim,
            "stage": stage,
            "stage_label": STAGE_LABELS[stage],
            "priority": PRIORITY_LABELS.get(priority, priority),
            "tags": sorted(self.tags.get(case_id, ())),
            "claimed_place": place or None,
            "claimed_location": (
                {"latitude": latitude, "longitude": longitude}
                if latitude is not None and longitude is not None
                else None
            ),
            "claimed_at": iso_text(claimed_at),
            "opened_at": iso_text(created_at),
            "public_url": self.public_url(case_id) if stage == Stage.PUBLISHED else None,
            "verdict": verdict[1] if verdict else None,
            "checklist": self.checklist.get(case_id, []),
            "flags": _flags(self.flags.get((case_id, None))),
            "media": self.media.get(case_id, []),
            "sightings": self.sightings.get(case_id, []),
            "first_seen": self.first_seen.get(case_id),
            "custody": self.custody.get(case_id, []),
        }


CASE_FIELDS = (
    "id",
    "title",
    "claim",
    "stage",
    "priority",
    "claimed_place",
    "claimed_latitude",
    "claimed_longitude",
    IsoTime("claimed_at"),
    IsoTime("created_at"),
)


def published_reports(case_ids: Iterable[int]) -> dict[int, dict]:
    """The frozen report of each published case of `case_ids`, from its last publication (as reports.data)."""
    publications = Publication.objects.filter(AnyOf("case_id", case_ids)).order_by("case_id", "number")
    # In order of number, so that the last publication of each case is the one kept.
    return {case_id: document["report"] for case_id, document in publications.values_list("case_id", "document")}


def case_reports(case_ids: Sequence[int]) -> Iterator[dict]:
    """The report of each case of `case_ids`, in that order (ids no longer in the desk are skipped)."""
    cases = {case[0]: case for case in Case.objects.filter(AnyOf("pk", case_ids)).order_by().values_list(*CASE_FIELDS)}
    documents = published_reports(pk for pk, case in cases.items() if case[3] == Stage.PUBLISHED)
    chunk = _Chunk([pk for pk in cases if pk not in documents])
    for case_id in case_ids:
        if case_id in documents:
            yield documents[case_id]
        elif case_id in cases:
            yield chunk.report(cases[case_id])
