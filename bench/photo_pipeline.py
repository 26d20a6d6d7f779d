"""Photo pipeline speed: every photo extractor over the corpus photos, and the metadata step against exiftool.

Figures: images per second for the whole photo pipeline (every extractor whose
KINDS include "photo", one after another, in one process, as one worker process
runs them), the mean time of each extractor, and the metadata step (the exif
extractor alone, and exif + image) over all the photos against one
`exiftool -j FILES...` process over the same files (best of 3 each). The target,
reported not asserted, is a metadata step faster than exiftool.

The metadata step is timed twice: warm (in this process, modules imported) and
cold (a fresh Python process that imports the extractors and reads every file,
which is the fair match for exiftool's own start-up).

    .venv/bin/python bench/photo_pipeline.py [--corpus ../shared/corpus/photos] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from workers.extractors import extractors_for, registry  # noqa: E402
from workers.extractors.base import ExtractionFailed, Unsupported  # noqa: E402

DEFAULT_CORPUS = BASE_DIR.parent / "shared" / "corpus" / "photos"
EXIFTOOL_HINT = "apt-get install libimage-exiftool-perl"


def run_one(module: ModuleType, path: Path, artifacts_dir: Path) -> tuple[float, str]:
    """Run one extractor on one file in a fresh, empty artifacts folder; (seconds, outcome)."""
    shutil.rmtree(artifacts_dir, ignore_errors=True)
    artifacts_dir.mkdir(parents=True)
    started = time.perf_counter()
    try:
        module.extract(path, artifacts_dir)
        outcome = "ok"
    except Unsupported:
        outcome = "unsupported"
    except ExtractionFailed:
        outcome = "failed"
    except Exception as exc:  # a bug in the code under test is a finding, not a crash here
        outcome = f"bug: {type(exc).__name__}"
    return time.perf_counter() - started, outcome


def pipeline_round(modules: list[ModuleType], files: list[Path], work: Path, timings, outcomes) -> float:
    started = time.perf_counter()
    for path in files:
        for module in modules:
            seconds, outcome = run_one(module, path, work / module.NAME)
            timings[module.NAME].append((seconds, path.name))
            outcomes[module.NAME][outcome] += 1
    return time.perf_counter() - started


def full_decode_round(files: list[Path]) -> float:
    """Seconds for one plain Pillow decode (open and load) of every file: the yardstick of the pipeline's cost."""
    from PIL import Image

    started = time.perf_counter()
    for path in files:
        try:
            with Image.open(path) as picture:
                picture.load()
        except (OSError, ValueError):
            continue  # a file Pillow cannot decode in full costs what it costs; the extractors still read it
    return time.perf_counter() - started


def metadata_step(modules: list[ModuleType], files: list[Path], work: Path) -> float:
    started = time.perf_counter()
    for path in files:
        for module in modules:
            run_one(module, path, work / module.NAME)
    return time.perf_counter() - started


