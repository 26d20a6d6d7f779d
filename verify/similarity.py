"""Near-duplicate search across the archive: every usable perceptual hash in one in-memory index, the
"seen before" flags that link a new file to the earlier items it matches, and the search by file.

Hashes are the 64-bit pHashes of workers/extractors/perceptual.py, stored as MediaHash rows. Two
pictures match when their hashes differ in at most settings.SIMILARITY_MAX_DISTANCE of the 64 bits;
the thresholds come from the curve bench/similarity_curve.py measures. A picture inside flat borders
(a screenshot, a letterboxed frame) is hashed without them, and a photo is also looked up turned by
90, 180 and 270 degrees, both for the "seen before" flags and for the search by file.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, takewhile
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Prefetch
from django.utils import dateformat, timezone
from PIL import Image

from verify.matching import archive as matching_archive
from verify.models import Case, CaseMedia, Extraction, Flag, MediaHash, MediaItem, Sighting, Verdict
from workers.extractors import perceptual, regions
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.borders import trim_borders
from workers.filetype import SNIFF_BYTES, sniff

log = logging.getLogger(__name__)

UNFINISHED = (Extraction.Status.PENDING, Extraction.Status.RUNNING)
SEEN_BEFORE = "seen-before"
SAME_FILE = "same-file"
# The flags that tie a file to earlier cases; the case page shows them first.
ARCHIVE_KINDS = (SAME_FILE, SEEN_BEFORE)
HASH_BITS = 64
AS_IS = "as is"
TURNS = (
    (Image.Transpose.ROTATE_90, "turned 90°"),
    (Image.Transpose.ROTATE_180, "turned 180°"),
    (Image.Transpose.ROTATE_270, "turned 270°"),
)
# How many of the most recent MediaHash ids the index re-counts on each lookup; a transaction that
# commits later than one with higher ids (ids are handed out before commit) is found within this.
RECENT_ROWS = 1000
MAX_FLAGS_PER_ITEM = 10
NEAREST_SHOWN = 5
_ROW = ("pk", "media_item_id", "frame", "value", "usable")


# Hash values


def hex_to_signed(hex_hash: str) -> int:
    """A 16-digit hex hash as the signed 64-bit integer the database stores."""
    value = int(hex_hash, 16)
    if not 0 <= value < 1 << HASH_BITS:
        raise ValueError(f"{hex_hash!r} is not a 64-bit hash")
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def signed_to_hex(value: int) -> str:
    return f"{value & ((1 << HASH_BITS) - 1):016x}"


def as_unsigned(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).view(np.uint64)


@dataclass(frozen=True)
class QueryHash:
    """One hash to look up: of a frame (0 for a photo), as is or changed the way `variant` says."""

    value: int
    frame: int
    variant: str = AS_IS


# Stored hashes


@dataclass(frozen=True)
class PictureHash:
    """The hash the index keeps for one picture of a reading (a photo's thumbnail, or a keyframe)."""

    frame: int
    time: float | None
    value: int  # signed, as MediaHash.value
    usable: bool
    trimmed: bool  # hashed inside its flat borders rather than whole


def store_hashes(item: MediaItem) -> list[MediaHash]:
    """Replace the item's stored hashes with those of its finished perceptual reading; none if it has none.

    A near-uniform picture's hash is kept with usable=False: it would match unrelated images.
    """
    from verify.pipeline import artifacts_dir  # the pipeline imports this module

    extraction = item.extractions.filter(extractor=perceptual.NAME, status=Extraction.Status.OK).first()
    pictures = hashed_pictures(extraction.result, artifacts_dir(item, perceptual.NAME)) if extraction else []
    rows = [MediaHash(media_item=item, frame=p.frame, time=p.time, value=p.value, usable=p.usable) for p in pictures]
    if pictures and pictures[0].usable and extraction is not None:
        rows += [
            MediaHash(media_item=item, frame=0, region=number, value=value)
            for number, value in enumerate(region_values(extraction.result)[1:], start=1)
        ]
    with transaction.atomic():
        MediaHash.objects.filter(media_item=item).delete()
        MediaHash.objects.bulk_create(rows)
    _archive.touch(item.pk)  # the matching archive sees the change by itself (verify/matching/archive.py)
    return rows


def region_values(reading: dict) -> list[int]:
    """The signed hashes of a photo reading's stored regions, the whole picture first (none before version 3)."""
    return [hex_to_signed(region["hash"]) for region in reading.get("regions", [])]


def hashed_pictures(reading: dict, folder: Path) -> list[PictureHash]:
    """The hash of each picture of a perceptual reading whose artifacts are in `folder`, as the index keeps it.

    That is the extractor's hash, except for a picture inside flat bars and margins (a screenshot, a
    letterboxed frame): then the hash of what is inside them, re-hashed from the thumbnail or keyframe.
    Whole, two screenshots of different photos share the phone's bars and come out near each other
    (bench/similarity_curve.py); trimmed, a screenshot matches its photo whichever reached the desk first.
    """
    if reading.get("algorithm") != perceptual.ALGORITHM:
        return []
    names = _picture_names(reading)
    pictures = []
    for frame, time, hex_hash, quality in _readings(reading):
        if not hex_hash:
            continue
        usable = quality == "ok"
        inside = _hash_inside_borders(folder / names[frame]) if usable and frame in names else None
        value = inside if inside is not None else hex_to_signed(hex_hash)
        pictures.append(PictureHash(frame, time, value, usable, trimmed=inside is not None))
    return pictures


def _readings(reading: dict) -> list[tuple[int, float | None, str | None, str | None]]:
    """(frame, time, hex hash, quality) of each picture a perceptual reading hashed."""
    if "keyframes" in reading:
        return [(n, k.get("time"), k.get("hash"), k.get("quality")) for n, k in enumerate(reading["keyframes"])]
    return [(0, None, reading.get("hash"), reading.get("quality"))]


def _picture_names(reading: dict) -> dict[int, str]:
    """The artifact file of each frame: a video's keyframes, or a photo's thumbnail."""
    if "keyframes" in reading:
        return {n: k["file"] for n, k in enumerate(reading["keyframes"]) if k.get("file")}
    return {0: "thumb.jpg"} if "thumb.jpg" in reading.get("artifacts", []) else {}


def _hash_of(picture: Image.Image) -> int | None:
    """The signed pHash of a picture, None when it is near-uniform (perceptual's own rule)."""
    hashed = perceptual._hash(picture)
    return hex_to_signed(hashed["hash"]) if hashed["quality"] == "ok" else None


def _hash_inside_borders(path: Path) -> int | None:
    picture = matching_archive.open_picture(path)
    inside = trim_borders(picture) if picture is not None else None
    return _hash_of(inside) if inside is not None else None


def reading_query(reading: dict, folder: Path, *, turns: bool) -> list[QueryHash]:
    """What a perceptual reading (artifacts in `folder`) is looked up by: its hashes as the index keeps
    them and, with `turns`, a photo turned by 90, 180 and 270 degrees."""
    query = [QueryHash(p.value, p.frame) for p in hashed_pictures(reading, folder) if p.usable]
    if turns and query:
        query += variant_query(reading, seen={q.value for q in query}) or turned_query(
            reading, folder, seen={q.value for q in query}
        )
    return query


def variant_query(reading: dict, *, seen: set[int]) -> list[QueryHash]:
    """A photo reading's variants (version 3 on) other than the picture as it is: turned, mirrored, trimmed
    of a caption band or border, cut to a quarter or its middle band; the hashes not in `seen`."""
    query = []
    for variant in reading.get("variants", []):
        value = hex_to_signed(variant["hash"])
        if variant["label"] != AS_IS and value not in seen:
            seen.add(value)
            query.append(QueryHash(value, 0, variant["label"]))
    return query


def turned_query(reading: dict, folder: Path, *, seen: set[int]) -> list[QueryHash]:
    """A photo's picture (inside its borders) turned by 90, 180 and 270 degrees, the hashes not in
    `seen`; none for a video, whose keyframes are never sideways to each other."""
    names = _picture_names(reading)
    if "keyframes" in reading or 0 not in names:
        return []
    picture = matching_archive.open_picture(folder / names[0])
    if picture is None:
        return []
    picture = trim_borders(picture) or picture
    query = []
    for turn, label in TURNS:
        value = _hash_of(picture.transpose(turn))
        if value is not None and value not in seen:
            seen.add(value)
            query.append(QueryHash(value, 0, label))
    return query


def matching_note(reading: dict) -> str | None:
    """For the reviewer: which of a perceptual reading's pictures are left out of near-duplicate matching, and why."""
    pictures = _readings(reading)
    unusable = [frame for frame, _, hex_hash, quality in pictures if hex_hash and quality != "ok"]
    if not unusable:
        return None
    if "keyframes" not in reading:
        reason = reading.get("low_quality_reason") or "The picture's hash is not usable"
        return f"{reason}; it is not used to find near-duplicates."
    if len(unusable) == len(pictures):
        return f"Every keyframe ({len(pictures)}) is almost a single colour; none is used to find near-duplicates."
    return (
        f"{len(unusable)} of {len(pictures)} keyframes are almost a single colour and are not used to find "
        "near-duplicates."
    )


# The index


@dataclass(frozen=True)
class Match:
    """One archived item near the query: its closest pair, and which query and stored frames matched."""

    media_item_id: int
    distance: int
    best_query: int  # position in the query of the closest pair's hash
    query_positions: tuple[int, ...]  # positions in the query within the distance
    stored_frames: tuple[int, ...]  # the item's frames within the distance
    within: bool = True  # False for the nearest items beyond the distance


class HashIndex:
    """Usable hashes as numpy arrays, searched exhaustively with XOR and a popcount (np.bitwise_count).

    Exhaustive search is exact for any distance, and at a million hashes a pass costs about a
    millisecond (bench/similarity_scale.py), so no approximate structure is needed.
    """

    def __init__(self, values: np.ndarray, media_ids: np.ndarray, frames: np.ndarray):
        self.values = np.ascontiguousarray(values, dtype=np.uint64)
        self.media_ids = np.ascontiguousarray(media_ids, dtype=np.int64)
        self.frames = np.ascontiguousarray(frames, dtype=np.int16)

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> HashIndex:
        """From an (n, 5) int64 array of MediaHash (pk, media_item_id, frame, value, usable) rows."""
        usable = rows[:, 4].astype(bool)
        return cls(rows[usable, 3].view(np.uint64), rows[usable, 1], rows[usable, 2])

    def __len__(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.media_ids.nbytes + self.frames.nbytes

    def replacing(self, media_ids: Iterable[int], rows: np.ndarray) -> HashIndex:
        """This index with the hashes of `media_ids` replaced by the usable ones among `rows`."""
        keep = ~np.isin(self.media_ids, np.fromiter(media_ids, dtype=np.int64))
        new = HashIndex.from_rows(rows)
        return HashIndex(
            np.concatenate([self.values[keep], new.values]),
            np.concatenate([self.media_ids[keep], new.media_ids]),
            np.concatenate([self.frames[keep], new.frames]),
        )

    def search(
        self, hashes: Sequence[int], max_distance: int, *, exclude: Iterable[int] = (), nearest: int = 0
    ) -> list[Match]:
        """Every item with a hash within `max_distance` bits of one of `hashes`, closest first; with
        `nearest`, also up to that many of the closest items beyond it (within=False)."""
        excluded = set(exclude)
        if not len(hashes) or not len(self):
            return []
        queries = as_unsigned(hashes)
        best = np.full(len(self), HASH_BITS, dtype=np.uint8)
        scratch = np.empty(len(self), dtype=np.uint64)
        counts = np.empty(len(self), dtype=np.uint8)
        for query in queries:
            np.bitwise_xor(self.values, query, out=scratch)
            np.bitwise_count(scratch, out=counts)
            np.minimum(best, counts, out=best)
        rows = np.flatnonzero(best <= max_distance)
        if nearest:
            # Enough rows for `nearest` items even if each is a video with all its keyframes here.
            spare = min(len(self), (nearest + len(excluded)) * perceptual.MAX_KEYFRAMES)
            beyond = np.where(best > max_distance, best, HASH_BITS + 1)
            closest = np.argpartition(beyond, spare - 1)[:spare]
            rows = np.union1d(rows, closest[beyond[closest] <= HASH_BITS])
        return self._group(rows, queries, max_distance, excluded, nearest)

    def _group(self, rows, queries, max_distance, excluded, nearest) -> list[Match]:
        distances = np.bitwise_count(self.values[rows, None] ^ queries[None, :])
        pairs = defaultdict(list)
        for media_id, frame, row_distances in zip(
            self.media_ids[rows].tolist(), self.frames[rows].tolist(), distances, strict=True
        ):
            if media_id not in excluded:
                pairs[media_id].append((frame, row_distances))
        matches = []
        for media_id, frames in pairs.items():
            table = np.array([d for _, d in frames])
            stored, query = np.unravel_index(int(np.argmin(table)), table.shape)
            distance = int(table[stored, query])
            near = table <= max_distance
            matches.append(
                Match(
                    media_item_id=media_id,
                    distance=distance,
                    best_query=int(query),
                    query_positions=tuple(int(p) for p in np.flatnonzero(near.any(axis=0))),
                    stored_frames=tuple(sorted(f for (f, _), hit in zip(frames, near.any(axis=1), strict=True) if hit)),
                    within=distance <= max_distance,
                )
            )
        matches.sort(key=lambda m: (m.distance, -len(m.query_positions), m.media_item_id))
        within = [m for m in matches if m.within]
        return within + [m for m in matches if not m.within][:nearest]


class _ArchiveIndex:
    """This process's index of the MediaHash table, brought up to date before each lookup.

    The first lookup loads every row in one query. After that a lookup counts the most recent
    RECENT_ROWS ids (an indexed range, cheap at any table size); when they differ from what was
    loaded, it reads them, and reloads every hash of the items whose rows changed. A full count
    would scan the table on every lookup, and a full reload takes seconds at a million rows.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.index = HashIndex([], [], [])
        self._recent: dict[int, tuple] = {}
        self._top = 0
        self._loaded = False
        self._touched: set[int] = set()

    def touch(self, media_item_id: int) -> None:
        """Reload this item's hashes at the next lookup (it has just been rewritten in this process)."""
        with self._lock:
            self._touched.add(media_item_id)

    def current(self) -> HashIndex:
        with self._lock:
            if not self._loaded:
                self._load_all()
            else:
                self._catch_up()
            return self.index

    def _load_all(self) -> None:
        rows = MediaHash.objects.filter(region=0).order_by("pk").values_list(*_ROW)
        table = _as_table(rows.iterator(chunk_size=20_000))
        self.index = HashIndex.from_rows(table)
        self._remember(table[-RECENT_ROWS:])
        self._touched.clear()
        self._loaded = True

    def _catch_up(self) -> None:
        floor = max(self._top - RECENT_ROWS, 0)
        whole = MediaHash.objects.filter(region=0)
        state = whole.filter(pk__gt=floor).aggregate(n=Count("pk"), top=Max("pk"))
        recent = {pk: row for pk, row in self._recent.items() if pk > floor}
        if (state["n"], state["top"] or 0) == (len(recent), self._top) and not self._touched:
            return
        rows = {row[0]: row for row in whole.filter(pk__gt=floor).values_list(*_ROW)}
        changed = {row[1] for pk, row in rows.items() if recent.get(pk) != row}
        changed |= {row[1] for pk, row in recent.items() if rows.get(pk) != row}
        changed |= self._touched
        fresh = _as_table(whole.filter(media_item_id__in=changed).values_list(*_ROW))
        self.index = self.index.replacing(changed, fresh)
        self._remember(_as_table(sorted(rows.values())))
        self._touched.clear()

    def _remember(self, table: np.ndarray) -> None:
        rows = [tuple(row) for row in table.tolist()]
        self._top = rows[-1][0] if rows else 0
        self._recent = {row[0]: (*row[:4], bool(row[4])) for row in rows}


def _as_table(rows: Iterable[tuple]) -> np.ndarray:
    return np.fromiter(chain.from_iterable(rows), dtype=np.int64).reshape(-1, len(_ROW))


_archive = _ArchiveIndex()


def current_index() -> HashIndex:
    return _archive.current()


def forget_index() -> None:
    """Drop this process's index; the next lookup loads it again (tests, after the table is rebuilt)."""
    with _archive._lock:
        _archive.forget()


def lookup(
    hashes: Sequence[int], max_distance: int, exclude_item: MediaItem | None = None, *, nearest: int = 0
) -> list[Match]:
    """The archived items with a usable hash within `max_distance` bits of one of `hashes` (signed
    64-bit values, as MediaHash stores them), closest first."""
    exclude = [exclude_item.pk] if exclude_item is not None else []
    return current_index().search(hashes, max_distance, exclude=exclude, nearest=nearest)


# Matches as the desk shows them


@dataclass
class ArchiveMatch:
    """An archived item near a file, with what a reviewer needs to weigh it."""

    item: MediaItem
    distance: int
    within: bool
    variant: str  # how the query picture was changed for the closest pair
    frames_matched: int  # frames of the query with a hash within the distance of one of the item's
    frames_total: int  # frames of the query with a usable hash
    item_frames: int  # the item's usable hashes
    cases: list[Case]  # in the order the item was added to them, verdicts prefetched newest first
    first_collected_at: object
    earliest_sighting: Sighting | None
    preview: str | None  # the name of its thumbnail or first keyframe among its perceptual artifacts

    @property
    def first_case(self) -> Case | None:
        return self.cases[0] if self.cases else None

    @property
    def frames_text(self) -> str:
        if self.frames_total <= 1 and self.item_frames <= 1:
            return ""
        return f"{self.frames_matched} of {self.frames_total} keyframes"


def item_query(item: MediaItem) -> list[QueryHash]:
    """What a stored item is looked up by: its usable stored hashes and, for a photo, its picture turned."""
    from verify.pipeline import artifacts_dir  # the pipeline imports this module

    query = [
        QueryHash(value, frame)
        for frame, value in item.hashes.filter(usable=True, region=0).values_list("frame", "value")
    ]
    if not query or item.kind != MediaItem.Kind.PHOTO:
        return query
    extraction = item.extractions.filter(extractor=perceptual.NAME, status=Extraction.Status.OK).first()
    if extraction is None:
        return query
    folder = artifacts_dir(item, perceptual.NAME)
    seen = {q.value for q in query}
    return query + (variant_query(extraction.result, seen=seen) or turned_query(extraction.result, folder, seen=seen))


def describe(matches: list[Match], query: list[QueryHash]) -> list[ArchiveMatch]:
    """The matched items with their cases, verdicts and sightings, in a fixed number of queries.

    Items deleted since the index was loaded are left out; an item that matches on fewer frames than
    SIMILARITY_MIN_FRAMES (or than either side has) is kept as not a match.
    """
    ids = [m.media_item_id for m in matches]
    items = MediaItem.objects.in_bulk(ids)
    usable = dict(
        MediaHash.objects.filter(media_item_id__in=ids, usable=True, region=0)
        .values("media_item_id")
        .annotate(n=Count("pk"))
        .values_list("media_item_id", "n")
    )
    readings = dict(
        Extraction.objects.filter(
            media_item_id__in=ids, extractor=perceptual.NAME, status=Extraction.Status.OK
        ).values_list("media_item_id", "result")
    )
    links = list(
        CaseMedia.objects.filter(media_item_id__in=ids)
        .select_related("case")
        .prefetch_related(Prefetch("case__verdicts", queryset=Verdict.objects.order_by("-number")))
        .order_by("added_at", "pk")
    )
    cases = defaultdict(list)
    for link in links:
        cases[link.media_item_id].append(link.case)
    # A file's earliest sighting is one of its own: a case's other files or its claim were seen elsewhere.
    sightings = list(Sighting.objects.filter(media_item_id__in=ids, role=Sighting.Role.APPEARANCE))
    frames_total = len({q.frame for q in query})
    described = []
    for match in matches:
        item = items.get(match.media_item_id)
        if item is None or not usable.get(item.pk):
            continue
        frames_matched = len({query[p].frame for p in match.query_positions})
        needed = min(settings.SIMILARITY_MIN_FRAMES, frames_total, usable[item.pk])
        item_cases = cases[item.pk]
        described.append(
            ArchiveMatch(
                item=item,
                distance=match.distance,
                within=match.within and frames_matched >= needed,
                variant=query[match.best_query].variant,
                frames_matched=frames_matched,
                frames_total=frames_total,
                item_frames=usable[item.pk],
                cases=item_cases,
                first_collected_at=next((link.added_at for link in links if link.media_item_id == item.pk), None)
                or item.collected_at,
                earliest_sighting=next((s for s in sightings if s.media_item_id == item.pk), None),
                preview=next(iter(_picture_names(readings.get(item.pk) or {}).values()), None),
            )
        )
    return described


# Seen before


def index_media_item(item: MediaItem) -> list[Flag]:
    """After the item's perceptual reading: store its hashes and (re)write its seen-before flags."""
    store_hashes(item)
    return record_seen_before_flags(item)


def update_seen_before(item: MediaItem, *, reread: bool) -> list[Flag]:
    """The pipeline's step after an outcome: index the item once its perceptual reading has finished
    (again when `reread`, or when a crash came between the reading and its hashes), then rewrite its
    seen-before flags in every case it is in. Nothing happens while the reading is unfinished."""
    if item.extractions.filter(extractor=perceptual.NAME, status__in=UNFINISHED).exists():
        return []
    if reread or not item.hashes.exists():
        store_hashes(item)
    return record_seen_before_flags(item)


def seen_before(item: MediaItem) -> list[ArchiveMatch]:
    """The items collected before `item` (lower id) that it is a near-duplicate of, closest first."""
    return [m for m in _matches_of(item) if m.item.pk < item.pk]


def _matches_of(item: MediaItem) -> list[ArchiveMatch]:
    from verify.pipeline import artifacts_dir  # the pipeline imports this module

    query = item_query(item)
    found = lookup(_whole_values(query), settings.SIMILARITY_MAX_DISTANCE, exclude_item=item)
    if item.kind == MediaItem.Kind.PHOTO:
        found = with_copies(found, query, artifacts_dir(item, perceptual.NAME) / "thumb.jpg", exclude={item.pk})
    return [m for m in describe(found, query) if m.within]


# The variants a whole-picture lookup uses: a photo as it is and turned. The others (a quarter, a band)
# match only through verify/matching/, whose keypoint check keeps unrelated pictures out.
WHOLE_VARIANTS = frozenset({AS_IS, *(label for _, label in TURNS)})


def _whole_values(query: list[QueryHash]) -> list[int]:
    """The hashes of the query's whole-picture variants, which come first in it (so positions hold)."""
    return [q.value for q in takewhile(lambda q: q.variant in WHOLE_VARIANTS, query)]


def with_copies(found: list[Match], query: list[QueryHash], thumbnail: Path, *, exclude: set[int]) -> list[Match]:
    """`found` with the archived photos verify/matching/ finds the query picture (its thumbnail) a copy of."""
    pictures: dict[str, Image.Image] | None = None

    def variant_picture(position: int) -> Image.Image | None:
        nonlocal pictures
        if pictures is None:
            picture = matching_archive.open_picture(thumbnail)
            pictures = dict(regions.query_variants(picture)) if picture is not None else {}
        return pictures.get(query[position].variant)

    known = {m.media_item_id: m for m in found}
    for decision in matching_archive.find_copies([q.value for q in query], variant_picture, exclude=exclude):
        candidate = decision.candidate
        if candidate.owner in known and known[candidate.owner].within:
            continue
        known[candidate.owner] = Match(
            media_item_id=candidate.owner,
            distance=candidate.distance,
            best_query=candidate.query,
            query_positions=(candidate.query,),
            stored_frames=(0,),
        )
    return sorted(known.values(), key=lambda m: (not m.within, m.distance, m.media_item_id))


def record_seen_before_flags(item: MediaItem) -> list[Flag]:
    """Rewrite the item's seen-before flags in each of its cases; other kinds of flag are left alone.

    A later item that matches this one is rewritten too: its reading may have finished first.
    """
    matches = _matches_of(item)
    flags = _write_flags(item, [m for m in matches if m.item.pk < item.pk])
    for later in (m.item for m in matches if m.item.pk > item.pk):
        _write_flags(later, seen_before(later))
    return flags


def replace_item_flags(item: MediaItem, kind: str, flags: Iterable[Flag]) -> list[Flag]:
    """Put `flags` in place of the item's flags of this kind (the ones that tie it to earlier items)."""
    with transaction.atomic():
        # Two workers may rewrite one item's flags at once; the row lock puts them one after the other.
        list(MediaItem.objects.select_for_update().filter(pk=item.pk).values_list("pk", flat=True))
        Flag.objects.filter(media_item=item, kind=kind).delete()
        return Flag.objects.bulk_create(flags)


def _write_flags(item: MediaItem, found: list[ArchiveMatch]) -> list[Flag]:
    shown = found[:MAX_FLAGS_PER_ITEM]
    return replace_item_flags(
        item,
        SEEN_BEFORE,
        [
            Flag(
                case=case,
                media_item=item,
                kind=SEEN_BEFORE,
                severity=_severity(match, case),
                message=seen_before_message(match, case),
                data=_flag_data(match, total=len(found)),
            )
            for case in item.cases.all()
            for match in shown
        ],
    )


def _severity(match: ArchiveMatch, case: Case) -> str:
    if all(other.pk == case.pk for other in match.cases) and match.cases:
        return Flag.Severity.INFO  # two versions of one file in the same case
    if match.distance <= settings.SIMILARITY_STRICT_DISTANCE:
        return Flag.Severity.HIGH
    return Flag.Severity.MEDIUM


def seen_before_message(match: ArchiveMatch, case: Case | None = None) -> str:
    """A sentence for the reviewer: what it matches, how closely, where and when it was first seen."""
    name = match.item.original_name or f"{match.item.get_kind_display().lower()} {match.item.sha256[:12]}"
    closeness = f"distance {match.distance} of {HASH_BITS}"
    if match.frames_text:
        closeness = f"{match.frames_text} match, closest distance {match.distance} of {HASH_BITS}"
    if match.variant != AS_IS:
        closeness += f", once this file's picture is {match.variant}"
    collected = f"first collected {_day(match.first_collected_at)}"
    first = match.first_case
    if first is not None:
        if case is not None and first.pk == case.pk:
            collected += " in this case"
        else:
            collected += f" for case #{first.pk} '{first.title}' ({case_standing(first)})"
    sighting = match.earliest_sighting
    if sighting is None:
        seen = "no sightings recorded"
    else:
        when = _day(sighting.posted_at) if sighting.posted_at else "date unknown"
        account = f" ({sighting.account})" if sighting.account else ""
        seen = f"earliest sighting: {sighting.get_platform_display()}{account}, {when}"
    return f"Near-duplicate of '{name}' ({closeness}), {collected}; {seen}."


def case_standing(case: Case) -> str:
    """The case's stage and latest verdict, as a flag cites them: "Published; verdict False, approved 3 Dec 2026"."""
    verdict = _latest_verdict(case)
    if verdict is None:
        return f"{case.get_stage_display()}; no verdict yet"
    if verdict.status == Verdict.Status.APPROVED and verdict.reviewed_at:
        when = f"approved {_day(verdict.reviewed_at)}"
    elif verdict.status == Verdict.Status.SENT_BACK:
        when = f"proposed {_day(verdict.proposed_at)}, sent back"
    else:
        when = f"proposed {_day(verdict.proposed_at)}, awaiting approval"
    return f"{case.get_stage_display()}; verdict {verdict.get_rating_display()}, {when}"


def _latest_verdict(case: Case) -> Verdict | None:
    # describe() prefetches verdicts newest first; elsewhere this is one query.
    return (
        next(iter(case.verdicts.all()), None)
        if _verdicts_prefetched(case)
        else case.verdicts.order_by("-number").first()
    )


def _verdicts_prefetched(case: Case) -> bool:
    return "verdicts" in getattr(case, "_prefetched_objects_cache", {})


def verdict_data(case: Case) -> dict | None:
    """The case's newest verdict as the archive flags cite it (number, rating, status and dates), or None."""
    verdict = _latest_verdict(case)
    if verdict is None:
        return None
    return {
        "number": verdict.number,
        "rating": verdict.rating,
        "status": verdict.status,
        "proposed_at": verdict.proposed_at,
        "reviewed_at": verdict.reviewed_at,
    }


def _day(moment) -> str:
    return dateformat.format(timezone.localtime(moment), "j M Y")


def _flag_data(match: ArchiveMatch, *, total: int) -> dict:
    sighting = match.earliest_sighting
    return {
        "earlier_media_item": match.item.pk,
        "earlier_sha256": match.item.sha256,
        "earlier_name": match.item.original_name,
        "distance": match.distance,
        "max_distance": settings.SIMILARITY_MAX_DISTANCE,
        "strict_distance": settings.SIMILARITY_STRICT_DISTANCE,
        "variant": match.variant,
        "frames_matched": match.frames_matched,
        "frames_total": match.frames_total,
        "earlier_cases": [case.pk for case in match.cases],
        "earlier_case_stage": match.first_case.stage if match.first_case else None,
        "earlier_verdict": verdict_data(match.first_case) if match.first_case else None,
        "first_collected_at": match.first_collected_at,
        "earliest_sighting": sighting.pk if sighting else None,
        "earliest_sighting_at": sighting.posted_at if sighting else None,
        "matches_total": total,
    }


# The same bytes in another case


def record_same_file_flags(item: MediaItem) -> list[Flag]:
    """Rewrite the item's same-file flags: in each case it was added to, one per case it was in before.

    The same bytes collected for an earlier case are the strongest "seen before" there is; the flag
    names that case, its stage and its verdict.
    """
    links = list(
        CaseMedia.objects.filter(media_item=item)
        .select_related("case")
        .prefetch_related(Prefetch("case__verdicts", queryset=Verdict.objects.order_by("-number")))
        .order_by("added_at", "pk")
    )
    with transaction.atomic():
        list(MediaItem.objects.select_for_update().filter(pk=item.pk).values_list("pk", flat=True))
        Flag.objects.filter(media_item=item, kind=SAME_FILE).delete()
        return Flag.objects.bulk_create(
            Flag(
                case=link.case,
                media_item=item,
                kind=SAME_FILE,
                severity=Flag.Severity.HIGH,
                message=same_file_message(item, earlier),
                data=_same_file_data(item, earlier),
            )
            for position, link in enumerate(links)
            for earlier in links[max(0, position - MAX_FLAGS_PER_ITEM) : position]
        )


def refresh_flags_citing(case_id: int) -> None:
    """Rewrite the same-file and seen-before flags in other cases that cite this case's stage and verdict."""
    item_ids = list(CaseMedia.objects.filter(case_id=case_id).values_list("media_item_id", flat=True))
    shared = (
        MediaItem.objects.filter(pk__in=item_ids).annotate(links=Count("case_links")).filter(links__gt=1).order_by("pk")
    )
    for item in shared:
        record_same_file_flags(item)
    citing = Flag.objects.filter(kind=SEEN_BEFORE, data__earlier_media_item__in=item_ids).values_list("media_item_id")
    for item in MediaItem.objects.filter(pk__in=citing).order_by("pk"):
        _write_flags(item, seen_before(item))


def same_file_message(item: MediaItem, earlier: CaseMedia) -> str:
    case = earlier.case
    return (
        f"The same file (SHA-256 {item.sha256[:12]}…) was already collected for case #{case.pk} "
        f"'{case.title}' on {_day(earlier.added_at)}: {case_standing(case)}."
    )


def _same_file_data(item: MediaItem, earlier: CaseMedia) -> dict:
    sighting = item.sightings.filter(role=Sighting.Role.APPEARANCE).first()
    return {
        "earlier_media_item": item.pk,
        "earlier_sha256": item.sha256,
        "earlier_cases": [earlier.case_id],
        "earlier_case_stage": earlier.case.stage,
        "earlier_verdict": verdict_data(earlier.case),
        "first_collected_at": earlier.added_at,
        "earliest_sighting": sighting.pk if sighting else None,
        "earliest_sighting_at": sighting.posted_at if sighting else None,
    }


# Search by file


class UnsearchableFile(Exception):
    """The file has no picture whose hash can be looked up; the message says why."""


@dataclass
class FileSearch:
    description: str  # what the file is, from its first bytes
    frames_total: int
    query: list[QueryHash]
    reading: dict  # the perceptual reading of the file
    matches: list[ArchiveMatch]  # within SIMILARITY_MAX_DISTANCE, closest first
    nearest: list[ArchiveMatch]  # the closest items beyond it, shown as not a match


MAX_RESULTS = 20


def search_file(path: Path, work_dir: Path) -> FileSearch:
    """Hash a file that is not in the archive (its artifacts go to `work_dir`) and find the archived
    items near it. Nothing is stored."""
    with path.open("rb") as file:
        filetype = sniff(file.read(SNIFF_BYTES))
    if filetype.kind not in perceptual.KINDS:
        raise UnsearchableFile(
            f"The file is {filetype.description}, not a photo or video, so it has no picture to compare."
        )
    try:
        reading = perceptual.extract(path, work_dir)
    except (Unsupported, ExtractionFailed) as exc:
        raise UnsearchableFile(f"No picture could be read from this {filetype.description}: {exc}") from exc
    query = reading_query(reading, work_dir, turns=True)
    if not query:
        raise UnsearchableFile(_unusable_reason(reading))
    found = lookup(_whole_values(query), settings.SIMILARITY_MAX_DISTANCE, nearest=NEAREST_SHOWN)
    if "keyframes" not in reading:
        found = with_copies(found, query, work_dir / "thumb.jpg", exclude=set())
    described = describe(found, query)
    return FileSearch(
        description=filetype.description,
        frames_total=len({q.frame for q in query}),
        query=query,
        reading=reading,
        matches=[m for m in described if m.within][:MAX_RESULTS],
        nearest=[m for m in described if not m.within][:NEAREST_SHOWN],
    )


def _unusable_reason(reading: dict) -> str:
    if "keyframes" in reading:
        return (
            f"Every keyframe of the video ({len(reading['keyframes'])}) is almost a single colour, so their hashes "
            "would match unrelated images; the archive was not searched."
        )
    reason = reading.get("low_quality_reason") or "The picture's hash is not usable"
    return f"{reason}; the archive was not searched."
