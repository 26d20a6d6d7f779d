"""Near-duplicate lookups among ten million stored region hashes: build time, memory and latency of
verify.matching.index.MultiIndex, against a scan of every hash in the same run.

The archive: `--hashes` (10,000,000) 64-bit hashes with 32 bits set, as pHash's median split gives,
in groups of REGIONS_PER_PICTURE (one stored picture's regions). A lookup is what the desk asks for a
photo: QUERY_VARIANTS hashes (its variants), one of them a stored hash with up to 4 bits flipped, the
others random; it asks for everything within MATCH_CANDIDATE_DISTANCE and must find the item the
flipped hash came from. A numpy scan of every hash (XOR and popcount) answers `--scan-lookups` of the
same lookups for comparison; both must find the same rows.

Prints the build time, the index's own arrays and the process's RSS growth, and p50 / p99 / max
latency in ms of `--lookups` (300) lookups.

    .venv/bin/python bench/matching_scale.py [--hashes 10000000] [--lookups 300] [--scan-lookups 5]
"""

from __future__ import annotations

import argparse
import os
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
from similarity_scale import balanced_hashes, flip_bits, percentile, rss_mb  # noqa: E402

from verify.matching.archive import RECENT_ROWS  # noqa: E402
from verify.matching.index import LayeredIndex, MultiIndex, ScannedRows  # noqa: E402

REGIONS_PER_PICTURE = 12
QUERY_VARIANTS = 16
TARGET_P99_MS = 50


def lookups(values: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """(the query's hashes, the row its near copy came from)."""
    out = []
    for _ in range(count):
        row = int(rng.integers(0, len(values)))
        near = flip_bits(int(values[row]), int(rng.integers(0, 5)), rng)
        others = balanced_hashes(QUERY_VARIANTS - 1, rng)
        out.append((np.concatenate(([np.uint64(near)], others)).astype(np.uint64), row))
    return out


def scan(values: np.ndarray, queries: np.ndarray, max_distance: int) -> set[int]:
    rows = set()
    for query in queries:
        rows |= set(np.flatnonzero(np.bitwise_count(values ^ query) <= max_distance).tolist())
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--scan-lookups", type=int, default=5)
    parser.add_argument("--distance", type=int, default=settings.MATCH_CANDIDATE_DISTANCE)
    args = parser.parse_args()
    rng = np.random.default_rng(13)

    started = time.perf_counter()
    values = balanced_hashes(args.hashes, rng)
    owners = np.arange(args.hashes, dtype=np.int64) // REGIONS_PER_PICTURE
    regions = (np.arange(args.hashes) % REGIONS_PER_PICTURE).astype(np.int16)
    print(f"{args.hashes:,} hashes made in {time.perf_counter() - started:.1f} s")

    before = rss_mb()
    started = time.perf_counter()
    index = MultiIndex(values, owners, regions)
    built = time.perf_counter() - started
    print(
        f"index built in {built:.1f} s; its arrays {index.nbytes / 1024**2:,.0f} MB, "
        f"process RSS grew {rss_mb() - before:,.0f} MB"
    )

    asked = lookups(values, args.lookups, rng)
    times, missed = [], 0
    for queries, row in asked:
        started = time.perf_counter()
        hits = index.search(queries, args.distance)
        times.append((time.perf_counter() - started) * 1000)
        missed += row not in set(hits.rows.tolist())
    p99 = percentile(times, 0.99)
    print(
        f"{args.lookups} lookups of {QUERY_VARIANTS} hashes within {args.distance} bits: "
        f"p50 {percentile(times, 0.5):.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms; "
        f"{missed} missed their near copy"
    )

    scan_times = []
    for queries, _ in asked[: args.scan_lookups]:
        started = time.perf_counter()
        expected = scan(values, queries, args.distance)
        scan_times.append((time.perf_counter() - started) * 1000)
        found = set(index.search(queries, args.distance).rows.tolist())
        if found != expected:
            print(f"  the index and the scan disagree: {len(found)} rows against {len(expected)}")
            return 1
    scan_median = percentile(scan_times, 0.5)
    print(
        f"scan of every hash: median {scan_median:.0f} ms per lookup "
        f"({scan_median / percentile(times, 0.5):.0f}x the index's median); same rows found"
    )
    print(f"p99 under {TARGET_P99_MS} ms: {'yes' if p99 <= TARGET_P99_MS else 'NO'}")

    # The rows stored since a process built its multi-index (verify/matching/archive.py) are scanned at each
    # lookup, up to RECENT_ROWS of them, before the multi-index is built again with them.
    recent = min(RECENT_ROWS, args.hashes)
    layered = LayeredIndex(
        MultiIndex(values[:-recent], owners[:-recent], regions[:-recent]),
        ScannedRows(values[-recent:], owners[-recent:], regions[-recent:]),
    )
    layered_times = []
    for queries, _ in asked:
        started = time.perf_counter()
        found = layered.search(queries, args.distance)
        layered_times.append((time.perf_counter() - started) * 1000)
        if set(found.rows.tolist()) != set(index.search(queries, args.distance).rows.tolist()):
            print("  the index with scanned rows and the index of every row disagree")
            return 1
    print(
        f"with the newest {recent:,} rows scanned (as after {recent:,} rows stored since the build): "
        f"p50 {percentile(layered_times, 0.5):.1f} ms, p99 {percentile(layered_times, 0.99):.1f} ms; "
        "same rows found"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
