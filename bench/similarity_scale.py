"""Near-duplicate lookups at archive scale: one lookup among 1,000,000 stored hashes, index against a plain loop.

The archive: `--hashes` (1,000,000) 64-bit hashes as the index holds them, most of them photos (one
hash each) and the rest videos (MAX_KEYFRAMES keyframes each), drawn at random with 32 bits set as
pHash sets them. Each query is a stored hash with a few bits flipped, so every lookup has a match to
find, and is asked three ways: one hash; a photo as the desk looks it up (4 hashes: as is and turned
three times); a video's 12 keyframes. `verify.similarity.HashIndex.search` answers each, and a plain
Python loop over the same hashes (int.bit_count of the XOR, per stored hash) answers a few of the
single-hash ones, in the same run. Both must find the same items.

Prints: the index's build time and size (its arrays, and the process's RSS growth), median / p99 /
max latency of each kind of lookup in ms, the plain loop's median, the ratio, and whether every
lookup stayed in milliseconds (p99 under 50 ms).

    .venv/bin/python bench/similarity_scale.py [--hashes 1000000] [--lookups 300] [--loop-lookups 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from verify.similarity import HashIndex  # noqa: E402
from workers.extractors.perceptual import MAX_KEYFRAMES  # noqa: E402

VIDEO_SHARE = 0.3  # of the hashes, keyframes of videos
TARGET_P99_MS = 50


def rss_mb() -> float:
    """This process's resident memory now, from /proc (ru_maxrss only ever grows)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def balanced_hashes(count: int, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    """`count` random 64-bit values with exactly 32 bits set, as pHash's median split gives."""
    out = np.empty(count, dtype=np.uint64)
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        order = np.argsort(rng.random((n, 64)), axis=1)[:, :32]
        out[start : start + n] = np.bitwise_or.reduce(weights[order], axis=1)
    return out


def build_archive(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, media item ids and frame numbers of `count` stored hashes."""
    values = balanced_hashes(count, rng)
    video_hashes = int(count * VIDEO_SHARE) // MAX_KEYFRAMES * MAX_KEYFRAMES
    photos = count - video_hashes
    media_ids = np.concatenate(
        [np.arange(1, photos + 1), photos + 1 + np.arange(video_hashes) // MAX_KEYFRAMES]
    ).astype(np.int64)
    frames = np.concatenate([np.zeros(photos), np.arange(video_hashes) % MAX_KEYFRAMES]).astype(np.int16)
    return values, media_ids, frames


def flip_bits(value: int, bits: int, rng: np.random.Generator) -> int:
    for position in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(position)
    return value


def signed(values: list[int]) -> list[int]:
    """Unsigned 64-bit values as the signed integers the desk stores and looks up."""
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def queries(values: np.ndarray, media_ids: np.ndarray, kind: str, n: int, rng) -> list[tuple[list[int], int]]:
    """(query hashes, the media item it was derived from) for `n` lookups of one kind."""
    out = []
    photos = np.flatnonzero(np.r_[True, np.diff(media_ids) != 0] & np.r_[np.diff(media_ids) != 0, True])
    for _ in range(n):
        if kind == "video":
            first = int(rng.integers(len(photos), len(values) - MAX_KEYFRAMES))
            first -= (first - len(photos)) % MAX_KEYFRAMES
            rows = range(first, first + MAX_KEYFRAMES)
            hashes = [flip_bits(int(values[r]), int(rng.integers(0, 5)), rng) for r in rows]
        else:
            row = int(rng.choice(photos))
            hashes = [flip_bits(int(values[row]), int(rng.integers(0, 5)), rng)]
            if kind == "photo, as the desk asks":
                hashes += [int(v) for v in balanced_hashes(3, rng)]  # the three turned copies
        out.append((signed(hashes), int(media_ids[rows[0] if kind == "video" else row])))
    return out


def plain_loop(stored: list[int], media_ids: list[int], query: int, max_distance: int) -> set[int]:
    """The same question without the index: every stored hash, one at a time."""
    query &= (1 << 64) - 1
    return {media_ids[n] for n, value in enumerate(stored) if (value ^ query).bit_count() <= max_distance}


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=300, help="lookups of each kind through the index")
    parser.add_argument("--loop-lookups", type=int, default=5, help="single-hash lookups by the plain loop")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    max_distance = settings.SIMILARITY_MAX_DISTANCE

    values, media_ids, frames = build_archive(args.hashes, rng)
    videos = int((frames == MAX_KEYFRAMES - 1).sum())
    print(f"archive: {len(values):,} hashes: {len(values) - videos * MAX_KEYFRAMES:,} photos and {videos:,} videos "
          f"of {MAX_KEYFRAMES} keyframes; max distance {max_distance}")  # fmt: skip
    before = rss_mb()
    started = time.perf_counter()
    # Copies, as a process loading the table has arrays of its own.
    index = HashIndex(values.copy(), media_ids.copy(), frames.copy())
    built = time.perf_counter() - started
    index.search([0], max_distance)
    after = rss_mb()
    scratch = len(index) * (8 + 1 + 1)  # one search's XOR, popcount and best-distance arrays
    print(f"index: built in {built * 1000:.0f} ms; arrays {index.nbytes / 1e6:.1f} MB, plus {scratch / 1e6:.1f} MB "
          f"while a search runs; process RSS +{after - before:.1f} MB for the index and one search")  # fmt: skip

    results = {}
    print(f"\n{'lookup':<26} {'hashes':>6} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'found':>7}")
    for kind in ("one hash", "photo, as the desk asks", "video"):
        asked = queries(values, media_ids, kind, args.lookups, rng)
        times, found = [], 0
        for hashes, expected in asked:
            started = time.perf_counter()
            matches = index.search(hashes, max_distance)
            times.append((time.perf_counter() - started) * 1000)
            found += any(m.media_item_id == expected for m in matches)
        results[kind] = times
        print(f"{kind:<26} {len(asked[0][0]):>6} {statistics.median(times):10.2f} {percentile(times, 0.99):8.2f} "
              f"{max(times):8.2f} {found:>3}/{len(asked)}")  # fmt: skip

    stored, ids = values.tolist(), media_ids.tolist()
    loop_times, agreed = [], 0
    for hashes, _ in queries(values, media_ids, "one hash", args.loop_lookups, rng):
        started = time.perf_counter()
        by_loop = plain_loop(stored, ids, hashes[0], max_distance)
        loop_times.append((time.perf_counter() - started) * 1000)
        agreed += by_loop == {m.media_item_id for m in index.search(hashes, max_distance)}
    loop_median, index_median = statistics.median(loop_times), statistics.median(results["one hash"])
    print(f"\nplain Python loop, one hash: median {loop_median:.0f} ms over {len(loop_times)} lookups "
          f"(same items found in {agreed}/{len(loop_times)})")  # fmt: skip
    speedup = loop_median / index_median
    print(f"index / plain loop: {index_median / loop_median:.4f} (the index is {speedup:.0f}x faster)")
    worst = max(percentile(t, 0.99) for t in results.values())
    print(f"target: every kind's p99 under {TARGET_P99_MS} ms: {'holds' if worst < TARGET_P99_MS else 'MISSED'} "
          f"(worst p99 {worst:.2f} ms)")  # fmt: skip
    return 0 if agreed == len(loop_times) else 1


if __name__ == "__main__":
    sys.exit(main())
