"""Re-hash throughput of the fixity checker (`verify.record.fixity.rehash`) against `sha256sum` on the same files.

The files (8 x 64 MiB of random bytes by default) are written to a temporary folder and read
once to warm the page cache, so both sides measure hashing rather than the disk. Each side
re-hashes every file, best of --rounds runs; the digests must agree. Figures are printed,
not asserted.

    .venv/bin/python bench/fixity.py [--files 8] [--size-mib 64] [--rounds 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MB = 1_000_000
BLOCK_BYTES = 16 * 1024 * 1024


def write_files(folder: Path, count: int, size_mib: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = folder / f"original-{n:02d}"
        with open(path, "wb") as out:
            left = size_mib * 1024 * 1024
            while left:
                block = os.urandom(min(BLOCK_BYTES, left))
                out.write(block)
                left -= len(block)
        paths.append(path)
    return paths


def warm(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb") as source:
            while source.read(BLOCK_BYTES):
                pass


def time_sha256sum(paths: list[Path]) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    output = subprocess.run(["sha256sum", *map(str, paths)], check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    digests = {}
    for line in output.splitlines():
        digest, name = line.split(maxsplit=1)
        digests[name.lstrip("*")] = digest
    return seconds, digests


def time_checker(paths: list[Path]) -> tuple[float, dict[str, str]]:
    from verify.record.fixity import rehash

    started = time.perf_counter()
    digests = {str(path): rehash(path)[0] for path in paths}
    return time.perf_counter() - started, digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verify.settings")
    import django

    django.setup()

    folder = Path(tempfile.mkdtemp(prefix="fixity-bench-", dir=args.dir))
    try:
        total = args.files * args.size_mib * 1024 * 1024
        print(f"Writing {args.files} files of {args.size_mib} MiB ({total / MB:,.0f} MB) to {folder} ...", flush=True)
        paths = write_files(folder, args.files, args.size_mib)
        warm(paths)
        best_sum, best_checker = float("inf"), float("inf")
        for round_number in range(1, args.rounds + 1):
            sum_seconds, sum_digests = time_sha256sum(paths)
            checker_seconds, checker_digests = time_checker(paths)
            if sum_digests != checker_digests:
                print("The digests differ between sha256sum and the checker", file=sys.stderr)
                return 1
            print(
                f"round {round_number}: sha256sum {total / MB / sum_seconds:,.0f} MB/s, "
                f"checker {total / MB / checker_seconds:,.0f} MB/s",
                flush=True,
            )
            best_sum, best_checker = min(best_sum, sum_seconds), min(best_checker, checker_seconds)
        sum_rate, checker_rate = total / MB / best_sum, total / MB / best_checker
        print(f"sha256sum: {sum_rate:,.0f} MB/s (best of {args.rounds})")
        print(f"checker (verify.record.fixity.rehash): {checker_rate:,.0f} MB/s (best of {args.rounds})")
        print(f"ratio checker / sha256sum: {checker_rate / sum_rate:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
