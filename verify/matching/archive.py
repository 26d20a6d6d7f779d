"""The archive's photos as the matching sees them: every usable region hash of every photo in one
multi-index table per process, and the lookup that confirms its candidates by their keypoints.

The table is a multi-index of the rows up to some id and a scan of the rows stored since (_RegionArchive).
docs/matching.md says how it is shared when many worker hosts look up at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from django.db.models import Count, Max, Q, QuerySet
from PIL import Image

from verify.matching.decision import Candidate, Decision, Thresholds, candidates, decide
from verify.matching.index import LayeredIndex, MultiIndex, ScannedRows
from verify.models import MediaHash, MediaItem
from workers.extractors import perceptual
from workers.extractors.borders import trim_borders
from workers.extractors.imaging import DECODE_ERRORS, to_rgb

log = logging.getLogger(__name__)

UNSIGNED = (1 << 64) - 1
# Rows stored since the table's MultiIndex was built are scanned one by one at each lookup: this many add about
# 1.2 ms to a photo's lookup (bench/matching_scale.py); past it the MultiIndex is built again with them.
RECENT_ROWS = 20_000
THUMBNAIL = "thumb.jpg"


class _RegionArchive:
    """This process's table: a MultiIndex of the rows up to the newest id it was built at, and the rows stored
    since, read at each lookup and scanned. The MultiIndex is built again only when rows it holds were removed
    (an item deleted or re-hashed), or when the rows since outnumber RECENT_ROWS: a new photo costs its own
    rows, not a rebuild of every photo's (1.5 to 2.5 s per million hashes)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.index = MultiIndex.empty()
        self._built = (0, 0)  # the rows the MultiIndex holds, and the newest id among them
        self.recent = ScannedRows.empty()
        self._recent_state: tuple | None = None

    def current(self) -> LayeredIndex:
        rows = MediaHash.objects.filter(usable=True, media_item__kind=MediaItem.Kind.PHOTO)
        with self._lock:
            held, top = self._built
            state = rows.aggregate(held=Count("pk", filter=Q(pk__lte=top)), n=Count("pk"), newest=Max("pk"))
            # Rows are only ever added or deleted (an item's are replaced by deleting them and adding new ones), so
            # the rows up to the MultiIndex's newest id still number what it holds unless some of them are gone.
            if state["held"] != held or state["n"] - held > RECENT_ROWS:
                ids, *columns = _columns(rows)
                self.index = MultiIndex(*columns)
                self._built = (len(ids), int(ids.max(initial=0)))
                self.recent, self._recent_state = ScannedRows.empty(), None
            elif (state["n"], state["newest"]) != self._recent_state:
                self.recent = ScannedRows(*_columns(rows.filter(pk__gt=top))[1:])
                self._recent_state = (state["n"], state["newest"])
            return LayeredIndex(self.index, self.recent)


def _columns(rows: QuerySet[MediaHash]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ids, hashes (unsigned), items and region codes of these MediaHash rows, read in one query."""
    fields = ("pk", "media_item_id", "region", "value")
    table = np.array(list(rows.values_list(*fields)), dtype=np.int64).reshape(-1, len(fields))
    return table[:, 0], table[:, 3].view(np.uint64), table[:, 1], table[:, 2]


_archive = _RegionArchive()


def table() -> LayeredIndex:
    """This process's table of the archive's photo hashes, up to date with the database."""
    return _archive.current()


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
    found = candidates(table(), query, thresholds.candidate_distance, exclude=exclude)
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
