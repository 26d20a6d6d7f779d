"""Near-duplicate thresholds from a measured curve, not guessed.

The test set: the corpus photos (`--corpus`, default ../shared/corpus/photos) and `--generated` (30)
pictures made here (gradients, shapes, lines, noise). Each original gets derived copies: JPEG
re-encodes at quality 50 and 70, a half-size copy, a 5% crop (centred, and all from one corner),
a 90-degree turn, a phone-screenshot-like re-render (status bar, margins, navigation bar, PNG) and
a short text overlay. Every file, original or copy, is hashed by the perceptual extractor itself
(workers/extractors/perceptual.py), so the distances are those the desk stores.

Positives: each copy against its original. Negatives: every file against every file of the
other originals (originals and their copies). Three ways of looking up are measured:

  extractor   the two hashes as the perceptual extractor computed them (no query variants)
  trimmed     each picture hashed inside its flat borders (screenshots), as the index stores it
  seen-before the copy looked up as `verify.similarity.reading_query(turns=True)` builds it: the
              trimmed hash and the picture turned 90/180/270 degrees, against the original's stored
              hash. This is what the automatic "seen before" flag and the search by file both do.

For each threshold 0..32 it prints precision, recall and the false-positive rate per pair, and the
unrelated matches one lookup should expect in an archive of `--archive` (1,000,000) hashes: the
rate of a normal distribution fitted to the negatives' distances (a handful of test pairs cannot
measure rates near one in a million; the empirical rate is printed beside it where it can).

The rule: SIMILARITY_MAX_DISTANCE is the largest threshold where the seen-before lookup keeps a
precision of at least 0.99 on the test set and expects at most 1 unrelated match per lookup in the
archive; SIMILARITY_STRICT_DISTANCE the largest where it expects at most 0.01 and no test pair was
a false positive. A small video set (generated pans, re-encoded and cut) shows how many keyframes
match at that threshold, for SIMILARITY_MIN_FRAMES.

Writes the plot `--plot` (bench/similarity-curve.png).

    .venv/bin/python bench/similarity_curve.py [--corpus ../shared/corpus/photos] [--generated 30]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageDraw, ImageOps

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify.settings")

import django  # noqa: E402

django.setup()

from tests import near_duplicates  # noqa: E402
from tests.near_duplicates import font  # noqa: E402
from verify import similarity  # noqa: E402
from workers.extractors import perceptual  # noqa: E402
from workers.extractors.imaging import to_rgb  # noqa: E402

DEFAULT_CORPUS = BASE_DIR.parent / "shared" / "corpus" / "photos"
DEFAULT_PLOT = BASE_DIR / "bench" / "similarity-curve.png"
THRESHOLDS = range(0, 33)
MODES = ("extractor", "trimmed", "seen-before")
MIN_PRECISION = 0.99
MAX_EXPECTED_LOOSE = 1.0
MAX_EXPECTED_STRICT = 0.01
MIN_TAIL_COUNT = 20


# Test pictures and their derived copies


def generated_picture(seed: int, size: tuple[int, int] = (900, 600)) -> Image.Image:
    """tests/near_duplicates.py's generated picture with 6 to 15 shapes, as this curve was first measured on."""
    return near_duplicates.generated_picture(seed, size, shapes=(6, 16))


