"""Near-duplicate matching: recall per kind of copy, precision, and the thresholds, from a measured curve.

The test set: the corpus photos (`--corpus`, default ../shared/corpus/photos) and `--generated` (30)
pictures made here are the originals; each gets every copy kind of tests/near_duplicates.py (re-encoded
at q50 and q70, halved, cropped 5% and 10% at each corner and around the centre, turned 90/180/270,
mirrored, a phone screenshot, shrunk into an uneven dark border, a caption bar at the top or bottom,
meme text, one quarter of a 2x2 collage). `--unrelated` (30) more generated pictures are looked up too
and have no original. Every picture is reduced to the 640-pixel thumbnail the desk keeps, and hashed
as workers/extractors/regions.py does: each original by its stored regions, each copy by its variants.

Positives: each copy against its original. Negatives: each copy against every other original, and
each unrelated picture against every original. For a pair, the distance is the closest of any
variant to any region; pairs within `--check` (20) bits are also checked by their keypoints
(workers/extractors/keypoints.py).

The curve, for each distance t: the share of copies within t (the hash alone), and the unrelated
items one lookup should expect within t in an archive of `--archive` (10,000,000) hashes: a probit
line fitted to the negatives' lower tail and carried down (no test set can count one in a million).
The rule, as verify/matching/decision.py applies it:

  MATCH_ACCEPT_DISTANCE     the largest t where the archive expects at most 0.01 unrelated items
  MATCH_CANDIDATE_DISTANCE  the largest t where it expects at most MATCH_MAX_CANDIDATES (8), so that
                            a copy's original is not crowded out of the keypoint checks
  MATCH_MIN_INLIERS         the smallest count no checked negative pair reached, times 1.5 (a margin
                            for pictures the test set does not have)

It then applies the rule to every pair and prints recall per kind of copy, precision, and the expected
unrelated matches per lookup: accepted on the hash, plus the candidates checked times the share of
negatives whose keypoints would pass (its 95% upper bound when none did). Writes `--plot`.

    .venv/bin/python bench/matching_curve.py [--corpus ../shared/corpus/photos] [--generated 30]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageDraw, ImageOps

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify.settings")

import django  # noqa: E402
import similarity_curve as drawing  # noqa: E402  (its plotting helpers)

django.setup()

from django.conf import settings  # noqa: E402

from tests.near_duplicates import COPY_KINDS, generated_picture, make_copy  # noqa: E402
from verify.matching.decision import Thresholds  # noqa: E402
from workers.extractors import keypoints, regions  # noqa: E402
from workers.extractors.imaging import to_rgb  # noqa: E402

DEFAULT_CORPUS = BASE_DIR.parent / "shared" / "corpus" / "photos"
DEFAULT_PLOT = BASE_DIR / "bench" / "matching-curve.png"
THUMBNAIL_SIZE = 640
# Originals are reduced to this before copies are made of them (copies are never larger).
ORIGINAL_SIDE = 1600
THRESHOLDS = range(0, 33)
MAX_INLIERS_SHOWN = 200
MAX_EXPECTED_ACCEPTED = 0.01
INLIER_MARGIN = 1.5
MIN_TAIL_COUNT = 10
UNRELATED_SEEDS = 700_000


def thumbnail(picture: Image.Image, side: int = THUMBNAIL_SIZE) -> Image.Image:
    small = picture.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


@dataclass
class Original:
    name: str
    values: np.ndarray  # its stored region hashes
    described: keypoints.Described  # keypoints of its stored picture


@dataclass
class Query:
    family: int | None  # the original it is a copy of; None for an unrelated picture
    kind: str
    values: np.ndarray  # its variants' hashes
    pictures: list[Image.Image]
    described: dict[int, keypoints.Described]


def load_originals(corpus: Path, generated: int) -> list[tuple[str, Image.Image]]:
    pictures = []
    for path in sorted(corpus.iterdir()) if corpus.is_dir() else []:
        with Image.open(path) as image:
            pictures.append((path.name, thumbnail(to_rgb(ImageOps.exif_transpose(image)), ORIGINAL_SIDE)))
    pictures += [(f"generated {n}", generated_picture(n)) for n in range(generated)]
    return pictures


def store(name: str, picture: Image.Image) -> Original | None:
    kept = thumbnail(picture)
    hashed = regions.hash_regions(regions.stored_regions(kept))
    if not hashed:
        return None
    stored_picture = regions.stored_regions(kept)[0][1]
    return Original(name, np.array([h.value for h in hashed], dtype=np.uint64), keypoints.descriptors(stored_picture))


def query(family: int | None, kind: str, picture: Image.Image) -> Query:
    variants = [(label, p) for label, p in regions.query_variants(thumbnail(picture))]
    kept = [(regions.phash(p), p) for _, p in variants]
    kept = [(value, p) for value, p in kept if value is not None]
    return Query(family, kind, np.array([v for v, _ in kept], dtype=np.uint64), [p for _, p in kept], {})


@dataclass
class Pair:
    family: int | None
    kind: str
    original: int
    distance: int
    inliers: int | None


def compare(queries: list[Query], originals: list[Original], check: int) -> list[Pair]:
    pairs = []
    for q in queries:
        for index, original in enumerate(originals):
            if not len(q.values):
                pairs.append(Pair(q.family, q.kind, index, 64, None))
                continue
            table = np.bitwise_count(q.values[:, None] ^ original.values[None, :])
            variant, _ = np.unravel_index(int(np.argmin(table)), table.shape)
            distance = int(table.min())
            inliers = None
            if distance <= check:
                if variant not in q.described:
                    q.described[variant] = keypoints.descriptors(q.pictures[variant])
                inliers = keypoints.described_inliers(q.described[variant], original.described)
            pairs.append(Pair(q.family, q.kind, index, distance, inliers))
    return pairs


# The curve


def fit_tail(negatives: np.ndarray) -> tuple[float, float]:
    """probit(P(d <= t)) = a + b * t through the negatives' lower tail (at least MIN_TAIL_COUNT pairs, at most 10%)."""
    points = []
    for t in range(0, 64):
        rate = float((negatives <= t).mean())
        if (negatives <= t).sum() >= MIN_TAIL_COUNT and rate <= 0.10:
            points.append((t, NormalDist().inv_cdf(rate)))
    if len(points) < 2:
        raise SystemExit("Too few negatives in the tail to fit it; use more pictures.")
    ts, zs = np.array(points).T
    slope, intercept = np.polyfit(ts, zs, 1)
    return float(intercept), float(slope)


