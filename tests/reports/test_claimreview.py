"""ClaimReview and MediaReview JSON-LD: DESIGN.md's fields, schema.org's enumeration, the rating scale, escaping."""

import json
import re

import pytest
from django.conf import settings

from verify.models import Sighting, Verdict
from verify.reports import NotPublished
from verify.reports.claimreview import BEST_RATING, RATING_VALUES, WORST_RATING, claim_review, script_tag

# The fields DESIGN.md ("Reports") lists, checked here against each document.
CLAIM_REVIEW_FIELDS = {"claimReviewed", "reviewRating", "itemReviewed", "author", "datePublished", "url"}
RATING_FIELDS = {"alternateName", "ratingValue", "bestRating", "worstRating"}
CLAIM_FIELDS = {"appearance", "firstAppearance", "author", "datePublished"}
MEDIA_REVIEW_FIELDS = {"mediaAuthenticityCategory", "originalMediaContextDescription", "originalMediaLink"}
# schema.org/MediaManipulationRatingEnumeration's members.
MEDIA_AUTHENTICITY_CATEGORIES = {
    "OriginalMediaContent",
    "DecontextualizedContent",
    "EditedOrCroppedContent",
    "TransformedContent",
    "StagedContent",
    "SatireOrParodyContent",
}
MEDIA_OBJECT_TYPES = {"MediaObject", "ImageObject", "VideoObject", "AudioObject"}
AGENT_TYPES = {"Person", "Organization"}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
SCRIPT_BREAKER = "</script><script>alert(1)</script>"


def structure_problems(document: dict, *, per_file: bool = True) -> list[str]:
    """What is missing or out of range in a ClaimReview document, as sentences; empty when it is sound."""
    problems = []

    def need(obj: dict, fields: set[str], where: str) -> None:
        problems.extend(f"{where} lacks {name}" for name in sorted(fields - set(obj)))

    if (document.get("@context"), document.get("@type")) != ("https://schema.org", "ClaimReview"):
        problems.append("not a schema.org ClaimReview")
    need(document, CLAIM_REVIEW_FIELDS, "ClaimReview")
    rating = document.get("reviewRating", {})
    need(rating, RATING_FIELDS | {"@type"}, "reviewRating")
    if rating.get("@type") != "Rating":
        problems.append("reviewRating is not a Rating")
    if not rating.get("worstRating", 0) <= rating.get("ratingValue", -1) <= rating.get("bestRating", -2):
        problems.append("ratingValue is outside worstRating..bestRating")
    claim = document.get("itemReviewed", {})
    need(claim, CLAIM_FIELDS | {"@type"}, "itemReviewed")
    if claim.get("@type") != "Claim":
        problems.append("itemReviewed is not a Claim")
    for appearance in [*claim.get("appearance", []), claim.get("firstAppearance", {})]:
        if appearance.get("@type") not in {"CreativeWork", *MEDIA_OBJECT_TYPES} or "url" not in appearance:
            problems.append(f"appearance {appearance} is not a CreativeWork with a url")
    if claim.get("author", {}).get("@type") not in AGENT_TYPES:
        problems.append("the claim's author is not a Person or Organization")
    if document.get("author", {}).get("@type") != "Organization":
        problems.append("the review's author is not an Organization")
    for name in ("datePublished",):
        for where, obj in (("ClaimReview", document), ("Claim", claim)):
            if not ISO_TIME.match(obj.get(name, "")):
                problems.append(f"{where}.{name} is not an ISO 8601 time")
    reviews = document.get("associatedMediaReview", [])
    if not reviews:
        problems.append("no associatedMediaReview")
    for review in reviews:
        if review.get("@type") != "MediaReview":
            problems.append(f"{review} is not a MediaReview")
        if review.get("mediaAuthenticityCategory") not in MEDIA_AUTHENTICITY_CATEGORIES:
            problems.append(f"unknown mediaAuthenticityCategory {review.get('mediaAuthenticityCategory')!r}")
        if per_file:
            need(review, MEDIA_REVIEW_FIELDS, "MediaReview")
        items = review.get("itemReviewed", [])
        for item in items if isinstance(items, list) else [items]:
            if item.get("@type") not in MEDIA_OBJECT_TYPES:
                problems.append(f"MediaReview reviews {item}, not a MediaObject")
    return problems


def test_it_has_every_field_design_lists_with_allowed_values(published):
    assert structure_problems(claim_review(published)) == []


