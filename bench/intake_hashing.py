"""Hashing while storing a large file: `verify.intake.store_stream` against `sha256sum` on the same file.

Target: store_stream (which hashes AND writes the temporary copy that becomes the
content-addressed original) runs at no less than 80% of sha256sum's speed, with a
peak RSS under 100 MB in the storing process. Both are reported, not asserted.

The file (1 GiB of random bytes by default) is written to a temporary folder and
read once to warm the page cache. sha256sum and store_stream each run three times
(best run counts); every store_stream run is a fresh child process of this script
that sets up Django, stores the file, deletes the copy and reports its own RSS.

    .venv/bin/python bench/intake_hashing.py [--size-mib 1024] [--rounds 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BLOCK_BYTES = 16 * 1024 * 1024
MB = 1_000_000
TARGET_RATIO = 0.80
TARGET_PEAK_RSS_MB = 100


def rss_kib() -> int:
    """This process's resident set size now, from /proc (KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("No VmRSS line in /proc/self/status")


def write_test_file(path: Path, size_mib: int) -> int:
    """Write `size_mib` MiB of incompressible bytes: one random 16 MiB block repeated."""
    block = os.urandom(BLOCK_BYTES)
    remaining = size_mib * 1024 * 1024
    with path.open("wb") as out:
        while remaining:
            n = min(remaining, BLOCK_BYTES)
            out.write(block[:n])
            remaining -= n
    return path.stat().st_size


def warm_page_cache(path: Path) -> None:
    buffer = bytearray(BLOCK_BYTES)
    with path.open("rb", buffering=0) as source:
        while source.readinto(buffer):
            pass


def time_sha256sum(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout.split()[0]


def time_openssl(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(["openssl", "dgst", "-sha256", "-r", str(path)], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout.split()[0]


def time_store_stream(path: Path, work_dir: Path, size: int) -> dict:
    """One store_stream run in a fresh child process; returns what the child reports."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "verify.settings",
        "DEBUG": "1",
        "MEDIA_ROOT": str(work_dir / "media"),
        "VERIFY_DATA_DIR": str(work_dir / "var"),
        "MAX_UPLOAD_BYTES": str(max(size + 1, 4 * 1024**3)),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"The store_stream child failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(path: Path) -> None:
    """Set up Django, store `path` with store_stream, delete the copy, print timings and RSS as JSON."""
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from verify.intake import store_stream

    rss_before = rss_kib()
    with path.open("rb") as source:
        started = time.perf_counter()
        sha256, size, _head, stored = store_stream(source)
        seconds = time.perf_counter() - started
    stored.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {"seconds": seconds, "sha256": sha256, "size": size, "rss_before_kib": rss_before, "peak_rss_kib": peak}
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the test file in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side; the best counts (default 3)")
    parser.add_argument("--dir", type=Path, default=None, help="where to make the temporary folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    if not shutil.which("sha256sum"):
        print("sha256sum is not installed (coreutils); nothing to compare against", file=sys.stderr)
        return 1

    work_dir = Path(tempfile.mkdtemp(prefix="bench-intake-", dir=args.dir))
    try:
        path = work_dir / "big.bin"
        print(f"Writing {args.size_mib} MiB to {path} ...", flush=True)
        size = write_test_file(path, args.size_mib)
        os.sync()  # no writeback of the test file during the timed runs
        warm_page_cache(path)

        sums = [time_sha256sum(path) for _ in range(args.rounds)]
        stores = [time_store_stream(path, work_dir, size) for _ in range(args.rounds)]
        # For context only: OpenSSL's SHA-256 (SHA-NI where the CPU has it) is the same code hashlib uses.
        openssl = [time_openssl(path) for _ in range(args.rounds)] if shutil.which("openssl") else []
        best_sum = min(seconds for seconds, _ in sums)
        best_store = min(stores, key=lambda run: run["seconds"])
        reference = sums[0][1]
        hashes_agree = all(h == reference for _, h in sums + openssl) and all(
            run["sha256"] == reference for run in stores
        )
        sizes_agree = all(run["size"] == size for run in stores)

        sum_rate = size / MB / best_sum
        store_rate = size / MB / best_store["seconds"]
        ratio = store_rate / sum_rate
        peak_mb = max(run["peak_rss_kib"] for run in stores) * 1024 / MB
        before_mb = max(run["rss_before_kib"] for run in stores) * 1024 / MB

        rows = [
            ("file size", f"{size:,} bytes ({size / 1024**2:,.0f} MiB)"),
            ("sha256sum", f"{sum_rate:,.0f} MB/s (best {best_sum:.3f} s of {args.rounds})"),
            ("store_stream (hash + write)", f"{store_rate:,.0f} MB/s (best {best_store['seconds']:.3f} s)"),
            ("all runs sha256sum (s)", " ".join(f"{s:.3f}" for s, _ in sums)),
            ("all runs store_stream (s)", " ".join(f"{run['seconds']:.3f}" for run in stores)),
            ("ratio store_stream / sha256sum", f"{ratio:.2f}"),
        ]
        if openssl:
            best_openssl = min(seconds for seconds, _ in openssl)
            openssl_rate = size / MB / best_openssl
            rows += [
                ("openssl dgst -sha256 (context only)", f"{openssl_rate:,.0f} MB/s (best {best_openssl:.3f} s)"),
                ("ratio store_stream / openssl", f"{store_rate / openssl_rate:.2f}"),
            ]
        rows += [
            ("RSS of storing process before streaming", f"{before_mb:.1f} MB"),
            ("peak RSS of storing process", f"{peak_mb:.1f} MB (ru_maxrss, worst of {args.rounds})"),
            ("hashes agree", f"{'yes' if hashes_agree else 'NO'} ({reference[:16]}...)"),
            ("sizes agree", "yes" if sizes_agree else "NO"),
            (
                f"target: ratio >= {TARGET_RATIO:.2f}",
                "holds" if ratio >= TARGET_RATIO else "MISSED",
            ),
            (
                f"target: peak RSS < {TARGET_PEAK_RSS_MB} MB",
                "holds" if peak_mb < TARGET_PEAK_RSS_MB else "MISSED",
            ),
        ]
        print_table("Intake hashing (MB = 10^6 bytes)", rows)
        return 0 if hashes_agree and sizes_agree else 1
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