def modelled_rate(tail: tuple[float, float], t: int) -> float:
    intercept, slope = tail
    return NormalDist().cdf(intercept + slope * t)


def upper_rate(passed: int, checked: int) -> float:
    """A 95% upper bound on a rate seen `passed` times in `checked` (the rule of three when none)."""
    if not checked:
        return 1.0
    return 3 / checked if passed == 0 else min(1.0, (passed + 2 * math.sqrt(passed) + 1) / checked)


def derive(positives: list[Pair], negatives: list[Pair], items: float, max_candidates: int, check: int) -> dict:
    negative_distances = np.array([p.distance for p in negatives])
    tail = fit_tail(negative_distances)
    expected = {t: items * modelled_rate(tail, t) for t in THRESHOLDS}
    accept = max((t for t in THRESHOLDS if expected[t] <= MAX_EXPECTED_ACCEPTED), default=0)
    candidate = max((t for t in THRESHOLDS if expected[t] <= max_candidates and t <= check), default=0)
    checked = [p.inliers for p in negatives if p.inliers is not None]
    min_inliers = math.ceil((max(checked, default=0) + 1) * INLIER_MARGIN)
    return {
        "hashes_per_item": 0.0,
        "tail": tail,
        "expected": expected,
        "accept": accept,
        "candidate": candidate,
        "min_inliers": min_inliers,
    }


def matched(pair: Pair, thresholds: Thresholds) -> bool:
    if pair.distance <= thresholds.accept_distance:
        return True
    return (
        pair.distance <= thresholds.candidate_distance
        and pair.inliers is not None
        and pair.inliers >= thresholds.min_inliers
    )