def screenshot(picture: Image.Image) -> Image.Image:
    """The picture as a phone shows it full width: status bar with time and icons, dark margins, navigation bar."""
    screen_width, screen_height = 1080, 2340
    shown = picture.resize((1040, round(picture.height * 1040 / picture.width)), Image.Resampling.BILINEAR)
    screen = Image.new("RGB", (screen_width, max(screen_height, shown.height + 400)), (18, 18, 18))
    screen.paste(shown, (20, (screen.height - shown.height) // 2))
    draw = ImageDraw.Draw(screen)
    draw.text((40, 22), "12:45", fill=(240, 240, 240), font=font(44))
    for n in range(4):  # signal, wifi, battery...
        draw.rectangle([880 + n * 44, 34, 910 + n * 44, 64], fill=(230, 230, 230))
    for n, glyph in enumerate(("<", "O", "=")):
        draw.text((260 + n * 260, screen.height - 110), glyph, fill=(230, 230, 230), font=font(60))
    return screen


def with_caption(picture: Image.Image) -> Image.Image:
    captioned = picture.copy()
    size = max(12, picture.height // 14)
    ImageDraw.Draw(captioned).text(
        (picture.width * 0.05, picture.height * 0.8),
        "BREAKING: seen today",
        fill=(255, 255, 255),
        font=font(size),
        stroke_width=max(1, size // 12),
        stroke_fill=(0, 0, 0),
    )
    return captioned


def crop(picture: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    width, height = picture.size
    return picture.crop((round(width * left), round(height * top), round(width * right), round(height * bottom)))


JPEG = {"format": "JPEG", "quality": 90}
# name: (make the copy, how it is saved)
TRANSFORMS: dict[str, tuple[Callable[[Image.Image], Image.Image], dict]] = {
    "jpeg q50": (lambda p: p, {"format": "JPEG", "quality": 50}),
    "jpeg q70": (lambda p: p, {"format": "JPEG", "quality": 70}),
    "resize 50%": (lambda p: p.resize((p.width // 2, p.height // 2), Image.Resampling.LANCZOS), JPEG),
    "crop 5% centred": (lambda p: crop(p, 0.025, 0.025, 0.975, 0.975), JPEG),
    "crop 5% corner": (lambda p: crop(p, 0.05, 0.05, 1, 1), JPEG),
    "rotate 90°": (lambda p: p.transpose(Image.Transpose.ROTATE_90), JPEG),
    "screenshot": (screenshot, {"format": "PNG"}),
    "text overlay": (with_caption, JPEG),
}


# Hashing, as the desk does


@dataclass
class Hashed:
    family: int  # which original it comes from
    transform: str  # "original" or a TRANSFORMS name
    stored: dict[str, int] = field(default_factory=dict)  # mode -> the hash the index keeps
    queries: dict[str, list[int]] = field(default_factory=dict)  # mode -> the hashes it is looked up by


def hash_file(path: Path, work: Path, family: int, transform: str) -> Hashed:
    folder = work / "artifacts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    reading = perceptual.extract(path, folder)
    if reading["quality"] != "ok":
        print(f"  note: {path.name} ({transform}) has a low-quality hash: {reading['low_quality_reason']}")
    extractor = similarity.hex_to_signed(reading["hash"])
    kept = similarity.hashed_pictures(reading, folder)[0].value
    search = [q.value for q in similarity.reading_query(reading, folder, turns=True)]
    return Hashed(
        family,
        transform,
        stored={"extractor": extractor, "trimmed": kept, "seen-before": kept},
        queries={"extractor": [extractor], "trimmed": [kept], "seen-before": search},
    )


def upright_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return to_rgb(ImageOps.exif_transpose(image)).copy()


def build_test_set(originals: list[Path], work: Path) -> list[Hashed]:
    hashed = []
    for family, path in enumerate(originals):
        hashed.append(hash_file(path, work, family, "original"))
        picture = upright_rgb(path)
        for name, (make, save) in TRANSFORMS.items():
            copy = work / f"copy.{save['format'].lower()}"
            make(picture).save(copy, **save)
            hashed.append(hash_file(copy, work, family, name))
    return hashed


# The curve


def distances(query: list[int], stored: np.ndarray) -> np.ndarray:
    """The smallest distance from any of `query` to each of `stored`."""
    if not query:
        return np.full(len(stored), similarity.HASH_BITS, dtype=np.uint8)
    table = np.bitwise_count(similarity.as_unsigned(query)[:, None] ^ stored[None, :])
    return table.min(axis=0)


@dataclass
class Curve:
    mode: str
    positives: dict[str, np.ndarray]  # transform -> distance of each copy to its original
    negatives: np.ndarray  # distance of each unrelated pair
    tail: tuple[float, float] = (0.0, 0.0)  # probit(P(d <= t)) = a + b * t, fitted to the measured tail

    def __post_init__(self):
        self.tail = fit_tail(self.negatives)

    def recall(self, t: int, transform: str | None = None) -> float:
        values = self.positives[transform] if transform else np.concatenate(list(self.positives.values()))
        return float((values <= t).mean())

    def counts(self, t: int) -> tuple[int, int, int]:
        positives = np.concatenate(list(self.positives.values()))
        return int((positives <= t).sum()), int((self.negatives <= t).sum()), len(positives)

    def precision(self, t: int) -> float:
        true, false, _ = self.counts(t)
        return true / (true + false) if true + false else 1.0

    def false_positive_rate(self, t: int) -> float:
        return float((self.negatives <= t).mean())

    def modelled_rate(self, t: int) -> float:
        """P(distance <= t) for an unrelated pair, extrapolated from the measured tail (pHash distances are even)."""
        a, b = self.tail
        return NormalDist().cdf(a + b * (t - t % 2))


def fit_tail(negatives: np.ndarray) -> tuple[float, float]:
    """A line through the probits of the negatives' lower tail: the thresholds where at least
    MIN_TAIL_COUNT pairs, and at most 5% of them, fall within the distance. On a normal probability
    scale the tail is close to straight, so the line carries it down to rates no test set can count.
    """
    points = [
        (t, NormalDist().inv_cdf(float((negatives <= t).mean())))
        for t in range(0, 33, 2)
        if (negatives <= t).sum() >= MIN_TAIL_COUNT and (negatives <= t).mean() <= 0.05
    ]
    if len(points) < 2:
        raise SystemExit("Too few negative pairs near each other to fit the tail; add originals (--generated)")
    slope, intercept = np.polyfit(*zip(*points, strict=True), 1)
    return float(intercept), float(slope)


def measure(hashed: list[Hashed], mode: str) -> Curve:
    stored = similarity.as_unsigned([h.stored[mode] for h in hashed])
    families = np.array([h.family for h in hashed])
    originals = {h.family: i for i, h in enumerate(hashed) if h.transform == "original"}
    positives = {name: [] for name in TRANSFORMS}
    negatives = []
    for h in hashed:
        near = distances(h.queries[mode], stored)
        negatives.append(near[families != h.family])
        if h.transform != "original":
            positives[h.transform].append(int(near[originals[h.family]]))
    return Curve(mode, {k: np.array(v) for k, v in positives.items()}, np.concatenate(negatives))


def choose(curve: Curve, archive: int) -> tuple[int, int]:
    loose = max(
        t
        for t in THRESHOLDS
        if curve.precision(t) >= MIN_PRECISION and curve.modelled_rate(t) * archive <= MAX_EXPECTED_LOOSE
    )
    strict = max(
        t for t in THRESHOLDS if curve.counts(t)[1] == 0 and curve.modelled_rate(t) * archive <= MAX_EXPECTED_STRICT
    )
    # pHash sets 32 of its 64 bits, so distances are even: an odd threshold says no more than the even one below.
    return loose - loose % 2, strict - strict % 2


def print_curve(curve: Curve, archive: int, chosen: tuple[int, int]) -> None:
    print(f"\n== {curve.mode}: {len(np.concatenate(list(curve.positives.values())))} positive pairs, "
          f"{len(curve.negatives):,} negative pairs; negatives' distance mean {curve.negatives.mean():.1f}, "
          f"sd {curve.negatives.std():.2f}, closest {curve.negatives.min()}")  # fmt: skip
    names = list(TRANSFORMS)
    header = f"{'t':>3} {'prec':>6} {'recall':>6} {'F1':>5} {'TP':>4} {'FP':>5} {'FPR':>9} {'model':>9} "
    header += f"{'per lookup':>10}"
    print(header + "".join(f" {n[:9]:>9}" for n in names))
    for t in THRESHOLDS:
        true, false, total = curve.counts(t)
        precision, recall = curve.precision(t), true / total
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        mark = " <- max" if t == chosen[0] else " <- strict" if t == chosen[1] else ""
        print(
            f"{t:>3} {precision:6.3f} {recall:6.3f} {f1:5.3f} {true:>4} {false:>5} {curve.false_positive_rate(t):9.2e} "
            f"{curve.modelled_rate(t):9.2e} {curve.modelled_rate(t) * archive:10.3g}"
            + "".join(f" {curve.recall(t, n):9.2f}" for n in names)
            + mark
        )


# Videos: how many keyframes match


def make_video(source: Image.Image, path: Path, seconds: int = 24, fps: int = 10) -> None:
    """A slow pan and zoom over a picture, a keyframe every second, as a camera clip might be."""
    frame_file = path.with_suffix(".png")
    source.resize((1800, 1200)).save(frame_file)
    zoom = f"zoompan=z='1+0.4*on/{seconds * fps}':x='iw/2-(iw/zoom/2)+on':y='ih/2-(ih/zoom/2)':d={seconds * fps}:s=640x360:fps={fps}"  # noqa: E501
    ffmpeg("-loop", "1", "-i", str(frame_file), "-vf", zoom, "-t", str(seconds), "-g", str(fps), str(path))


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *args[:-1], "-pix_fmt", "yuv420p", "-c:v", "libx264", args[-1]],
        check=True,
        timeout=300,
    )


VIDEO_TRANSFORMS = {
    "re-encoded small": lambda src, dst: ffmpeg(
        "-i", str(src), "-vf", "scale=320:-2", "-crf", "34", "-g", "50", str(dst)
    ),
    "excerpt 6 s": lambda src, dst: ffmpeg("-ss", "9", "-i", str(src), "-t", "6", "-crf", "28", "-g", "25", str(dst)),
}


def keyframe_hashes(path: Path, work: Path) -> list[int]:
    folder = work / "video-artifacts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    reading = perceptual.extract(path, folder)
    return [q.value for q in similarity.reading_query(reading, folder, turns=False)]


def measure_videos(count: int, work: Path, threshold: int) -> dict[str, list[tuple[int, int]]]:
    """For each derived video: (keyframes of it that match the original, keyframes of it); and the same
    for unrelated pairs under "unrelated"."""
    originals, copies = [], []
    for n in range(count):
        path = work / f"video-{n}.mp4"
        make_video(generated_picture(500 + n), path)
        originals.append(keyframe_hashes(path, work))
        for name, make in VIDEO_TRANSFORMS.items():
            copy = work / "video-copy.mp4"
            make(path, copy)
            copies.append((n, name, keyframe_hashes(copy, work)))
    found: dict[str, list[tuple[int, int]]] = {name: [] for name in VIDEO_TRANSFORMS} | {"unrelated": []}
    for family, name, query in copies:
        for n, stored in enumerate(originals):
            matched = sum(int(distances([q], similarity.as_unsigned(stored)).min() <= threshold) for q in query)
            found[name if n == family else "unrelated"].append((matched, len(query)))
    return found


# The plot, drawn with Pillow (no plotting library needed)


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


@dataclass
class Panel:
    box: tuple[int, int, int, int]  # left, top, right, bottom of the plotting area
    y_range: tuple[float, float]
    log: bool = False

    def x(self, t: float) -> float:
        left, _, right, _ = self.box
        return left + (right - left) * t / 32

    def y(self, value: float) -> float:
        _, top, _, bottom = self.box
        low, high = self.y_range
        if self.log:
            value, low, high = math.log10(max(value, 10**low)), low, high
        return bottom - (bottom - top) * (min(max(value, low), high) - low) / (high - low)


def draw_panel(draw: ImageDraw.ImageDraw, panel: Panel, title: str, y_label: str, ticks: list[tuple[float, str]]):
    left, top, right, bottom = panel.box
    draw.text((left, top - 34), title, fill="black", font=font(18))
    draw.text((left - 70, top - 14), y_label, fill="#444", font=font(13))
    for value, label in ticks:
        y = panel.y(value)
        draw.line([left, y, right, y], fill="#e6e6e6")
        draw.text((left - 8, y), label, fill="#444", font=font(13), anchor="rm")
    for t in range(0, 33, 4):
        draw.line([panel.x(t), top, panel.x(t), bottom], fill="#e6e6e6")
        draw.text((panel.x(t), bottom + 6), str(t), fill="#444", font=font(13), anchor="mt")
    draw.rectangle(panel.box, outline="#888")
    draw.text(
        ((left + right) / 2, bottom + 26),
        "threshold (Hamming distance, bits of 64)",
        fill="#444",
        font=font(13),
        anchor="mt",
    )


def draw_series(draw, panel: Panel, values: list[float], colour: str, dashed: bool = False, width: int = 3):
    points = [(panel.x(t), panel.y(v)) for t, v in zip(THRESHOLDS, values, strict=True)]
    for a, b in zip(points, points[1:], strict=False):
        if not dashed:
            draw.line([a, b], fill=colour, width=width)
            continue
        pieces = max(1, round(math.dist(a, b) / 6))
        for n in range(0, pieces, 2):  # 6-pixel dashes with 6-pixel gaps
            start, end = n / pieces, min(n + 1, pieces) / pieces
            draw.line([_along(a, b, start), _along(a, b, end)], fill=colour, width=width)


def _along(a: tuple[float, float], b: tuple[float, float], share: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share


def draw_legend(draw, at: tuple[int, int], entries: list[tuple[str, str, bool]]):
    x, y = at
    for n, (label, colour, dashed) in enumerate(entries):
        row = y + n * 20
        if dashed:
            draw.line([x, row + 8, x + 10, row + 8], fill=colour, width=3)
            draw.line([x + 16, row + 8, x + 26, row + 8], fill=colour, width=3)
        else:
            draw.line([x, row + 8, x + 26, row + 8], fill=colour, width=3)
        draw.text((x + 34, row), label, fill="black", font=font(13))


def mark_thresholds(draw, panel: Panel, chosen: tuple[int, int]):
    _, top, _, bottom = panel.box
    for t, label in ((chosen[0], f"max {chosen[0]}"), (chosen[1], f"strict {chosen[1]}")):
        x = panel.x(t)
        for y in range(top, bottom, 10):
            draw.line([x, y, x, y + 5], fill="black", width=2)
        draw.text((x + 4, top + 4), label, fill="black", font=font(13))


def plot(curves: dict[str, Curve], chosen: tuple[int, int], archive: int, path: Path) -> None:
    image = Image.new("RGB", (1300, 1560), "white")
    draw = ImageDraw.Draw(image)
    unit = [(v / 10, f"{v / 10:.1f}") for v in range(0, 11, 2)]
    chosen_curve = curves["seen-before"]
    true_positives, false_positives, total = chosen_curve.counts(chosen[0])
    draw.text(
        (40, 16),
        f"Near-duplicate threshold for 64-bit pHash: max distance {chosen[0]}, strict {chosen[1]}  "
        f"(seen-before lookup: precision {chosen_curve.precision(chosen[0]):.3f}, "
        f"recall {true_positives / total:.3f})",
        fill="black",
        font=font(20),
    )

    top = Panel((110, 100, 1000, 440), (0, 1))
    draw_panel(draw, top, "Precision and recall by threshold", "share", unit)
    entries = []
    for n, mode in enumerate(MODES):
        curve, colour = curves[mode], COLOURS[n]
        draw_series(draw, top, [curve.precision(t) for t in THRESHOLDS], colour, dashed=True)
        draw_series(draw, top, [curve.recall(t) for t in THRESHOLDS], colour)
        entries += [(f"recall, {mode}", colour, False), (f"precision, {mode}", colour, True)]
    mark_thresholds(draw, top, chosen)
    draw_legend(draw, (1020, 110), entries)

    middle = Panel((110, 560, 1000, 900), (0, 1))
    draw_panel(draw, middle, "Recall per transform (seen-before lookup: trimmed and turned)", "recall", unit)
    entries = []
    for n, name in enumerate(TRANSFORMS):
        draw_series(draw, middle, [chosen_curve.recall(t, name) for t in THRESHOLDS], COLOURS[n])
        entries.append((name, COLOURS[n], False))
    mark_thresholds(draw, middle, chosen)
    draw_legend(draw, (1020, 570), entries)

    bottom = Panel((110, 1020, 1000, 1420), (-6, 6), log=True)
    ticks = [(10.0**e, f"1e{e}") for e in range(-6, 7, 2)]
    draw_panel(
        draw, bottom, f"Unrelated matches to expect per lookup in an archive of {archive:,} hashes", "per lookup", ticks
    )
    entries = []
    for n, mode in enumerate(MODES):
        curve = curves[mode]
        draw_series(draw, bottom, [curve.modelled_rate(t) * archive for t in THRESHOLDS], COLOURS[n])
        measured = [curve.false_positive_rate(t) * archive or 1e-7 for t in THRESHOLDS]
        draw_series(draw, bottom, measured, COLOURS[n], dashed=True, width=2)
        entries += [(f"{mode}, normal fit", COLOURS[n], False), (f"{mode}, measured", COLOURS[n], True)]
    for limit in (MAX_EXPECTED_LOOSE, MAX_EXPECTED_STRICT):
        draw.line([bottom.box[0], bottom.y(limit), bottom.box[2], bottom.y(limit)], fill="#999", width=1)
    mark_thresholds(draw, bottom, chosen)
    draw_legend(draw, (1020, 1030), entries)
    draw.text(
        (40, 1500),
        "Made by bench/similarity_curve.py. Positives: each derived copy against its original; negatives: every file "
        "against every file of the other originals.",
        fill="#444",
        font=font(13),
    )
    image.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--generated", type=int, default=30, help="pictures generated here, besides the corpus")
    parser.add_argument("--videos", type=int, default=6, help="generated videos for the keyframe count")
    parser.add_argument("--archive", type=int, default=1_000_000, help="archive size for the expected matches")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"No corpus at {args.corpus}; pass --corpus DIR (or --corpus to an empty folder for generated only)")
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="similarity-curve-") as tmp:
        work = Path(tmp)
        originals = sorted(p for p in args.corpus.iterdir() if p.is_file())
        for n in range(args.generated):
            path = work / f"generated-{n:02d}.png"
            generated_picture(n).save(path)
            originals.append(path)
        print(f"{len(originals)} originals ({len(originals) - args.generated} from {args.corpus}, "
              f"{args.generated} generated), {len(TRANSFORMS)} derived copies each")  # fmt: skip
        hashed = build_test_set(originals, work)
        print(f"hashed {len(hashed)} files in {time.perf_counter() - started:.0f} s")
        curves = {mode: measure(hashed, mode) for mode in MODES}
        chosen = choose(curves["seen-before"], args.archive)
        for mode in MODES:
            print_curve(curves[mode], args.archive, chosen)
        report(curves, chosen, args.archive)
        if args.videos:
            print_videos(measure_videos(args.videos, work, chosen[0]), chosen[0])
    plot(curves, chosen, args.archive, args.plot)
    print(f"\nplot: {args.plot}")
    return 0


def report(curves: dict[str, Curve], chosen: tuple[int, int], archive: int) -> None:
    loose, strict = chosen
    print(f"\nRule: SIMILARITY_MAX_DISTANCE = the largest threshold with precision >= {MIN_PRECISION} on the test set")
    print(f"and at most {MAX_EXPECTED_LOOSE:g} unrelated match expected per lookup among {archive:,} hashes;")
    print(
        f"SIMILARITY_STRICT_DISTANCE = the largest with no false positive and at most {MAX_EXPECTED_STRICT:g} expected."
    )
    print(f"Chosen on the seen-before lookup: SIMILARITY_MAX_DISTANCE = {loose}, SIMILARITY_STRICT_DISTANCE = {strict}")
    for t in (loose, strict):
        print(f"\nAt distance {t}:")
        print(f"  {'lookup':<12} {'precision':>9} {'recall':>7} {'TP/P':>9} {'FP':>4} {'per lookup':>10}")
        for mode in MODES:
            curve = curves[mode]
            true, false, total = curve.counts(t)
            print(f"  {mode:<12} {curve.precision(t):9.3f} {true / total:7.3f} {true:>4}/{total:<4} {false:>4} "
                  f"{curve.modelled_rate(t) * archive:10.3g}")  # fmt: skip
        print(f"  {'transform':<16} " + " ".join(f"{mode:>11}" for mode in MODES))
        for name in TRANSFORMS:
            print(f"  {name:<16} " + " ".join(f"{curves[m].recall(t, name):11.3f}" for m in MODES))


def print_videos(found: dict[str, list[tuple[int, int]]], threshold: int) -> None:
    print(f"\nVideos at distance {threshold}: keyframes of the copy that match the original (matched/of)")
    for name, pairs in found.items():
        shown = ", ".join(f"{m}/{n}" for m, n in pairs) if name != "unrelated" else ""
        most = max((m for m, _ in pairs), default=0)
        print(f"  {name:<18} {shown}" + (f"most matched by an unrelated pair: {most}" if name == "unrelated" else ""))


if __name__ == "__main__":
    sys.exit(main())
