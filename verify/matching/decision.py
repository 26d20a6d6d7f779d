"""From hash candidates to matches: which archived pictures a new picture is a copy of.

A lookup finds, for each archived item, the closest pair between the new picture's variants and the
item's stored regions (workers/extractors/regions.py). An item within MATCH_ACCEPT_DISTANCE bits is a
match on its hash alone. Of the items within MATCH_CANDIDATE_DISTANCE, the MATCH_MAX_CANDIDATES
closest are checked by their keypoints (workers/extractors/keypoints.py): at least MATCH_MIN_INLIERS
keypoints must land where one homography puts them. The thresholds come from the curve
bench/matching_curve.py measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from verify.matching.index import LayeredIndex, MultiIndex
from workers.extractors import keypoints


@dataclass(frozen=True)
class Thresholds:
    accept_distance: int
    candidate_distance: int
    max_candidates: int
    min_inliers: int

    @classmethod
    def from_settings(cls) -> Thresholds:
        from django.conf import settings

        return cls(
            accept_distance=settings.MATCH_ACCEPT_DISTANCE,
            candidate_distance=settings.MATCH_CANDIDATE_DISTANCE,
            max_candidates=settings.MATCH_MAX_CANDIDATES,
            min_inliers=settings.MATCH_MIN_INLIERS,
        )


@dataclass(frozen=True)
class Candidate:
    """An archived item near the new picture: its closest pair of hashes and which variant and region they are."""

    owner: int
    distance: int
    query: int  # position of the new picture's variant in the query
    region: int  # the stored region's code


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    matched: bool
    inliers: int | None  # None when the hash alone decided
    reason: str


def candidates(
    index: MultiIndex | LayeredIndex, query: np.ndarray, max_distance: int, *, exclude: set[int] = frozenset()
) -> list[Candidate]:
    """Each item with a stored hash within `max_distance` of one of `query`, by its closest pair, closest first."""
    hits = index.search(query, max_distance)
    best: dict[int, Candidate] = {}
    found = zip(
        hits.owners.tolist(), hits.queries.tolist(), hits.distances.tolist(), hits.regions.tolist(), strict=True
    )
    for owner, position, distance, region in found:
        if owner in exclude:
            continue
        if owner not in best or distance < best[owner].distance:
            best[owner] = Candidate(owner, distance, position, region)
    return sorted(best.values(), key=lambda c: (c.distance, c.owner))


def decide(
    found: list[Candidate],
    thresholds: Thresholds,
    query_picture: Callable[[Candidate], Image.Image | None],
    stored_picture: Callable[[Candidate], Image.Image | None],
) -> list[Decision]:
    """Which candidates are matches: close enough on the hash, or confirmed by their keypoints."""
    decisions = []
    checked = 0
    for candidate in found:
        if candidate.distance <= thresholds.accept_distance:
            reason = f"hashes differ in {candidate.distance} of 64 bits"
            decisions.append(Decision(candidate, True, None, reason))
            continue
        if candidate.distance > thresholds.candidate_distance or checked >= thresholds.max_candidates:
            break
        checked += 1
        mine, theirs = query_picture(candidate), stored_picture(candidate)
        if mine is None or theirs is None:
            decisions.append(Decision(candidate, False, None, "a picture to compare keypoints with is missing"))
            continue
        count = keypoints.inliers(mine, theirs)
        matched = count >= thresholds.min_inliers
        reason = f"hashes differ in {candidate.distance} of 64 bits; {count} keypoints agree on one homography"
        decisions.append(Decision(candidate, matched, count, reason))
    return decisions
