"""schema.org ClaimReview, with its associated MediaReviews, as JSON-LD for a published verdict.

The rating scale (reviewRating.ratingValue, worst 1 to best 5) places each desk rating on a
truth scale; alternateName carries the desk's own label. See docs/report-schema.md.
"""

from __future__ import annotations

import copy
import json

from django.utils.safestring import SafeString, mark_safe

from verify import bidi
from verify.models import Case, MediaItem, Platform, Sighting, Verdict
from verify.reports import NotPublished, check_published, organisation
from verify.reports.data import public_url

WORST_RATING, BEST_RATING = 1, 5
RATING_VALUES = {
    Verdict.Rating.VERIFIED: 5,
    # Neither confirmed nor refuted: the middle of the scale.
    Verdict.Rating.UNVERIFIABLE: 3,
    # Real media, told wrongly (wrong place, time or event).
    Verdict.Rating.MISLEADING: 2,
    Verdict.Rating.MANIPULATED: 1,
    Verdict.Rating.STAGED: 1,
    Verdict.Rating.FALSE: 1,
}
MEDIA_OBJECT_TYPES = {
    MediaItem.Kind.PHOTO: "ImageObject",
    MediaItem.Kind.VIDEO: "VideoObject",
    MediaItem.Kind.OTHER: "MediaObject",
}
# Accounts on these platforms speak for an organisation; elsewhere for a person.
ORGANISATION_PLATFORMS = {Platform.NEWS_SITE, Platform.OFFICIAL}


def _iso(value) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None


def web_url(url: str) -> str | None:
    """Only http(s) links go public: anything else (javascript:, file:) is dropped."""
    return url if url.lower().startswith(("http://", "https://")) else None


def approved_verdict(case: Case) -> Verdict:
    """The approved verdict of a published case (from the prefetched versions)."""
    check_published(case)
    approved = [v for v in case.verdicts.all() if v.status == Verdict.Status.APPROVED]
    if not approved:
        raise NotPublished(f"Case #{case.pk} is published but has no approved verdict; nothing may be made public")
    return approved[0]


def public_sightings(case: Case) -> list[dict]:
    """Where the claim appeared, as it may be shown publicly: platform, account, web link and time.

    Who reported a sighting to the desk is never shown. When the case is marked
    "source at risk" the account and link are withheld too, since they can name the source.
    """
    shown, at_risk = [], case.source_at_risk
    for sighting in case.sightings.all():
        shown.append(
            {
                "platform": sighting.get_platform_display(),
                "platform_code": sighting.platform,
                "account": None if at_risk else (sighting.account or None),
                "url": None if at_risk else web_url(sighting.url),
                "posted_at": sighting.posted_at,
                "media_item_id": sighting.media_item_id,
                "role": sighting.role,
            }
        )
    return shown


def _agent(sighting: dict) -> dict | None:
    if not sighting["account"]:
        return None
    kind = "Organization" if sighting["platform_code"] in ORGANISATION_PLATFORMS else "Person"
    return {"@type": kind, "name": sighting["account"]}


def _appearance(sighting: dict) -> dict:
    return _compact(
        {
            "@type": "CreativeWork",
            "url": sighting["url"],
            "datePublished": _iso(sighting["posted_at"]),
            "author": _agent(sighting),
        }
    )


def _compact(data: dict) -> dict:
    return {key: value for key, value in data.items() if value not in (None, "", [])}


def _claim(sightings: list[dict]) -> dict:
    """The claim and where it appeared. Responses (officials confirming or disputing it) are not
    appearances. A fact the desk does not have (no link, no date) is left out, never made up."""
    appearances = [s for s in sightings if s["role"] == Sighting.Role.APPEARANCE]
    # Sightings come ordered by posted time, undated last: the first is the earliest known.
    earliest = appearances[0] if appearances else None
    linked = [s for s in appearances if s["url"]]
    return _compact(
        {
            "@type": "Claim",
            "appearance": [_appearance(s) for s in linked],
            "firstAppearance": _appearance(linked[0]) if linked else None,
            "author": _agent(earliest) if earliest else None,
            "datePublished": _iso(earliest["posted_at"]) if earliest else None,
        }
    )


