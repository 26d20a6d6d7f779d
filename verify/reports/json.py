"""JSON export of a set of cases in the versioned schema of docs/report-schema.md, written incrementally."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from verify import bidi
from verify.models import Case
from verify.reports.data import REPORT_SCHEMA_VERSION, case_report
from verify.selectors import report_cases

SCHEMA_NAME = "verify-desk/case-report"
CHUNK_SIZE = 200  # as in reports/csv.py: what bench/csv_export.py showed keeps memory well under target


def _dumps(value) -> str:
    # Text is isolated as every export shows it (verify.bidi), and its bidi controls escaped in the file.
    text = json.dumps(value, ensure_ascii=False)
    # Most reports hold no bidi control at all; then isolating would change nothing, and walking every value
    # to find that out costs more than writing the report.
    if not bidi.has_bidi_controls(text):
        return text
    return bidi.escape_in_json(json.dumps(bidi.isolate_all(value), ensure_ascii=False))


def stream_json(queryset: QuerySet[Case], generated_at=None) -> Iterator[bytes]:
    """The export document, one case per line, so that no more than one chunk of cases is held at a time."""
    generated_at = generated_at or timezone.now()
    head = {"schema": SCHEMA_NAME, "version": REPORT_SCHEMA_VERSION, "generated_at": generated_at.isoformat()}
    # The head is a complete object; reopen it to append the "cases" array.
    yield (_dumps(head)[:-1] + ', "cases": [').encode("utf-8")
    separator = "\n"
    for case in report_cases(queryset).iterator(chunk_size=CHUNK_SIZE):
        yield (separator + _dumps(case_report(case))).encode("utf-8")
        separator = ",\n"
    yield b"\n]}\n"


def json_response(queryset: QuerySet[Case], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream_json(queryset), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
