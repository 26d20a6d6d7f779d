"""Peak memory of reading huge pictures: every photo extractor in a worker-like process, and search by file in
the web process, each run in a fresh interpreter, against a baseline measured in the same run.

Files (generated in a temporary folder, never kept): a paletted PNG of 99.9 megapixels with a transparent
colour (a decompression bomb: a few hundred KB), a 100-megapixel JPEG, a 100-megapixel HEIC; just under the
decoding limit, a 48-megapixel HEIC (a phone's largest setting) and a 48-megapixel RGBA PNG; and a 12- and a
24-megapixel JPEG for comparison. Baselines: a process that only imports the extractors, one that also lets
Pillow decode the 12-megapixel photo in full, and a web process that signs in and opens the search page.
Target, reported not asserted: every reading under --target MiB (300).

    .venv/bin/python bench/decode_memory.py [--root DIR] [--keep DIR] [--target 300]

--root runs another checkout's code (e.g. an older commit, exported with `git archive`) over the same files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.decode_memory import (  # noqa: E402
    PHOTO_EXTRACTORS,
    Reading,
    bomb_png,
    large_heic,
    large_jpeg,
    large_png,
    measure,
    web_env,
)


def make_files(folder: Path) -> list[Path]:
    started = time.perf_counter()
    files = [
        bomb_png(folder / "bomb-99.9mp.png"),
        large_jpeg(folder / "photo-100mp.jpg"),
        large_heic(folder / "photo-100mp.heic"),
        large_heic(folder / "photo-48mp.heic", (8000, 6000)),
        large_png(folder / "rgba-48mp.png", (8000, 6000)),
        large_jpeg(folder / "photo-24mp.jpg", (6000, 4000)),
        large_jpeg(folder / "photo-12mp.jpg", (4000, 3000)),
    ]
    print(f"Generated {len(files)} files in {time.perf_counter() - started:.0f} s:")
    for path in files:
        print(f"  {path.name:22} {path.stat().st_size:>12,} bytes")
    return files


def show(reading: Reading, target: float, baseline: float) -> None:
    verdict = "holds" if reading.peak_mib <= target else "MISSED"
    outcome = reading.outcome if len(reading.outcome) <= 150 else reading.outcome[:147] + "..."
    print(
        f"  {reading.step:11} {reading.file:22} {reading.peak_mib:7.1f} MiB  (+{reading.peak_mib - baseline:6.1f})"
        f"  {verdict:6}  {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=BASE_DIR, help="the checkout whose code runs (default: this one)")
    parser.add_argument("--keep", type=Path, help="generate the files here and keep them (reused when present)")
    parser.add_argument("--target", type=float, default=300.0, help="peak RSS target in MiB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-decode-memory-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = sorted(folder.glob("*.png")) + sorted(folder.glob("*.j*g")) + sorted(folder.glob("*.heic"))
        files = files if len(files) == 7 else make_files(folder)
        photo_12mp = next(path for path in files if path.name == "photo-12mp.jpg")
        work = Path(tmp) / "work"
        print(f"\nCode: {args.root}\nWorker-like process (peak RSS, VmHWM; + is above the import baseline):")
        imported = measure("import", photo_12mp, work, root=args.root)
        show(imported, args.target, imported.peak_mib)
        show(measure("pillow", photo_12mp, work, root=args.root), args.target, imported.peak_mib)
        for path in files:
            for step in PHOTO_EXTRACTORS:
                show(measure(step, path, work, root=args.root), args.target, imported.peak_mib)
        env = web_env(Path(tmp) / "web", root=args.root)
        print("\nWeb process, search by file (signed in; + is above opening the search page):")
        page = measure("web-page", photo_12mp, work, env, root=args.root)
        show(page, args.target, page.peak_mib)
        for path in files:
            show(measure("web-search", path, work, env, root=args.root), args.target, page.peak_mib)


if __name__ == "__main__":
    main()
