"""An archive of originals held as the desk holds photos, for the matching tests."""

import numpy as np
from PIL import Image

from verify.matching.decision import Thresholds, candidates, decide
from verify.matching.index import MultiIndex
from workers.extractors import regions
from workers.extractors.borders import trim_borders


def thumbnail(picture: Image.Image) -> Image.Image:
    small = picture.copy()
    small.thumbnail((640, 640), Image.Resampling.LANCZOS)
    return small


class Archive:
    """Originals stored as the desk stores a photo: its thumbnail's region hashes in a multi-index table."""

    def __init__(self, pictures: list[Image.Image]):
        self.stored = [thumbnail(p) for p in pictures]
        values, owners, codes = [], [], []
        for owner, picture in enumerate(self.stored):
            for code, region in enumerate(regions.hash_regions(regions.stored_regions(picture))):
                values.append(region.value)
                owners.append(owner)
                codes.append(code)
        self.index = MultiIndex(np.array(values, dtype=np.uint64), np.array(owners), np.array(codes))
        self.thresholds = Thresholds.from_settings()

    def matches(self, picture: Image.Image) -> set[int]:
        variants = regions.query_variants(thumbnail(picture))
        hashed = [(regions.phash(p), p) for _, p in variants]
        hashed = [(value, p) for value, p in hashed if value is not None]
        query = np.array([value for value, _ in hashed], dtype=np.uint64)
        found = candidates(self.index, query, self.thresholds.candidate_distance)
        stored = self.stored

        def stored_picture(candidate):
            return trim_borders(stored[candidate.owner]) or stored[candidate.owner]

        decisions = decide(found, self.thresholds, lambda c: hashed[c.query][1], stored_picture)
        return {d.candidate.owner for d in decisions if d.matched}