def plot(path: Path, positives: list[Pair], negatives: list[Pair], derived: dict, thresholds: Thresholds, archive: int):
    image = Image.new("RGB", (1300, 1560), "white")
    draw = ImageDraw.Draw(image)
    unit = [(v / 10, f"{v / 10:.1f}") for v in range(0, 11, 2)]
    draw.text(
        (40, 16),
        f"Near-duplicate matching of photos: accept {thresholds.accept_distance}, candidates up to "
        f"{thresholds.candidate_distance} checked by keypoints (at least {thresholds.min_inliers})",
        fill="black",
        font=drawing.font(20),
    )
    positive_d = np.array([p.distance for p in positives])
    negative_d = np.array([p.distance for p in negatives])

    top = drawing.Panel((110, 100, 1000, 440), (0, 1))
    drawing.draw_panel(draw, top, "Closest region pair: copies and unrelated pairs within t", "share", unit)
    drawing.draw_series(draw, top, [float((positive_d <= t).mean()) for t in THRESHOLDS], drawing.COLOURS[0])
    drawing.draw_series(draw, top, [float((negative_d <= t).mean()) for t in THRESHOLDS], drawing.COLOURS[1])
    mark(draw, top, thresholds)
    drawing.draw_legend(
        draw,
        (1020, 110),
        [("copies (hash alone)", drawing.COLOURS[0], False), ("unrelated", drawing.COLOURS[1], False)],
    )

    middle = drawing.Panel((110, 560, 1000, 900), (-6, 6), log=True)
    ticks = [(10.0**e, f"1e{e}") for e in range(-6, 7, 2)]
    drawing.draw_panel(draw, middle, f"Unrelated items within t per lookup, {archive:,} hashes", "per lookup", ticks)
    items = archive / derived["hashes_per_item"]
    drawing.draw_series(draw, middle, [derived["expected"][t] for t in THRESHOLDS], drawing.COLOURS[2])
    measured = [float((negative_d <= t).mean()) * items or 1e-7 for t in THRESHOLDS]
    drawing.draw_series(draw, middle, measured, drawing.COLOURS[2], dashed=True, width=2)
    for limit in (MAX_EXPECTED_ACCEPTED, thresholds.max_candidates):
        draw.line([middle.box[0], middle.y(limit), middle.box[2], middle.y(limit)], fill="#999", width=1)
    mark(draw, middle, thresholds)
    drawing.draw_legend(
        draw, (1020, 570), [("fitted tail", drawing.COLOURS[2], False), ("measured", drawing.COLOURS[2], True)]
    )

    bottom = drawing.Panel((110, 1020, 1000, 1420), (0, 1))
    draw.text(
        (110, 986),
        "Keypoint check: share of checked pairs with at least k keypoints agreeing",
        fill="black",
        font=drawing.font(18),
    )
    left, upper, right, lower = bottom.box
    draw.rectangle(bottom.box, outline="#888")
    for k in range(0, MAX_INLIERS_SHOWN + 1, 20):
        x = left + (right - left) * k / MAX_INLIERS_SHOWN
        draw.line([x, upper, x, lower], fill="#e6e6e6")
        draw.text((x, lower + 6), str(k), fill="#444", font=drawing.font(13), anchor="mt")
    for value, label in unit:
        draw.text((left - 8, bottom.y(value)), label, fill="#444", font=drawing.font(13), anchor="rm")
    for n, group in enumerate((positives, negatives)):
        counts = np.array([p.inliers for p in group if p.inliers is not None])
        if not len(counts):
            continue
        points = [
            (left + (right - left) * k / MAX_INLIERS_SHOWN, bottom.y(float((counts >= k).mean())))
            for k in range(MAX_INLIERS_SHOWN + 1)
        ]
        draw.line(points, fill=drawing.COLOURS[n], width=3)
    x = left + (right - left) * thresholds.min_inliers / MAX_INLIERS_SHOWN
    draw.line([x, upper, x, lower], fill="black", width=2)
    draw.text((x + 4, upper + 4), f"min {thresholds.min_inliers}", fill="black", font=drawing.font(13))
    drawing.draw_legend(
        draw, (1020, 1030), [("copies", drawing.COLOURS[0], False), ("unrelated", drawing.COLOURS[1], False)]
    )
    draw.text(
        (40, 1500),
        "Made by bench/matching_curve.py. Positives: each copy against its original; negatives: each copy against "
        "every other original, and unrelated pictures against all.",
        fill="#444",
        font=drawing.font(13),
    )
    image.save(path, optimize=True)