def _media_object(item: MediaItem, sightings: list[dict]) -> dict:
    """The reviewed file as the public saw it: its type and where it was posted, never our copy of it."""
    posted = next((s for s in sightings if s["media_item_id"] == item.pk and s["url"]), None)
    return _compact(
        {
            "@type": MEDIA_OBJECT_TYPES.get(item.kind, "MediaObject"),
            "encodingFormat": item.mime_type,
            "contentUrl": posted["url"] if posted else None,
            "uploadDate": _iso(posted["posted_at"]) if posted else None,
        }
    )


def media_reviews(case: Case, verdict: Verdict, sightings: list[dict]) -> list[dict]:
    """One MediaReview per file the verdict rated, or one for the case's media taken together."""
    author, published = organisation(), _iso(verdict.reviewed_at)
    reviews = [
        _compact(
            {
                "@type": "MediaReview",
                "mediaAuthenticityCategory": rating.category,
                "originalMediaContextDescription": rating.original_context,
                "originalMediaLink": web_url(rating.original_link),
                "itemReviewed": _media_object(rating.media_item, sightings),
                "author": author,
                "datePublished": published,
            }
        )
        for rating in verdict.media_ratings.all()
    ]
    if not reviews and verdict.media_category:
        items = [_media_object(link.media_item, sightings) for link in case.case_media.all()]
        reviews.append(
            _compact(
                {
                    "@type": "MediaReview",
                    "mediaAuthenticityCategory": verdict.media_category,
                    "itemReviewed": items,
                    "author": author,
                    "datePublished": published,
                }
            )
        )
    return reviews


def claim_review(case: Case) -> dict:
    """The ClaimReview of a published case, as frozen at its last approval; raises NotPublished for any other.

    A case reopened for a correction keeps answering with its last publication.
    """
    from verify.record.frozen import shown_publication

    publication = shown_publication(case)
    if publication is not None:
        return copy.deepcopy(publication.document["claim_review"])
    return live_claim_review(case)


def live_claim_review(case: Case) -> dict:
    """The ClaimReview of a published case from its fields as they are now."""
    verdict = approved_verdict(case)
    sightings = public_sightings(case)
    return _compact(
        {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": public_url(case),
            "name": case.title,
            "claimReviewed": case.claim,
            "reviewBody": verdict.summary,
            "reviewRating": {
                "@type": "Rating",
                "alternateName": verdict.get_rating_display(),
                "ratingValue": RATING_VALUES[verdict.rating],
                "bestRating": BEST_RATING,
                "worstRating": WORST_RATING,
            },
            "itemReviewed": _claim(sightings),
            "author": organisation(),
            "datePublished": _iso(verdict.reviewed_at),
            "associatedMediaReview": media_reviews(case, verdict, sightings),
        }
    )


def dumps(data: dict, indent: int | None = None) -> str:
    """JSON-LD text that is safe inside an HTML <script> element: no <, > or & appear literally,
    so "</script>" or "<!--" in any free text cannot end or confuse the element."""
    text = json.dumps(bidi.isolate_all(data), ensure_ascii=False, indent=indent)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    # U+2028/2029 end a line in JavaScript; escaped too, for consumers that eval.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    # Free text is isolated for whoever shows it (verify.bidi), and its bidi controls escaped in the page source.
    return bidi.escape_in_json(text)


def script_tag(data: dict) -> SafeString:
    """A complete <script type="application/ld+json"> element embedding `data`."""
    return mark_safe(f'<script type="application/ld+json">{dumps(data)}</script>')  # noqa: S308 (escaped by dumps)
