"""Clips inside videos: recall, false matches and offset error of placing changed clips in archived videos.

Generates archived videos with ffmpeg (Conway's life from several seeds, a Mandelbrot zoom), cuts
clips at random places and lengths, changes each one way (re-encoded at CRF 35, halved, letterboxed,
mirrored, mirrored and letterboxed), and places it among the archived timelines, padded with
--padding-hours of random timelines so that the search has a haystack. Negatives are videos that are
not in the archive (other seeds), a black one and a still one. Prints recall per change, false
matches, the offset error (mean and max) and, as the baseline measured in the same run, the time
ffmpeg takes just to decode each clip, against the time to read its timeline and to place it.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verify.clips.matching import ArchiveTimelines, Timeline, place_clip  # noqa: E402
from workers.extractors import video_timeline  # noqa: E402

RATE = video_timeline.SAMPLES_PER_SECOND
LIFE = "life=size=320x240:rate=25:mold=10:ratio=0.5:seed={seed}:death_color=#203040:life_color=#e0c080"
MANDELBROT = "mandelbrot=size=320x240:rate=25"
CHANGES = {
    "re-encoded CRF 35": ("null", 35),
    "halved": ("scale=160:120", 30),
    "letterboxed": ("scale=320:180,pad=320:320:0:70", 30),
    "mirrored": ("hflip", 30),
    "mirrored + letterboxed": ("hflip,scale=320:180,pad=320:320:0:70", 30),
}


def ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments], check=True, timeout=600)  # noqa: S603, S607


def generated(path: Path, source: str, seconds: float) -> Path:
    ffmpeg("-f", "lavfi", "-i", source, "-t", str(seconds), "-g", "50", "-pix_fmt", "yuv420p", str(path))
    return path


def timeline(path: Path, key: int) -> tuple[Timeline, dict]:
    out = path.with_suffix(".timeline")
    out.mkdir()
    result = video_timeline.extract(path, out)
    return Timeline.from_reading(key, result, out), result


def decode_seconds(path: Path) -> float:
    started = time.perf_counter()
    ffmpeg("-i", str(path), "-map", "0:v:0", "-f", "null", "-")
    return time.perf_counter() - started


def padding(hours: float, rng: np.random.Generator) -> list[Timeline]:
    """Random timelines of ten minutes each: a haystack for the search, never the answer."""
    samples = int(10 * 60 * RATE)
    count = int(hours * 6)
    return [
        Timeline(
            key=-(index + 1),
            hashes=rng.integers(0, 2**63, samples, dtype=np.uint64),
            mirrored=rng.integers(0, 2**63, samples, dtype=np.uint64),
            usable=np.ones(samples, dtype=bool),
        )
        for index in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3, help="archived videos (default 3)")
    parser.add_argument("--seconds", type=float, default=60, help="length of each archived video")
    parser.add_argument("--clips", type=int, default=2, help="clips per archived video and change")
    parser.add_argument("--padding-hours", type=float, default=10, help="random timelines added to the archive")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        sources = [LIFE.format(seed=100 + i) for i in range(args.videos - 1)] + [MANDELBROT]
        archived = [generated(root / f"archived-{i}.mp4", s, args.seconds) for i, s in enumerate(sources)]
        timelines = [timeline(path, key)[0] for key, path in enumerate(archived)]
        haystack = padding(args.padding_hours, np.random.default_rng(args.seed))
        archive = ArchiveTimelines(timelines + haystack)
        print(
            f"archive: {len(archived)} generated videos of {args.seconds:g} s and {args.padding_hours:g} h of "
            f"random timelines: {len(archive):,} samples ({len(archive) * 16 / 2**20:.1f} MiB as stored)"
        )

        found: dict[str, list[bool]] = {name: [] for name in CHANGES}
        errors: dict[str, list[float]] = {name: [] for name in CHANGES}
        wrong, baseline, reading, placing = 0, [], [], []
        for key, source in enumerate(archived):
            for name, (change, crf) in CHANGES.items():
                for _ in range(args.clips):
                    length = rng.uniform(8, 20)
                    start = rng.uniform(0, args.seconds - length)
                    clip = root / f"clip-{len(baseline)}.mp4"
                    ffmpeg("-ss", f"{start:.3f}", "-i", str(source), "-t", f"{length:.3f}", "-vf", change,
                           "-crf", str(crf), "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
                    baseline.append(decode_seconds(clip))
                    started = time.perf_counter()
                    query, _ = timeline(clip, 10_000)
                    reading.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    places = place_clip(query, archive, samples_per_second=RATE)
                    placing.append(time.perf_counter() - started)
                    right = [p for p in places if p.key == key]
                    wrong += len(places) - len(right)
                    found[name].append(bool(right))
                    if right:
                        errors[name].append(abs(right[0].start - start))

        negatives = [generated(root / f"other-{i}.mp4", LIFE.format(seed=900 + i), 15) for i in range(4)]
        negatives.append(generated(root / "black.mp4", "color=c=black:size=320x240:rate=25", 15))
        negatives.append(generated(root / "still.mp4", "smptebars=size=320x240:rate=25", 15))
        false_negatives = 0
        for index, path in enumerate(negatives):
            query, result = timeline(path, 20_000 + index)
            places = [] if result["unplaceable_reason"] else place_clip(query, archive, samples_per_second=RATE)
            false_negatives += len(places)

    all_found = [hit for hits in found.values() for hit in hits]
    all_errors = [error for values in errors.values() for error in values]
    print(f"{'change':<24} {'recall':>8} {'mean error':>11} {'max error':>10}")
    for name in CHANGES:
        hits, offs = found[name], errors[name]
        print(
            f"{name:<24} {sum(hits):>3}/{len(hits):<4} {mean(offs) if offs else float('nan'):>10.3f}s"
            f" {max(offs) if offs else float('nan'):>9.3f}s"
        )
    print(f"{'all':<24} {sum(all_found):>3}/{len(all_found):<4} {mean(all_errors):>10.3f}s {max(all_errors):>9.3f}s")
    print(f"false matches: {wrong} placed in the wrong video; {false_negatives} for {len(negatives)} negatives")
    print(
        f"per clip: ffmpeg decode alone {mean(baseline):.3f} s (baseline); reading the timeline {mean(reading):.3f} s "
        f"({mean(reading) / mean(baseline):.1f}x the decode); placing it {mean(placing) * 1000:.1f} ms mean, "
        f"{max(placing) * 1000:.1f} ms max"
    )
    recall = sum(all_found) / len(all_found)
    print(f"target recall >= 0.95: {'holds' if recall >= 0.95 else 'MISSED'} ({recall:.3f})")
    print(f"target no false match: {'holds' if wrong + false_negatives == 0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