def test_it_fills_the_claim_review_from_the_published_verdict(published):
    document = claim_review(published)
    verdict = published.verdicts.get(status=Verdict.Status.APPROVED)
    assert document["claimReviewed"] == published.claim
    assert document["url"] == f"{settings.SITE_URL}/verdicts/{published.pk}/"
    assert document["datePublished"] == verdict.reviewed_at.replace(microsecond=0).isoformat()
    assert document["reviewRating"] == {
        "@type": "Rating",
        "alternateName": "Misleading / miscaptioned",
        "ratingValue": 2,
        "bestRating": 5,
        "worstRating": 1,
    }
    assert document["author"]["@type"] == "Organization"


def test_it_takes_the_claims_first_appearance_and_author_from_the_earliest_sighting(published):
    claim = claim_review(published)["itemReviewed"]
    assert [a["url"] for a in claim["appearance"]] == [
        "https://t.me/example_channel/4411",
        "https://news.example.com/story",
    ]
    assert claim["firstAppearance"]["url"] == "https://t.me/example_channel/4411"
    assert claim["author"] == {"@type": "Person", "name": "example_channel"}
    assert claim["datePublished"] == "2024-11-03T07:15:00+00:00"
    assert claim["appearance"][1]["author"] == {"@type": "Organization", "name": "Example News"}


def test_it_reviews_each_rated_file_without_exposing_our_copy(published):
    (review,) = claim_review(published)["associatedMediaReview"]
    assert review["mediaAuthenticityCategory"] == "DecontextualizedContent"
    assert review["originalMediaContextDescription"] == "Filmed in Donetsk in June 2021, not in Kursk."
    assert review["originalMediaLink"] == "https://www.youtube.com/watch?v=original"
    assert review["itemReviewed"] == {
        "@type": "ImageObject",
        "encodingFormat": "image/jpeg",
        "contentUrl": "https://t.me/example_channel/4411",
        "uploadDate": "2024-11-03T07:15:00+00:00",
    }
    text = json.dumps(claim_review(published))
    for item in published.media_items.all():
        assert item.sha256 not in text
    assert "/desk/media/" not in text and str(settings.MEDIA_ROOT) not in text


def test_it_reviews_the_media_as_a_whole_when_no_file_was_rated(make_published):
    document = claim_review(make_published(per_file=False))
    assert structure_problems(document, per_file=False) == []
    (review,) = document["associatedMediaReview"]
    assert review["mediaAuthenticityCategory"] == "DecontextualizedContent"
    assert [item["@type"] for item in review["itemReviewed"]] == ["ImageObject", "VideoObject"]
    assert "contentUrl" not in review["itemReviewed"][1]


def test_its_rating_scale_places_every_desk_rating_within_bounds():
    assert set(RATING_VALUES) == set(Verdict.Rating)
    assert all(WORST_RATING <= value <= BEST_RATING for value in RATING_VALUES.values())
    assert RATING_VALUES[Verdict.Rating.VERIFIED] == BEST_RATING
    assert RATING_VALUES[Verdict.Rating.FALSE] == WORST_RATING


def test_the_desks_media_categories_are_schema_orgs():
    from verify.models import MediaReviewCategory

    assert set(MediaReviewCategory.values) == MEDIA_AUTHENTICITY_CATEGORIES


def test_it_refuses_a_case_that_is_not_published(awaiting_approval):
    with pytest.raises(NotPublished, match=f"Case #{awaiting_approval.pk} is Awaiting approval, not published"):
        claim_review(awaiting_approval)


def test_it_withholds_accounts_and_links_when_the_source_is_at_risk(make_published):
    document = claim_review(make_published(source_at_risk=True))
    claim = document["itemReviewed"]
    assert "appearance" not in claim and "author" not in claim
    assert "example_channel" not in json.dumps(document)


def test_it_drops_links_that_are_not_web_addresses(published):
    Sighting.objects.filter(case=published).update(url="javascript:alert(1)")
    text = json.dumps(claim_review(published))
    assert "javascript:" not in text


def test_script_tag_cannot_be_closed_by_free_text(make_published):
    case = make_published(claim=f"Claim {SCRIPT_BREAKER} & <!-- more", summary=f"Summary {SCRIPT_BREAKER}")
    tag = str(script_tag(claim_review(case)))
    assert tag.startswith('<script type="application/ld+json">')
    body = tag.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert "<" not in body and ">" not in body and "&" not in body
    assert "\\u003c/script\\u003e" in body
    document = json.loads(body)
    assert document["claimReviewed"] == f"Claim {SCRIPT_BREAKER} & <!-- more"
    assert document["reviewBody"] == f"Summary {SCRIPT_BREAKER}"
