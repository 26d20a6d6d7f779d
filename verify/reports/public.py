"""The public page of a published verdict, at a stable URL, with its ClaimReview embedded as JSON-LD.

It shows only what was published: never reviewer notes, custody, file paths, hashes or desk members' names.
"""

from __future__ import annotations

from csp.decorators import csp
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.views.decorators.http import require_GET

from verify.models import Case
from verify.reports import ReportError, organisation
from verify.reports.claimreview import approved_verdict, claim_review, public_sightings, script_tag, web_url
from verify.selectors import report_cases
from verify.workflow import Stage

NOT_FOUND = "There is no published verdict at this address."
# The page needs no script (JSON-LD is data, never run), no frames and nothing from elsewhere:
# it replaces the desk's policy (settings.CONTENT_SECURITY_POLICY) with this stricter one.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'none'"],
}


def public_verdict_context(case: Case) -> dict:
    """What the public page shows, picked field by field; raises NotPublished for an unpublished case."""
    verdict = approved_verdict(case)
    return {
        "title": case.title,
        "claim": case.claim,
        "rating": verdict.get_rating_display(),
        "rating_code": verdict.rating,
        "summary": verdict.summary,
        "rationale": verdict.rationale,
        "approved_at": verdict.reviewed_at,
        "organisation": organisation(),
        "sightings": public_sightings(case),
        "media_ratings": [
            {
                "kind": rating.media_item.get_kind_display(),
                "category": rating.get_category_display(),
                "context": rating.original_context,
                "original_link": web_url(rating.original_link),
            }
            for rating in verdict.media_ratings.all()
        ],
        "media_category": verdict.get_media_category_display() if verdict.media_category else "",
        "jsonld": script_tag(claim_review(case)),
    }


@require_GET
@csp(CONTENT_SECURITY_POLICY)
def public_verdict(request: HttpRequest, case_id: int) -> HttpResponse:
    # Only published cases are loaded at all: nothing else can reach the template.
    case = report_cases(Case.objects.filter(pk=case_id, stage=Stage.PUBLISHED)).first()
    try:
        context = public_verdict_context(case) if case else None
    except ReportError:
        context = None
    if context is None:
        return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
    response = render(request, "reports/public_verdict.html", context)
    response["X-Content-Type-Options"] = "nosniff"
    return response
