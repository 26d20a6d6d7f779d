"""CSV export of a set of cases, one row per case: Excel-safe, and streamed so memory stays flat."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from verify import bidi
from verify.models import Case, Sighting, Verdict
from verify.reports.data import _iso, _person, public_url
from verify.selectors import csv_cases
from verify.workflow import Stage

HEADER = [
    "id",
    "title",
    "claim",
    "stage",
    "priority",
    "tags",
    "claimed place",
    "claimed time",
    "verdict rating",
    "verdict confidence",
    "verdict summary",
    "media category",
    "approved by",
    "approved at",
    "media count",
    "first seen",
    "sighting count",
    "public URL",
]
# A cell starting with one of these is read by Excel, LibreOffice and Sheets as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Cases read per round of queries. Django holds two chunks while it prefetches the next one;
# 200 kept peak RSS growth near 30 MiB in bench/csv_export.py, where 500 came to 46 MiB of the 50 allowed.
CHUNK_SIZE = 200
BOM = "\ufeff"


def excel_safe(value) -> str | int | float:
    """The cell for `value`: numbers stay numbers; text is isolated (see verify.bidi), and text that would
    start a formula, once the bidi controls before it are set aside, gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = bidi.isolate(str(value))
    return "'" + text if bidi.strip_leading_controls(text).startswith(FORMULA_PREFIXES) else text


def case_row(report: dict) -> list:
    verdict = report["verdict"] or {}
    row = [
        report["id"],
        report["title"],
        report["claim"],
        report["stage_label"],
        report["priority"],
        ", ".join(report["tags"]),
        report["claimed_place"],
        report["claimed_at"],
        verdict.get("rating_label"),
        verdict.get("confidence"),
        verdict.get("summary"),
        verdict.get("media_category"),
        verdict.get("approved_by"),
        verdict.get("approved_at"),
        len(report["media"]),
        report["first_seen"],
        len(report["sightings"]),
        report["public_url"],
    ]
    return [excel_safe(value) for value in row]


def row_report(case: Case) -> dict:
    """The part of `reports.data.case_report` a row shows, from a case loaded by `selectors.csv_cases`.

    A published case's row comes from its last publication, as its report does; the others are read
    from the few relations a row needs, so an export does not load every reading and event."""
    if case.stage == Stage.PUBLISHED and case.row_publications:
        return max(case.row_publications, key=lambda p: p.number).document["report"]
    # As reports.data.current_verdict: the approved verdict if any, else the latest proposal.
    approved_ones = [v for v in case.row_verdicts if v.status == Verdict.Status.APPROVED]
    verdict = approved_ones[0] if approved_ones else (case.row_verdicts[0] if case.row_verdicts else None)
    approved = verdict is not None and verdict.status == Verdict.Status.APPROVED
    sightings = case.row_sightings
    dated = [s.posted_at for s in sightings if s.posted_at and s.role == Sighting.Role.APPEARANCE]
    return {
        "id": case.pk,
        "title": case.title,
        "claim": case.claim,
        "stage_label": Stage(case.stage).label,
        "priority": case.get_priority_display(),
        "tags": sorted(t.name for t in case.row_tags),
        "claimed_place": case.claimed_place or None,
        "claimed_at": _iso(case.claimed_at),
        "verdict": verdict
        and {
            "rating_label": verdict.get_rating_display(),
            "confidence": verdict.confidence,
            "summary": verdict.summary,
            "media_category": verdict.media_category or None,
            "approved_by": _person(verdict.reviewed_by) if approved else None,
            "approved_at": _iso(verdict.reviewed_at) if approved else None,
        },
        "media": range(case.media_count),
        "first_seen": _iso(min(dated)) if dated else None,
        "sightings": sightings,
        "public_url": public_url(case) if case.stage == Stage.PUBLISHED else None,
    }


def rows(cases: Iterable[Case]) -> Iterator[list]:
    """The header, then one Excel-safe row per case (cases loaded by `selectors.csv_cases`)."""
    yield HEADER
    for case in cases:
        yield case_row(row_report(case))


class _Line:
    """A file-like buffer that hands back what csv.writer wrote, one row at a time."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


def stream_csv(queryset: QuerySet[Case]) -> Iterator[bytes]:
    """UTF-8 CSV lines for `queryset`, read from the database in chunks of CHUNK_SIZE cases."""
    line = _Line()
    writer = csv.writer(line)
    for row in rows(csv_cases(queryset).iterator(chunk_size=CHUNK_SIZE)):
        writer.writerow(row)
        yield line.take().encode("utf-8")


def _with_bom(lines: Iterator[bytes]) -> Iterator[bytes]:
    # Excel reads a CSV as UTF-8 only when it starts with a byte order mark.
    yield BOM.encode("utf-8")
    yield from lines


def csv_response(queryset: QuerySet[Case], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_with_bom(stream_csv(queryset)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
