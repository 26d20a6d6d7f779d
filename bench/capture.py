"""Post capture: time to all outcomes for a local post with a 20 MB video, and ten captures at once on one host.

A local site serves a post page (Open Graph video and a <video> tag) whose video is a real ~20 MB MP4
made with ffmpeg. Captures run here as a worker runs them (`verify.capture.jobs.run_capture`), with
Chromium, yt-dlp and the guarding proxy all real; the readings intake queues are not run.

1. One capture: wall time from start to every step's outcome, against a baseline measured in the same
   run: the same-size video alone fetched by the guarded client into intake (what a link download does).
2. Ten captures of ten different posts at once, one thread each (a worker with concurrency 10): wall
   time, how many finished with every step ok (none lost), and the peak memory of this process and all
   its children (chromedriver, Chromium) as PSS (shared pages counted once), sampled every 0.1 s, with
   CAPTURE_BROWSERS Chromium places; against the baseline of part 1's single capture (its peak memory,
   and its time ten times over). The database is SQLite in a temporary folder, or the PostgreSQL
   database of --database-url, dropped and created afresh.

    .venv/bin/python bench/capture.py [--video-mb 20] [--captures 10] [--browsers 2]
        [--database-url postgres://postgres@127.0.0.1:5432/verify_capture]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MB = 1_000_000


def make_video(path: Path, megabytes: int) -> bytes:
    seconds = 20
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=1280x720:rate=25",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{megabytes * 8 // seconds}M", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path.read_bytes()


def serve(video: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/post/"):
                number = self.path.rsplit("/", 1)[1]
                body = (
                    f'<html><head><meta property="og:title" content="Post {number}">'
                    f'<meta property="og:video" content="{base}/video/{number}.mp4">'
                    f'<meta property="article:published_time" content="2024-11-05T14:03:11+02:00"></head>'
                    f'<body><h1>Post {number}</h1><video src="{base}/video/{number}.mp4"></video></body></html>'
                ).encode()
                content_type = "text/html"
            elif self.path.startswith("/video/"):
                number = int(self.path.rsplit("/", 1)[1].split(".")[0])
                body = video + number.to_bytes(4, "big")  # each post's video is a distinct file
                content_type = "video/mp4"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def tree_pss_kib(root: int) -> int:
    """Proportional set size of `root` and every process below it, from /proc (shared pages counted once)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
        todo.extend(children.get(pid, []))
    return total


class PeakMemory:
    def __init__(self):
        self.peak, self.stop = 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_pss_kib(os.getpid()))
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join()


def fresh_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video-mb", type=int, default=20)
    parser.add_argument("--captures", type=int, default=10)
    parser.add_argument("--browsers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="verify-bench-capture-"))
    video = make_video(work / "video.mp4", args.video_mb)
    httpd = serve(video)
    port = httpd.server_address[1]
    os.environ.update(
        VERIFY_DATA_DIR=str(work / "var"),
        MEDIA_ROOT=str(work / "media"),
        OUTBOUND_ALLOW=f"127.0.0.1:{port}",
        CAPTURE_BROWSERS=str(args.browsers),
        DJANGO_SETTINGS_MODULE="verify.settings",
    )
    if args.database_url:
        fresh_database(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from tests.factories import make_case, make_user
    from verify import intake
    from verify.capture import jobs
    from verify.models import CaptureJob

    call_command("migrate", verbosity=0)
    desk = make_user("desk", username=f"bench-{os.getpid()}")
    case = make_case(by=desk, stage="triage")

    def run(number: int) -> CaptureJob:
        try:
            job = jobs.queue_capture(case=case, url=f"http://127.0.0.1:{port}/post/{number}", by=desk, send_now=False)
            jobs.run_capture(job.pk)
            job.refresh_from_db()
            return job
        finally:
            connections.close_all()

    print(f"Video: {len(video) / MB:.1f} MB; Chromium places: {args.browsers}; database: "
          f"{connections['default'].vendor}")  # fmt: skip
    started = time.monotonic()
    intake.ingest_url(case=case, url=f"http://127.0.0.1:{port}/video/{args.captures + 1}.mp4", by=desk)
    baseline = time.monotonic() - started
    print(f"0. Baseline: the video alone through the guarded client into intake: {baseline:.1f} s")
    with PeakMemory() as memory:
        started = time.monotonic()
        job = run(0)
        took = time.monotonic() - started
    outcomes = {step: outcome["outcome"] for step, outcome in job.steps.items()}
    single_took, single_peak = took, memory.peak
    print(f"1. One post with a {len(video) / MB:.0f} MB video: all outcomes in {took:.1f} s "
          f"({took / baseline:.1f}x the baseline): {outcomes}")  # fmt: skip
    print(f"   peak memory (PSS) of the process and its browser: {memory.peak / 1024:.0f} MiB")

    with PeakMemory() as memory, ThreadPoolExecutor(max_workers=args.captures) as pool:
        started = time.monotonic()
        done = list(pool.map(run, range(1, args.captures + 1)))
        took = time.monotonic() - started
    complete = sum(all(o["outcome"] == "ok" for o in job.steps.values()) for job in done)
    stored = sum(job.media_items.count() for job in done)
    lost = sum(job.status != "done" for job in done)
    print(f"2. {args.captures} captures at once: {took:.1f} s ({took / (single_took * args.captures):.2f}x "
          f"one capture's time {args.captures} times over); {complete} of {args.captures} with every step ok, "
          f"{stored} videos stored, {lost} lost")  # fmt: skip
    print(f"   peak memory (PSS: process + chromedriver + Chromium): {memory.peak / 1024:.0f} MiB "
          f"({memory.peak / single_peak:.2f}x one capture's peak)")  # fmt: skip
    httpd.shutdown()


if __name__ == "__main__":
    main()
