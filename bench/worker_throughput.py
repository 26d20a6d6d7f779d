"""Worker throughput: 200 photos through a real Celery worker on a real Redis broker, timed to "in review".

A throwaway PostgreSQL database is created and migrated, a Redis db is claimed
(with the same claim key the process checks in tests/ use), and one worker
process (`celery -A workers worker --concurrency=1`) is started against them.
The clock starts at the first `verify.intake.ingest_stream` of 200 distinct
generated JPEGs into one case and stops when the case reaches "in_review" with
every extraction finished. Figures: wall time, photos/s, the number of
extraction tasks, the slowest task (with its extractor and file) and the
p50/p95 task time. The database is dropped and the claim released at the end.

Needs PostgreSQL (user postgres, trust auth) and Redis on 127.0.0.1.

    .venv/bin/python bench/worker_throughput.py [--photos 200] [--concurrency 1] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.services import REDIS_CLAIM_KEY, REDIS_DBS, REDIS_HOST, REDIS_PORT, Process  # noqa: E402

POSTGRES_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
CLAIM_SECONDS = 600


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


# --- services --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for this run; dropped (WITH (FORCE)) afterwards."""
    name = f"verify_bench_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(**POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 (user postgres) is not reachable: {exc}") from exc
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield f"postgres://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def claimed_redis_db() -> Iterator[str]:
    """A Redis URL on a db that no process check is using; the claim is renewed while the run lasts."""
    token = secrets.token_hex(8)
    for db in REDIS_DBS:
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db, socket_connect_timeout=3, socket_timeout=3)
        try:
            claimed = client.set(REDIS_CLAIM_KEY, token, nx=True, ex=CLAIM_SECONDS)
        except redis.RedisError as exc:
            raise BenchError(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable: {exc}") from exc
        if claimed:
            break
        client.close()
    else:
        raise BenchError(f"Redis dbs {REDIS_DBS} are all claimed by other runs ({REDIS_CLAIM_KEY})")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(CLAIM_SECONDS / 3):
            with contextlib.suppress(redis.RedisError):
                if client.get(REDIS_CLAIM_KEY) == token.encode():
                    client.expire(REDIS_CLAIM_KEY, CLAIM_SECONDS)

    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        client.flushdb()  # a queue left over from a killed run must not feed this worker
        client.set(REDIS_CLAIM_KEY, token, ex=CLAIM_SECONDS)
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        stop.set()
        renewer.join(timeout=5)
        if client.get(REDIS_CLAIM_KEY) == token.encode():
            client.flushdb()
        client.close()


def wait_until(ready, *, process: Process, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if process.popen.poll() is not None:
            raise BenchError(f"{process.name} exited before {what}\n{process.output()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name}: no {what} within {seconds:.0f} s\n{process.output()}")
        time.sleep(0.2)


# --- the photos ------------------------------------------------------------------------------------------------------


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """`count` distinct JPEGs: gradients plus noise, each with EXIF make, model and capture time."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(20240601)
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    paths = []
    for number in range(count):
        phase = number * 7 % 256
        base = np.stack([(x + phase) % 256 + 0 * y, (y + phase) % 256 + 0 * x, (x + y) / 2 + 0 * x], axis=-1)
        pixels = np.clip(base + rng.normal(0, 24, base.shape), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        exif = Image.Exif()
        exif[0x010F] = "BenchCam"  # Make
        exif[0x0110] = f"Model {number % 5}"  # Model
        exif[0x0132] = f"2024:06:01 12:{number // 60 % 60:02d}:{number % 60:02d}"  # DateTime
        exif[0x0131] = "Adobe Photoshop 25.0"  # Software: every photo gets an editing-software flag
        out = io.BytesIO()
        image.save(out, "JPEG", quality=88, exif=exif.tobytes())
        path = folder / f"bench-{number:03d}.jpg"
        path.write_bytes(out.getvalue())
        paths.append(path)
    return paths


# --- the run ---------------------------------------------------------------------------------------------------------


def decode_seconds(paths: list[Path]) -> tuple[float, float]:
    """The mean time of one full Pillow decode (open and load, nothing else) of these files, in this process:
    wall time and CPU time."""
    from PIL import Image

    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        with Image.open(path) as picture:
            picture.load()
    return (time.perf_counter() - started) / len(paths), (time.process_time() - cpu) / len(paths)


def cpu_seconds(root_pid: int) -> float:
    """The CPU time (user and system) a process and its descendants have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in descendants(root_pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def descendants(root_pid: int) -> list[int]:
    """A process and all its descendants, by pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def peak_rss_mib(root_pid: int) -> dict[int, float]:
    """The peak resident memory (VmHWM, MiB) of a process and each of its descendants, by pid (Linux /proc)."""
    peaks = {}
    for pid in descendants(root_pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def first_readings_seconds(case, desk, path: Path) -> tuple[float, float]:
    """On an idle worker: seconds from the intake of one photo until every reading but the screening ones has
    its outcome and the photo's editing-software flag is on the case, and until its last reading."""
    from verify import flags
    from verify.intake import ingest_stream
    from verify.models import Extraction, Flag

    unfinished = (Extraction.Status.PENDING, Extraction.Status.RUNNING)
    started = time.perf_counter()
    with path.open("rb") as source:
        item = ingest_stream(case=case, source=source, original_name=path.name, by=desk, origin="benchmark").media_item
    first = None
    while time.perf_counter() - started < 120:
        waiting = set(item.extractions.filter(status__in=unfinished).values_list("extractor", flat=True))
        flagged = first is None and not waiting - {"forensics"}
        if flagged and Flag.objects.filter(media_item=item, kind=flags.EDITING_SOFTWARE).exists():
            first = time.perf_counter() - started
        if not waiting:
            return first or float("nan"), time.perf_counter() - started
        time.sleep(0.02)
    raise BenchError("the probe photo's readings did not finish within 120 s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(args: argparse.Namespace, work: Path) -> int:
    with throwaway_database() as database_url, claimed_redis_db() as redis_url:
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "verify.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "MEDIA_ROOT": str(work / "media"),
            "VERIFY_DATA_DIR": str(work / "var"),
            "LOG_LEVEL": "WARNING",
        }
        print(f"database {database_url.rsplit('/', 1)[-1]}, broker {redis_url}, work folder {work}", flush=True)
        migrate = Process.start("migrate", ["python", "manage.py", "migrate", "--noinput"], env, work)
        if migrate.popen.wait(timeout=300) != 0:
            raise BenchError(f"migrate failed\n{migrate.output()}")

        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth.models import Group, User
        from django.db.models import F

        from verify import services
        from verify.intake import ingest_stream
        from verify.models import Case, Extraction
        from verify.workflow import DESK

        size = tuple(int(n) for n in args.size.split("x"))
        photos = make_photos(work / "photos", args.photos + 1, size)
        probe, photos = photos[-1], photos[:-1]
        decode_before, decode_cpu_before = decode_seconds(photos)
        photo_bytes = sum(p.stat().st_size for p in photos)
        print(f"{len(photos)} JPEGs of {size[0]}x{size[1]} ({photo_bytes / 1e6:.1f} MB) generated", flush=True)

        desk = User.objects.create_user(username="bench-desk", is_staff=True)
        desk.groups.set(Group.objects.filter(name=DESK))
        case = services.open_case(by=None, title="Worker throughput benchmark", claim="Generated photos.")

        command = ["celery", "--workdir", str(args.root), "-A", "workers", "worker", "-Q", "celery,screening"]
        command += [f"--concurrency={args.concurrency}", "--loglevel=warning"]
        command += ["--without-gossip", "--without-mingle", "--hostname", f"bench-{secrets.token_hex(3)}@%h"]
        worker_env = {**env, "PYTHONPATH": str(args.root)}
        worker = Process.start("worker", command, worker_env, work)
        try:
            wait_until(worker_answers, process=worker, what="worker answering ping", seconds=60)

            worker_cpu = cpu_seconds(worker.popen.pid)
            started = time.perf_counter()
            first_intake = time.time()
            for path in photos:
                with path.open("rb") as source:
                    ingest_stream(case=case, source=source, original_name=path.name, by=desk, origin="benchmark")
            ingest_seconds = time.perf_counter() - started
            print(f"ingested {len(photos)} photos in {ingest_seconds:.2f} s; waiting for in_review ...", flush=True)

            def done() -> bool:
                stage = Case.objects.filter(pk=case.pk).values_list("stage", flat=True).get()
                return stage == "in_review" and Case.objects.get(pk=case.pk).pending_extraction_count() == 0

            wait_until(done, process=worker, what="case in review", seconds=args.timeout)
            wall = time.perf_counter() - started
            worker_cpu = cpu_seconds(worker.popen.pid) - worker_cpu
            # Then one more photo on the worker, warm and idle now.
            probe_case = services.open_case(by=None, title="First readings probe", claim="One generated photo.")
            first_flags, first_all = first_readings_seconds(probe_case, desk, probe)
            peaks = peak_rss_mib(worker.popen.pid)
        finally:
            worker.stop()
            if args.keep_logs:
                for name in ("worker.stdout.log", "worker.stderr.log"):
                    shutil.copy(work / name, Path(args.keep_logs) / name)

        extractions = list(
            Extraction.objects.filter(media_item__cases=case)
            .annotate(took=F("finished_at") - F("started_at"))
            .select_related("media_item")
        )
        timed = [e for e in extractions if e.started_at and e.finished_at]
        seconds = [e.took.total_seconds() for e in timed]
        slowest = max(timed, key=lambda e: e.took)
        statuses = sorted({e.status for e in extractions})
        status_counts = ", ".join(f"{s} {sum(e.status == s for e in extractions)}" for s in statuses)
        last_finished = max(e.finished_at for e in timed).timestamp() - first_intake
        to_review = list(case.events.filter(kind="stage_changed", new__stage="in_review").values_list("at", flat=True))

        decode_after, decode_cpu_after = decode_seconds(photos)
        decode = (decode_before + decode_after) / 2
        decode_cpu = (decode_cpu_before + decode_cpu_after) / 2
        per_photo = wall * args.concurrency / args.photos
        cpu_per_photo = worker_cpu / args.photos
        print(f"\nWorker throughput ({args.photos} photos, {args.concurrency} worker process(es), Redis broker)")
        print(f"  code the worker runs: {args.root}")
        rows = [
            (
                "Pillow full decode of one photo (this process)",
                f"{decode * 1e3:.0f} ms (mean, before and after the run)",
            ),
            (
                "per photo per worker process",
                f"{per_photo * 1e3:.0f} ms = {per_photo / decode:.2f} full-decode equivalents (target <= 6: "
                f"{'holds' if per_photo / decode <= 6 else 'MISSED'})",
            ),
            (
                "  in CPU time (less swayed by other work)",
                f"worker {cpu_per_photo * 1e3:.0f} ms a photo (its processes' user + system time, exiftool's "
                f"included) / decode {decode_cpu * 1e3:.0f} ms = {cpu_per_photo / decode_cpu:.2f} full-decode "
                "equivalents",
            ),
            (
                "first readings on an idle worker",
                f"{first_flags:.2f} s from intake until every reading but forensics (metadata, hashes, seen "
                f"before) has its outcome and the flag is on the case (target <= 1 s: "
                f"{'holds' if first_flags <= 1 else 'MISSED'}); forensics, the last, {first_all:.2f} s",
            ),
            (
                "worker peak RSS (VmHWM)",
                f"{max(peaks.values()):.0f} MiB (target <= 400: {'holds' if max(peaks.values()) <= 400 else 'MISSED'}; "
                + ", ".join(f"{pid}: {mib:.0f}" for pid, mib in sorted(peaks.items()))
                + ")",
            ),
            ("wall time, first intake to in_review", f"{wall:.2f} s"),
            (f"  of which intake ({args.photos} ingest_stream)", f"{ingest_seconds:.2f} s"),
            ("  last extraction finished at", f"{last_finished:.2f} s after first intake"),
            ("photos/s", f"{args.photos / wall:.2f}"),
            (
                "time outside extractors, per task",
                f"{(wall * args.concurrency - sum(seconds)) / len(timed) * 1e3:.0f} ms "
                f"(wall x concurrency - sum of task times {sum(seconds):.2f} s, over {len(timed)} tasks)",
            ),
            ("extraction tasks", f"{len(extractions)} ({status_counts})"),
            (
                "slowest task",
                f"{slowest.took.total_seconds() * 1e3:.0f} ms: {slowest.extractor} on "
                f"{slowest.media_item.original_name} (attempts {slowest.attempts})",
            ),
            (
                "task time p50 / p95 / mean",
                f"{percentile(seconds, 0.5) * 1e3:.0f} / "
                f"{percentile(seconds, 0.95) * 1e3:.0f} / {statistics.mean(seconds) * 1e3:.0f} ms",
            ),
        ]
        in_order = sorted(timed, key=lambda e: e.started_at)
        gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(in_order, in_order[1:], strict=False)]
        if args.concurrency == 1 and gaps:
            rows.append(
                (
                    "gap between tasks p50 / p95",
                    f"{percentile(gaps, 0.5) * 1e3:.0f} / {percentile(gaps, 0.95) * 1e3:.0f} ms "
                    "(one task's finished_at to the next one's started_at)",
                )
            )
        for extractor in sorted({e.extractor for e in timed}):
            mine = [e.took.total_seconds() for e in timed if e.extractor == extractor]
            rows.append((f"  {extractor} p50 / max", f"{percentile(mine, 0.5) * 1e3:.0f} / {max(mine) * 1e3:.0f} ms"))
        rows.append(
            (
                "case moved to in_review",
                f"{len(to_review)} time(s), last {to_review[-1].timestamp() - first_intake:.2f} s after first intake",
            )
        )
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
        from django.db import connections

        connections.close_all()  # so the database can be dropped without forcing our own session out
    return 0


def worker_answers() -> bool:
    """Whether a worker on the configured broker answers a ping."""
    from workers.celery import app

    return bool(app.control.ping(timeout=1.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (celery --concurrency)")
    parser.add_argument("--size", default="1024x768", help="generated photo size, WxH")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for in_review")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the worker's log files to DIR")
    parser.add_argument(
        "--root", type=Path, default=BASE_DIR, help="the checkout whose code the worker runs (default: this one)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    try:
        return run(args, work)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