def metadata_step_cold(names: list[str], files: list[Path], work: Path) -> float:
    """Wall time of a fresh interpreter that imports the extractors and runs them over every file."""
    code = (
        "import sys, pathlib; sys.path.insert(0, sys.argv[1]);"
        "from workers.extractors import registry;"
        "from workers.extractors.base import ExtractionFailed, Unsupported;"
        "mods = [registry()[n] for n in sys.argv[2].split(',')]; out = pathlib.Path(sys.argv[3])\n"
        "for f in sys.argv[4:]:\n"
        "    for m in mods:\n"
        "        d = out / m.NAME; d.mkdir(parents=True, exist_ok=True)\n"
        "        try: m.extract(pathlib.Path(f), d)\n"
        "        except (ExtractionFailed, Unsupported): pass\n"
    )
    command = [sys.executable, "-c", code, str(BASE_DIR), ",".join(names), str(work / "cold"), *map(str, files)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_exiftool(files: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(["exiftool", "-j", *map(str, files)], capture_output=True)
    seconds = time.perf_counter() - started
    return seconds, len(json.loads(done.stdout or b"[]"))


def profile_round(modules: list[ModuleType], files: list[Path], work: Path, top: int) -> None:
    for module in modules:
        profiler = cProfile.Profile()
        profiler.enable()
        for path in files:
            run_one(module, path, work / module.NAME)
        profiler.disable()
        print(f"\n--- cProfile: {module.NAME} over {len(files)} files (top {top} by cumulative time)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of photos")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the full pipeline (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of each extractor")
    parser.add_argument("--profile-top", type=int, default=12)
    args = parser.parse_args()

    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    if not files:
        print(f"No files in {args.corpus}", file=sys.stderr)
        return 1
    try:
        modules = extractors_for("photo")
    except ModuleNotFoundError as exc:
        print(f"An extractor module is missing ({exc}); run again once workers/extractors is complete", file=sys.stderr)
        return 1
    names = [module.NAME for module in modules]
    total_bytes = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files ({total_bytes / 1e6:.1f} MB) from {args.corpus}")
    print(f"photo extractors: {', '.join(names)}; {args.rounds} timed rounds after one warm-up round", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-photo-"))
    try:
        timings: dict[str, list[tuple[float, str]]] = defaultdict(list)
        outcomes: dict[str, Counter] = defaultdict(Counter)
        pipeline_round(modules, files, work, defaultdict(list), defaultdict(Counter))  # imports, caches
        round_seconds, decode_seconds = [], []
        for _ in range(args.rounds):
            decode_seconds.append(full_decode_round(files))
            round_seconds.append(pipeline_round(modules, files, work, timings, outcomes))

        best = min(round_seconds)
        print(f"\nFull photo pipeline, one process ({len(files)} files x {len(names)} extractors)")
        print(f"  images/s per worker process   {len(files) / best:.2f} (best round {best:.3f} s)")
        mean_round = statistics.mean(round_seconds)
        decode = statistics.mean(decode_seconds)
        print(
            f"  Pillow full decode, all files  {decode:.3f} s a round (mean): the pipeline costs "
            f"{mean_round / decode:.2f} full-decode equivalents"
        )
        print(
            f"  images/s, mean of rounds      {len(files) / mean_round:.2f} (rounds: "
            + " ".join(f"{s:.3f}" for s in round_seconds)
            + " s)"
        )
        print(f"\n  {'extractor':<12} {'mean ms':>9} {'median ms':>10} {'max ms':>9}  slowest file / outcomes")
        for name in names:
            seconds = [s for s, _ in timings[name]]
            slowest_s, slowest_file = max(timings[name])
            counts = ", ".join(f"{k} {v // args.rounds}" for k, v in sorted(outcomes[name].items()))
            print(
                f"  {name:<12} {statistics.mean(seconds) * 1e3:9.1f} {statistics.median(seconds) * 1e3:10.1f}"
                f" {slowest_s * 1e3:9.1f}  {slowest_file} / {counts}"
            )

        registry_ = registry()
        exif_only = [registry_["exif"]]
        exif_image = [registry_[n] for n in ("exif", "image") if n in registry_]
        warm_exif = min(metadata_step(exif_only, files, work) for _ in range(3))
        warm_both = min(metadata_step(exif_image, files, work) for _ in range(3))
        cold_exif = min(metadata_step_cold(["exif"], files, work) for _ in range(3))
        cold_both = min(metadata_step_cold([m.NAME for m in exif_image], files, work) for _ in range(3))

        print(f"\nMetadata step over the same {len(files)} files (best of 3; ratio = ours / exiftool, < 1 is faster)")
        exiftool = shutil.which("exiftool")
        tool_seconds = None
        if exiftool:
            runs = [time_exiftool(files) for _ in range(3)]
            tool_seconds = min(s for s, _ in runs)
            version = subprocess.run(["exiftool", "-ver"], capture_output=True, text=True).stdout.strip()
            print(f"  exiftool {version} -j FILES ({runs[0][1]} records)  {tool_seconds * 1e3:9.1f} ms")
        else:
            print(f"  exiftool is not installed; for the comparison: {EXIFTOOL_HINT}")
        both_label = "+".join(m.NAME for m in exif_image)
        for label, seconds in (
            ("exif, warm (in process)", warm_exif),
            (f"{both_label}, warm (in process)", warm_both),
            ("exif, cold (fresh python)", cold_exif),
            (f"{both_label}, cold (fresh python)", cold_both),
        ):
            ratio = ""
            if tool_seconds:
                ratio = f"ratio {seconds / tool_seconds:.2f} ({'faster' if seconds < tool_seconds else 'SLOWER'})"
            print(f"  {label:<36} {seconds * 1e3:9.1f} ms  {ratio}")

        if args.profile:
            profile_round(modules, files, work, args.profile_top)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