def mark(draw: ImageDraw.ImageDraw, panel, thresholds: Thresholds) -> None:
    _, top, _, bottom = panel.box
    for t, label in ((thresholds.accept_distance, "accept"), (thresholds.candidate_distance, "candidate")):
        x = panel.x(t)
        for y in range(top, bottom, 10):
            draw.line([x, y, x, y + 5], fill="black", width=2)
        draw.text((x + 4, top + 4), f"{label} {t}", fill="black", font=drawing.font(13))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--generated", type=int, default=30)
    parser.add_argument("--unrelated", type=int, default=30)
    parser.add_argument("--archive", type=int, default=10_000_000)
    parser.add_argument("--check", type=int, default=20)
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    args = parser.parse_args()
    started = time.perf_counter()

    originals, queries = [], []
    for name, picture in load_originals(args.corpus, args.generated):
        kept = store(name, picture)
        if kept is None:
            print(f"  left out: {name} has no usable region hash (almost one colour)")
            continue
        originals.append(kept)
        family = len(originals) - 1
        for number, kind in enumerate(COPY_KINDS):
            queries.append(query(family, kind, make_copy(picture, kind, seed=family * 100 + number)))
    for n in range(args.unrelated):
        queries.append(query(None, "unrelated", generated_picture(UNRELATED_SEEDS + n)))
    print(f"{len(originals)} originals, {len(queries)} lookups, made in {time.perf_counter() - started:.0f} s")

    pairs = compare(queries, originals, args.check)
    positives = [p for p in pairs if p.family == p.original]
    negatives = [p for p in pairs if p.family != p.original]
    hashes_per_item = float(np.mean([len(o.values) for o in originals]))
    items = args.archive / hashes_per_item
    max_candidates = settings.MATCH_MAX_CANDIDATES
    derived = derive(positives, negatives, items, max_candidates, args.check)
    derived["hashes_per_item"] = hashes_per_item
    thresholds = Thresholds(derived["accept"], derived["candidate"], max_candidates, derived["min_inliers"])

    print(
        f"\n{len(positives)} copies, {len(negatives)} unrelated pairs; {hashes_per_item:.1f} hashes per stored picture"
    )
    print(f"{'t':>3} {'recall(hash)':>12} {'unrelated<=t':>12} {'expected/lookup':>16}")
    positive_d = np.array([p.distance for p in positives])
    negative_d = np.array([p.distance for p in negatives])
    for t in THRESHOLDS:
        print(
            f"{t:>3} {(positive_d <= t).mean():>12.3f} {(negative_d <= t).mean():>12.5f} "
            f"{derived['expected'][t]:>16.3g}"
        )
    checked = [p for p in negatives if p.inliers is not None]
    passed = [p for p in checked if p.inliers >= thresholds.min_inliers]
    pass_rate = upper_rate(len(passed), len(checked))
    on_hash = derived["expected"][thresholds.accept_distance]
    candidates = min(max_candidates, derived["expected"][thresholds.candidate_distance])
    print(
        f"\nThresholds: MATCH_ACCEPT_DISTANCE={thresholds.accept_distance} "
        f"MATCH_CANDIDATE_DISTANCE={thresholds.candidate_distance} MATCH_MAX_CANDIDATES={max_candidates} "
        f"MATCH_MIN_INLIERS={thresholds.min_inliers} (most keypoints of a checked unrelated pair: "
        f"{max((p.inliers for p in checked), default=0)} of {len(checked)} checked)"
    )

    by_kind = defaultdict(list)
    for p in positives:
        by_kind[p.kind].append(matched(p, thresholds))
    print(f"\n{'kind of copy':<26} {'found':>7} {'recall':>7}")
    for kind, found in by_kind.items():
        print(f"{kind:<26} {sum(found):>3}/{len(found):<3} {np.mean(found):>7.3f}")
    true = sum(matched(p, thresholds) for p in positives)
    false = sum(matched(p, thresholds) for p in negatives)
    print(
        f"\nrecall {true / len(positives):.3f} ({true}/{len(positives)}), precision "
        f"{true / (true + false) if true + false else 1.0:.3f} ({false} unrelated pairs matched)"
    )
    print(
        f"expected unrelated matches per lookup among {args.archive:,} hashes: {on_hash:.3g} on the hash + "
        f"{candidates:.3g} candidates x {pass_rate:.2g} keypoint pass rate (95% bound) = "
        f"{on_hash + candidates * pass_rate:.3g}"
    )
    plot(args.plot, positives, negatives, derived, thresholds, args.archive)
    print(f"plot: {args.plot}; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
