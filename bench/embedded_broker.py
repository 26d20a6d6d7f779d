"""Embedded broker: small files through `make run`'s worker on the filesystem broker, against the same worker on Redis.

Target (issue 14, target 3): on `make run`'s defaults (SQLite, kombu's filesystem
broker, `celery worker --beat --concurrency=2`), 400 small files go through the
pipeline in at most 1.25 times what the same worker takes with a Redis broker.

Each broker gets a fresh child process of this script with its own temporary
folder: a SQLite database (copied from one migrated here first), `MEDIA_ROOT`
and `VERIFY_DATA_DIR`, and a worker started as `make run` starts it. The clock
starts at the first `ingest_stream` of `--files` distinct small JPEGs into one
case and stops when the case reaches "in_review" with every reading finished.
The Redis run sets only `CELERY_BROKER_URL` (no result backend, as on the
embedded default), so the broker is the one difference. Both runs are made
in the same invocation, alternating, `--rounds` times.

Needs Redis on 127.0.0.1 (a db claimed as bench/worker_throughput.py does).

    .venv/bin/python bench/embedded_broker.py [--files 400] [--concurrency 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from worker_throughput import BenchError, claimed_redis_db, make_photos  # noqa: E402

from tests.services import Process  # noqa: E402

TARGET_RATIO = 1.25


def base_env(work: Path) -> dict[str, str]:
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "verify.settings",
        "MEDIA_ROOT": str(work / "media"),
        "VERIFY_DATA_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
    }
    return env


def wait_for_log(process: Process, text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in process.stderr():
        if process.popen.poll() is not None:
            raise BenchError(f"{process.name} exited before saying {text!r}\n{process.output()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name}: no {text!r} within {seconds:.0f} s\n{process.output()}")
        time.sleep(0.1)


def one_run(args: argparse.Namespace) -> int:
    """In a child process: ingest the files, wait for in_review, print one JSON line of figures."""
    work = Path(args.work)
    env = base_env(work)
    if args.one != "filesystem":
        env["CELERY_BROKER_URL"] = args.one
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from verify import services
    from verify.intake import ingest_stream
    from verify.models import Extraction
    from verify.workflow import DESK

    photos = sorted(Path(args.photos).iterdir())
    desk = User.objects.create_user(username="bench-desk", is_staff=True)
    desk.groups.set(Group.objects.filter(name=DESK))
    case = services.open_case(by=None, title="Embedded broker benchmark", claim="Generated photos.")

    command = [
        "celery",
        "-A",
        "workers",
        "worker",
        "-Q",
        "celery,screening",
        "--beat",
        f"--schedule={work / 'var' / 'celerybeat-schedule'}",
    ]
    command += ["--loglevel=info", f"--concurrency={args.concurrency}"]
    worker = Process.start("worker", command, env, work)
    try:
        wait_for_log(worker, " ready.", 120)
        started = time.perf_counter()
        for path in photos:
            with path.open("rb") as source:
                ingest_stream(case=case, source=source, original_name=path.name, by=desk, origin="benchmark")
        ingest_seconds = time.perf_counter() - started
        intake_end = timezone.now()
        deadline = time.monotonic() + args.timeout
        while True:
            case.refresh_from_db()
            if case.stage == "in_review" and case.pending_extraction_count() == 0:
                break
            if worker.popen.poll() is not None:
                raise BenchError(f"worker exited\n{worker.output()}")
            if time.monotonic() > deadline:
                done = Extraction.objects.filter(media_item__cases=case, finished_at__isnull=False).count()
                print(json.dumps({"timeout": args.timeout, "finished": done}))
                return 0
            time.sleep(0.1)
        wall = time.perf_counter() - started
    finally:
        worker.stop()
    extractions = list(Extraction.objects.filter(media_item__cases=case))
    took = [(e.finished_at - e.started_at).total_seconds() for e in extractions if e.started_at and e.finished_at]
    statuses: dict[str, int] = {}
    for extraction in extractions:
        statuses[extraction.status] = statuses.get(extraction.status, 0) + 1
    print(
        json.dumps(
            {
                "wall": wall,
                "ingest": ingest_seconds,
                "tasks": len(took),
                "task_seconds": sum(took),
                "statuses": statuses,
                "done_in_intake": sum(1 for e in extractions if e.finished_at and e.finished_at <= intake_end),
                "resent": sum(int(n) for n in re.findall(r"Re-sent (\d+) stalled extraction", worker.stderr())),
                "waits": message_waits(extractions),
                "gaps": task_gaps(worker.stderr()),
            }
        )
    )
    return 0


SUCCEEDED = re.compile(r"\[(\S+ \S+): INFO/(ForkPoolWorker-\d+)\] Task \S+ succeeded in ([0-9.e-]+)s")


def task_gaps(worker_log: str) -> list[float]:
    """Seconds from each task's end to the next task's start in the same pool process (the worker's log)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for stamp, process, took in SUCCEEDED.findall(worker_log):
        end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        spans.setdefault(process, []).append((end - float(took), end))
    gaps = []
    for ran in spans.values():
        ran.sort()
        gaps += [max(0.0, start - end) for (_, end), (start, _) in zip(ran, ran[1:], strict=False)]
    return sorted(gaps)


def message_waits(extractions: list) -> list[float]:
    """Seconds from sending each message (a file's readings for one queue) to its first reading's start."""
    from verify.pipeline import queue_for

    first: dict[tuple[int, str], tuple] = {}
    for e in extractions:
        if e.sent_at and e.started_at:
            key = (e.media_item_id, queue_for(e.extractor))
            sent_at, started_at = first.get(key, (e.sent_at, e.started_at))
            first[key] = (min(sent_at, e.sent_at), min(started_at, e.started_at))
    return sorted(max(0.0, (started - sent).total_seconds()) for sent, started in first.values())


def measure(broker: str, label: str, args: argparse.Namespace, template: Path, photos: Path, root: Path) -> dict:
    work = root / label
    shutil.rmtree(work, ignore_errors=True)
    (work / "var").mkdir(parents=True)
    shutil.copy(template, work / "var" / "desk.sqlite3")
    command = [sys.executable, __file__, "--one", broker, "--work", str(work), "--photos", str(photos)]
    command += [f"--concurrency={args.concurrency}", f"--timeout={args.timeout}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=BASE_DIR, env=base_env(work) | {})
    if done.returncode != 0:
        raise BenchError(f"{label} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if "timeout" in figures:
        print(f"  {label}: not finished in {figures['timeout']:.0f} s ({figures['finished']} readings done)")
        figures["wall"] = float("inf")
        return figures
    per_task = (figures["wall"] * args.concurrency - figures["task_seconds"]) / max(1, figures["tasks"])
    print(
        f"  {label:<10} {figures['wall']:7.2f} s  ({figures['tasks']} readings, "
        f"{figures['tasks'] / figures['wall']:.1f}/s; intake {figures['ingest']:.2f} s; "
        f"outside readers {per_task * 1e3:.0f} ms per reading; "
        f"{figures['statuses']})",
        flush=True,
    )
    waits = figures["waits"] or [0.0]
    print(
        f"  {'':<10} {figures['done_in_intake']} readings done by the end of intake; "
        f"message waits p50 {waits[len(waits) // 2]:.2f} s, max {waits[-1]:.2f} s; "
        f"re-sent by the stalled sweep: {figures['resent']} readings",
        flush=True,
    )
    gaps = figures["gaps"] or [0.0]
    print(
        f"  {'':<10} between tasks in a pool process: median {gaps[len(gaps) // 2] * 1e3:.0f} ms, "
        f"{sum(gaps):.1f} s in all",
        flush=True,
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, as make run")
    parser.add_argument("--size", default="160x120", help="generated photo size, WxH")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for in_review")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--photos", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.one:
            return one_run(args)
        return compare(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def compare(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    try:
        template_dir = root / "template"
        (template_dir / "var").mkdir(parents=True)
        command = ["python", "manage.py", "migrate", "--noinput"]
        migrate = Process.start("migrate", command, base_env(template_dir), root)
        if migrate.popen.wait(timeout=300) != 0:
            raise BenchError(f"migrate failed\n{migrate.output()}")
        template = template_dir / "var" / "desk.sqlite3"
        size = tuple(int(n) for n in args.size.split("x"))
        photos = make_photos(root / "photos", args.files, size)
        print(f"{len(photos)} JPEGs of {size[0]}x{size[1]}, worker --concurrency={args.concurrency} --beat, SQLite")
        walls: dict[str, list[float]] = {"filesystem": [], "redis": []}
        with claimed_redis_db() as redis_url:
            for _ in range(args.rounds):
                walls["filesystem"].append(measure("filesystem", "filesystem", args, template, root / "photos", root))
                walls["redis"].append(measure(redis_url, "redis", args, template, root / "photos", root))
        best = {name: min(f["wall"] for f in runs) for name, runs in walls.items()}
        ratio = best["filesystem"] / best["redis"]
        verdict = "holds" if ratio <= TARGET_RATIO else "MISSED"
        print(f"\nfilesystem / Redis (best of {args.rounds}): {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
