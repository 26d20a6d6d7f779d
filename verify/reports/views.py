"""HTTP responses for each report format, for the admin to wire to its changelist filter and permission.

Each raises ReportError (with a message fit for the user) instead of answering with an empty or partial file.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from verify.models import Case
from verify.reports import ReportError, load_report_case
from verify.reports.claimreview import claim_review, dumps
from verify.reports.csv import csv_response
from verify.reports.json import json_response

SET_FORMATS = ("csv", "json")


def export_response(queryset: QuerySet[Case], fmt: str) -> StreamingHttpResponse:
    """The cases of `queryset` (the admin's current filter) as a streamed CSV or JSON download."""
    if fmt not in SET_FORMATS:
        raise ReportError(f"Unknown export format {fmt!r}; a set of cases exports as: {', '.join(SET_FORMATS)}")
    if not queryset.exists():
        raise ReportError("No cases match the current filter; nothing was exported")
    filename = f"verify-desk-cases-{timezone.now():%Y%m%d-%H%M}.{fmt}"
    respond = csv_response if fmt == "csv" else json_response
    return respond(queryset, filename)


def _loaded(case: Case) -> Case:
    """The case again, with everything a report shows prefetched."""
    loaded = load_report_case(case.pk)
    if loaded is None:
        raise ReportError(f"Case #{case.pk} no longer exists")
    return loaded


def pdf_response(case: Case) -> HttpResponse:
    """The verdict report of `case` as a PDF download; raises NoVerdict when it has none."""
    # WeasyPrint (about 40 MB with Pango) is loaded by the first PDF, not by every process that imports
    # the admin: workers and intake never draw a PDF.
    from verify.reports.pdf import render_pdf

    case = _loaded(case)
    response = HttpResponse(render_pdf(case), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.pk}-verdict.pdf"'
    return response


def jsonld_response(case: Case) -> HttpResponse:
    """The ClaimReview JSON-LD of a published case; raises NotPublished for any other."""
    case = _loaded(case)
    response = HttpResponse(dumps(claim_review(case), indent=2), content_type="application/ld+json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="case-{case.pk}-claimreview.jsonld"'
    return response
