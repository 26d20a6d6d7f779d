"""The document frozen at each approval, and the public page and ClaimReview read back from it.

The document holds what every published output needs: the report (claim, sightings, media with
their readings and summaries, flags, checklist, verdict, custody up to the approval), the public
page's fields and the ClaimReview with its MediaReviews. It is built from a case loaded by
`selectors.report_cases` and works on the models' fields alone, so the data migration that
snapshots cases published before publications existed can use it with historical models.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.dateparse import parse_datetime

from verify.models import Case, Publication
from verify.reports.claimreview import live_claim_review
from verify.reports.data import live_report
from verify.reports.public import live_public_fields

DOCUMENT_VERSION = 1


def _iso(value) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None


def snapshot_document(
    case: Case, *, number: int, kind: str, reason: str, approved_at, earlier: list[Publication]
) -> dict:
    """What publication `number` of `case` (published, its verdict just approved) shows, as JSON data.

    `earlier` holds the case's previous publications, oldest first: ClaimReview keeps the first
    one's datePublished, says when it was modified and carries every correction note.
    """
    claim_review = live_claim_review(case)
    if earlier:
        first = earlier[0].document["claim_review"]
        claim_review["datePublished"] = first.get("datePublished")
        claim_review["dateModified"] = _iso(approved_at)
        corrections = [
            {"@type": "CorrectionComment", "text": p.reason, "datePublished": _iso(p.approved_at)}
            for p in earlier
            if p.kind == Publication.Kind.CORRECTION
        ]
        if kind == Publication.Kind.CORRECTION:
            corrections.append({"@type": "CorrectionComment", "text": reason, "datePublished": _iso(approved_at)})
        if corrections:
            claim_review["correction"] = corrections
    report = live_report(case)
    report["publication"] = {
        "number": number,
        "kind": kind,
        "reason": reason or None,
        "published_at": _iso(approved_at),
        "earlier": [{"number": p.number, "kind": p.kind, "published_at": _iso(p.approved_at)} for p in earlier],
    }
    document = {
        "version": DOCUMENT_VERSION,
        "report": report,
        "public": live_public_fields(case),
        "claim_review": claim_review,
    }
    # Stored as JSON; read back the same way now, so a fresh publication reads like a loaded one.
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def _when(value: str | None):
    return parse_datetime(value) if value else None


def public_page_context(case: Case, publication: Publication) -> dict:
    """What the public page shows: the publication's own fields, its notice, and the versions before it."""
    public = dict(publication.document["public"])
    public["approved_at"] = _when(public.get("approved_at"))
    public["sightings"] = [{**s, "posted_at": _when(s.get("posted_at"))} for s in public.get("sightings", [])]
    earlier = sorted(
        (p for p in case.publications.all() if p.number < publication.number), key=lambda p: p.number, reverse=True
    )
    first = min([publication, *earlier], key=lambda p: p.number)
    return {
        **public,
        "first_published_at": first.approved_at,
        "notice": (
            {"kind": publication.kind, "at": publication.approved_at, "reason": publication.reason}
            if publication.kind != Publication.Kind.FIRST
            else None
        ),
        "earlier_versions": [
            {
                "rating": p.document["public"].get("rating"),
                "rating_code": p.document["public"].get("rating_code"),
                "summary": p.document["public"].get("summary"),
                "published_at": p.approved_at,
                "kind": p.get_kind_display(),
            }
            for p in earlier
        ],
        "claim_review": publication.document["claim_review"],
    }
