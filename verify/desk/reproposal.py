"""A verdict proposed again after an editor sent it back starts from the version sent back, with the reason on top."""

from __future__ import annotations

from verify.models import Case, Verdict

EVIDENCE_FIELDS = {"sighting": "evidence_sightings", "extraction": "evidence_readings", "flag": "evidence_flags"}


def sent_back_version(case: Case) -> Verdict | None:
    """The case's newest verdict when an editor sent it back, with who did and their ratings of each file."""
    newest = case.verdicts.select_related("reviewed_by").prefetch_related("media_ratings").order_by("-number").first()
    return newest if newest is not None and newest.status == Verdict.Status.SENT_BACK else None


def verdict_initial(verdict: Verdict) -> dict:
    """The verdict form's starting values: the earlier version's rating, words and evidence.

    Evidence that no longer exists (a flag recomputed since) is simply not ticked; the choices come from
    the case as it is now.
    """
    initial = {
        "rating": verdict.rating,
        "confidence": verdict.confidence,
        "media_category": verdict.media_category,
        "summary": verdict.summary,
        "rationale": verdict.rationale,
        "evidence_links": "\n".join(e["url"] for e in verdict.evidence if e.get("kind") == "link" and e.get("url")),
    }
    for kind, field in EVIDENCE_FIELDS.items():
        initial[field] = [e["id"] for e in verdict.evidence if e.get("kind") == kind and "id" in e]
    return initial


def media_rating_initial(verdict: Verdict | None, media_item_ids: list[int]) -> list[dict]:
    """One starting row per file of the case, with the earlier version's judgement of it where there was one."""
    earlier = {r.media_item_id: r for r in verdict.media_ratings.all()} if verdict else {}
    rows = []
    for pk in media_item_ids:
        row = {"media_item_id": pk}
        if pk in earlier:
            rating = earlier[pk]
            row |= {
                "category": rating.category,
                "original_context": rating.original_context,
                "original_link": rating.original_link,
            }
        rows.append(row)
    return rows
