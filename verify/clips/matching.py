"""Placing a clip in archived videos: votes on the time offset, then the whole clip aligned at the best one.

Every usable sample of the clip (as is, and mirrored) is looked up among the archived samples;
each archived sample within VOTE_DISTANCE bits votes for an (archived video, offset) pair, the
offset being the archived sample's index minus the clip sample's. The most voted pairs are then
checked by laying the whole clip over the video at that offset (and up to REFINE_SAMPLES either
side): the clip is placed only where at least MIN_MATCHED_SHARE of its samples that overlap the
video are within MATCH_DISTANCE bits of the sample they fall on, so a few coincidental frames
never make a match. Pure numpy over arrays: no database, so the bench can run it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.extractors import video_timeline

# Distances between 64-bit pHashes. Unrelated pictures differ in about 32 bits; a re-encoded,
# resized, letterboxed or mirrored copy of a frame in a few (bench/video_clips.py measures them).
VOTE_DISTANCE = 10
MATCH_DISTANCE = 12
MIN_MATCHED_SHARE = 0.6
# The clip must overlap the video for at least this share of its usable samples...
MIN_OVERLAP_SHARE = 0.8
# ...and at least this many of them.
MIN_OVERLAP_SAMPLES = 16
# Every VOTE_STEP-th usable sample of the clip votes; all of them are checked.
VOTE_STEP = 2
CANDIDATES_CHECKED = 8
REFINE_SAMPLES = 2
# Query samples compared against the archive at once (memory: this many bytes per archived sample).
CHUNK = 64


@dataclass(frozen=True)
class Timeline:
    """One video's samples: its key (a media item id), hashes as is and mirrored, which are usable."""

    key: int
    hashes: np.ndarray
    mirrored: np.ndarray
    usable: np.ndarray

    @classmethod
    def from_reading(cls, key: int, result: dict, folder: Path) -> Timeline:
        """The timeline a video_timeline reading wrote into `folder`, with the samples it found unusable."""
        hashes, mirrored = video_timeline.read_timeline(folder / video_timeline.TIMELINE_FILE)
        usable = np.ones(len(hashes), dtype=bool)
        usable[result["unusable_samples"]] = False
        return cls(key=key, hashes=hashes, mirrored=mirrored, usable=usable)


@dataclass(frozen=True)
class ClipPlace:
    """Where a clip lies in an archived video: from `start` to `end` seconds, how well it lines up."""

    key: int
    start: float
    end: float
    mirrored: bool
    samples_matched: int
    samples_compared: int
    mean_distance: float

    @property
    def matched_share(self) -> float:
        return self.samples_matched / self.samples_compared


class ArchiveTimelines:
    """Every archived timeline's usable samples in flat arrays, for voting."""

    def __init__(self, timelines: Sequence[Timeline]):
        self.timelines = {timeline.key: timeline for timeline in timelines}
        usable = [np.flatnonzero(t.usable) for t in timelines]
        self.values = np.concatenate([t.hashes[u] for t, u in zip(timelines, usable, strict=True)] or [_EMPTY])
        self.keys = np.concatenate([np.full(len(u), t.key) for t, u in zip(timelines, usable, strict=True)] or [_NONE])
        self.positions = np.concatenate(usable or [_NONE])

    def __len__(self) -> int:
        return len(self.values)


_EMPTY = np.zeros(0, dtype=np.uint64)
_NONE = np.zeros(0, dtype=np.int64)


def place_clip(clip: Timeline, archive: ArchiveTimelines, *, samples_per_second: int) -> list[ClipPlace]:
    """The places, at most one per archived video, where the clip lines up; best first."""
    best: dict[int, ClipPlace] = {}
    for mirrored, hashes in ((False, clip.hashes), (True, clip.mirrored)):
        for key, offset in _voted_offsets(hashes, clip.usable, archive):
            place = _check(hashes, clip.usable, archive.timelines[key], offset, samples_per_second, mirrored)
            if place is not None and (key not in best or _rank(place) > _rank(best[key])):
                best[key] = place
    return sorted(best.values(), key=_rank, reverse=True)


def _rank(place: ClipPlace) -> tuple[float, float]:
    return place.matched_share, -place.mean_distance


def _voted_offsets(hashes: np.ndarray, usable: np.ndarray, archive: ArchiveTimelines) -> list[tuple[int, int]]:
    """The CANDIDATES_CHECKED (video, offset) pairs the clip's samples vote for most, at least two votes each."""
    if not len(archive):
        return []
    voters = np.flatnonzero(usable)[::VOTE_STEP]
    keys, offsets = [], []
    for start in range(0, len(voters), CHUNK):
        chunk = voters[start : start + CHUNK]
        distances = np.bitwise_count(hashes[chunk, None] ^ archive.values[None, :])
        rows, columns = np.nonzero(distances <= VOTE_DISTANCE)
        keys.append(archive.keys[columns])
        offsets.append(archive.positions[columns] - chunk[rows])
    if not keys:
        return []
    pairs, votes = np.unique(np.stack([np.concatenate(keys), np.concatenate(offsets)]), axis=1, return_counts=True)
    order = np.argsort(-votes, kind="stable")[:CANDIDATES_CHECKED]
    return [(int(pairs[0, i]), int(pairs[1, i])) for i in order if votes[i] >= 2]


def _check(
    hashes: np.ndarray, usable: np.ndarray, video: Timeline, offset: int, rate: int, mirrored: bool
) -> ClipPlace | None:
    """The clip laid over the video at `offset` and the offsets next to it: the best fit, if it holds."""
    fits = [f for f in (_fit(hashes, usable, video, o) for o in _around(offset)) if f is not None]
    if not fits:
        return None
    offset, matched, compared, mean = max(fits, key=lambda fit: (fit[1], -fit[3]))
    if compared < max(MIN_OVERLAP_SAMPLES, MIN_OVERLAP_SHARE * usable.sum()):
        return None
    if matched < MIN_MATCHED_SHARE * compared:
        return None
    return ClipPlace(
        key=video.key,
        start=offset / rate,
        end=(offset + len(hashes)) / rate,
        mirrored=mirrored,
        samples_matched=matched,
        samples_compared=compared,
        mean_distance=mean,
    )


def _around(offset: int) -> range:
    return range(offset - REFINE_SAMPLES, offset + REFINE_SAMPLES + 1)


def _fit(hashes: np.ndarray, usable: np.ndarray, video: Timeline, offset: int) -> tuple[int, int, int, float] | None:
    """(offset, samples within MATCH_DISTANCE, samples compared, mean distance) of the clip at `offset`."""
    clip_index = np.arange(len(hashes))
    video_index = clip_index + offset
    inside = (video_index >= 0) & (video_index < len(video.hashes))
    compared = clip_index[inside & usable]
    compared = compared[video.usable[compared + offset]]
    if not len(compared):
        return None
    distances = np.bitwise_count(hashes[compared] ^ video.hashes[compared + offset])
    return offset, int((distances <= MATCH_DISTANCE).sum()), len(compared), float(distances.mean())
