"""The archive's photos as the matching sees them: every usable region hash of every photo in one
multi-index table per process, and the lookup that confirms its candidates by their keypoints.

The table is rebuilt when the photos' hashes change (their count or newest id, or an item rewritten in
this process). docs/matching.md says how it is shared when many worker hosts look up at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from django.db.models import Count, Max
from PIL import Image

from verify.matching.decision import Candidate, Decision, Thresholds, candidates, decide
from verify.matching.index import MultiIndex
from verify.models import MediaHash, MediaItem
from workers.extractors import perceptual
from workers.extractors.borders import trim_borders
from workers.extractors.imaging import DECODE_ERRORS, to_rgb

log = logging.getLogger(__name__)

UNSIGNED = (1 << 64) - 1
THUMBNAIL = "thumb.jpg"


class _RegionArchive:
    def __init__(self):
        self._lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.index = MultiIndex(np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int16))
        self._state: tuple | None = None
        self._touched = False

    def touch(self) -> None:
        with self._lock:
            self._touched = True

    def current(self) -> MultiIndex:
        rows = MediaHash.objects.filter(usable=True, media_item__kind=MediaItem.Kind.PHOTO)
        with self._lock:
            state = tuple(rows.aggregate(n=Count("pk"), top=Max("pk")).values())
            if state != self._state or self._touched:
                table = np.array(list(rows.values_list("media_item_id", "region", "value")), dtype=np.int64)
                table = table.reshape(-1, 3)
                self.index = MultiIndex(table[:, 2].view(np.uint64), table[:, 0], table[:, 1])
                self._state, self._touched = state, False
            return self.index


_archive = _RegionArchive()


def touch() -> None:
    """Rebuild the table at the next lookup (a photo's hashes were just rewritten in this process)."""
    _archive.touch()


def forget() -> None:
    with _archive._lock:
        _archive.forget()


def find_copies(
    values: Sequence[int],
    variant_picture: Callable[[int], Image.Image | None],
    *,
    exclude: set[int] = frozenset(),
    thresholds: Thresholds | None = None,
) -> list[Decision]:
    """The archived photos that a picture looked up by `values` (signed or unsigned 64-bit hashes of its
    variants) is a copy of, closest first; `variant_picture(n)` is the picture of the n-th variant."""
    thresholds = thresholds or Thresholds.from_settings()
    query = np.array([value & UNSIGNED for value in values], dtype=np.uint64)
    if not len(query):
        return []
    found = candidates(_archive.current(), query, thresholds.candidate_distance, exclude=exclude)
    pictures = _StoredPictures()
    decisions = decide(found, thresholds, lambda c: variant_picture(c.query), pictures.of)
    return [d for d in decisions if d.matched]


class _StoredPictures:
    """An archived photo's thumbnail inside its borders, as its regions were hashed from it."""

    def __init__(self):
        from verify.pipeline import artifacts_dir  # the pipeline imports the similarity module, which imports this

        self._folder = lambda item: artifacts_dir(item, perceptual.NAME)

    def of(self, candidate: Candidate) -> Image.Image | None:
        item = MediaItem.objects.filter(pk=candidate.owner).first()
        if item is None:
            return None
        picture = open_picture(self._folder(item) / THUMBNAIL)
        return None if picture is None else trim_borders(picture) or picture


def open_picture(path: Path) -> Image.Image | None:
    """A stored thumbnail or keyframe as RGB; None (and a warning) when it is missing or unreadable."""
    try:
        with Image.open(path) as image:
            rgb = to_rgb(image)
            rgb.load()
            return rgb
    except (*DECODE_ERRORS, Image.DecompressionBombError) as exc:
        log.warning("Could not reopen the stored picture %s: %s", path, exc)
        return None
