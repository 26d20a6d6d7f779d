"""The public page of a published verdict, at a stable URL, with its ClaimReview embedded as JSON-LD.

It shows only what was published: never reviewer notes, custody, file paths, hashes or desk members' names.
"""

from __future__ import annotations

from csp.decorators import csp
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.views.decorators.http import require_GET

from verify.models import Case
from verify.record.frozen import PUBLIC_STAGES
from verify.reports import NotPublished, ReportError, organisation
from verify.reports.claimreview import approved_verdict, public_sightings, script_tag, web_url

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


def live_public_fields(case: Case) -> dict:
    """What the public page shows of a published case, picked field by field from its fields as they are now.

    Only the publication snapshot calls this; the page itself reads the snapshot.
    """
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
    }


def public_verdict_context(case: Case) -> dict:
    """What the public page shows: the last publication, frozen; raises NotPublished when there is none."""
    from verify.record.frozen import shown_publication
    from verify.record.snapshot import public_page_context

    publication = shown_publication(case)
    if publication is None:
        raise NotPublished(f"Case #{case.pk} has no publication the public may see")
    context = public_page_context(case, publication)
    context["jsonld"] = script_tag(context.pop("claim_review"))
    return context


@require_GET
@csp(CONTENT_SECURITY_POLICY)
def public_verdict(request: HttpRequest, case_id: int) -> HttpResponse:
    # Only cases with a publication on show are loaded at all: nothing else can reach the template.
    case = (
        Case.objects.filter(pk=case_id, stage__in=PUBLIC_STAGES, publications__isnull=False)
        .prefetch_related("publications")
        .first()
    )
    try:
        context = public_verdict_context(case) if case else None
    except ReportError:
        context = None
    if context is None:
        return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
    response = render(request, "reports/public_verdict.html", context)
    response["X-Content-Type-Options"] = "nosniff"
    return response
