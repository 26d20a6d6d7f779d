"""Web under load: browsing and uploading clients against gunicorn, the issue's shape against compose's.

Target (issue 14, target 4): the production shape (docker-compose.yml's gunicorn
arguments) holds 20 browsing and 5 uploading clients for 60 s on loopback with
0 errors and p95 at most 800 ms on the case list and on a case page of 50 files.

The database (`--database-url`, by default postgres://postgres@127.0.0.1:5432/verify_perfdesk,
emptied and migrated) is filled as bench/csv_export.py fills it (`--cases`, 3 files
each), plus one case of `--files` files. Each shape in `--shapes` starts gunicorn
with those arguments on a free port; the baseline is the issue's two sync workers.
Then, for `--seconds`: every browsing client (a thread with its own keep-alive
connection and a signed-in desk session) loads the case list (a page of 50, in
turn sorted and filtered as a desk would) or the 50-file case page, alternately;
every uploading client posts a small distinct JPEG to "Add media" of its own case.
Each client waits `--think` seconds (1 by default, a person reading the page; 0 for
clients that never pause) before its next request.
The broker is kombu's filesystem transport in a temporary folder with no worker,
so uploads queue their readings and nothing reads them.

Prints per shape and per page: requests, errors (status other than 200/302, or a
failed connection), p50/p95/max in ms, and whether the target holds.

    .venv/bin/python bench/web_load.py [--seconds 60] [--browsers 20] [--uploaders 5]
        [--cases 2000] [--files 50] [--shapes baseline,compose]
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import secrets
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from csv_export import populate  # noqa: E402

from tests.services import Process, free_port  # noqa: E402

TARGET_P95_MS = 800
BASELINE = "--workers 2 --timeout 30"  # the measurement: gunicorn's two sync workers


def compose_gunicorn_args() -> str:
    """GUNICORN_CMD_ARGS of docker-compose.yml's web service, without its bind address and access log."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    words = shlex.split(compose["services"]["web"]["environment"]["GUNICORN_CMD_ARGS"])
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("--bind", "--access-logfile"):
            skip = True
            continue
        kept.append(word)
    return shlex.join(kept)


def env_for(database_url: str, work: Path) -> dict[str, str]:
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "DJANGO_SETTINGS_MODULE": "verify.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "filesystem://",
        "MEDIA_ROOT": str(work / "media"),
        "VERIFY_DATA_DIR": str(work / "var"),
        "STATIC_ROOT": str(work / "static"),
        "LOG_LEVEL": "WARNING",
    }


# --- data ------------------------------------------------------------------------------------------------------------


def reset_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[-1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fill(args: argparse.Namespace, uploaders: int) -> dict:
    """Cases as bench/csv_export.py makes them, the case of many files, and the sessions the clients use."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, Permission, User

    from verify import services
    from verify.models import Case, CaseMedia, Extraction, MediaItem
    from verify.workflow import DESK

    counts = populate(args.cases, 3)
    big = services.open_case(by=None, title="A case of many files", claim="Footage from many phones.")
    items = MediaItem.objects.bulk_create(
        MediaItem(
            sha256=f"f{m:063x}",
            kind="photo",
            mime_type="image/jpeg",
            size=2_000_000 + m,
            original_name=f"phone-{m}.jpg",
            file=f"originals/big/{m}",
            width=4000,
            height=3000,
        )
        for m in range(args.files)
    )
    CaseMedia.objects.bulk_create(CaseMedia(case=big, media_item=item) for item in items)
    Extraction.objects.bulk_create(
        Extraction(media_item=item, extractor=name, status="ok", result={"make": "Apple"})
        for item in items
        for name in ("exif", "image", "c2pa", "perceptual", "forensics")
    )
    upload_cases = [
        services.open_case(by=None, title=f"Uploads {n}", claim="Files sent in by readers.").pk
        for n in range(uploaders)
    ]
    desk = User.objects.create_user(username="bench-desk", is_staff=True, password=secrets.token_hex(8))
    desk.groups.set(Group.objects.filter(name=DESK))
    # The export check reads the list's CSV, which takes the export permission.
    desk.user_permissions.add(Permission.objects.get(codename="export_report"))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = []
    for _ in range(args.browsers + uploaders):
        session = store()
        session[SESSION_KEY] = str(desk.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = desk.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    counts["cases"] = Case.objects.count()
    return {"counts": counts, "big": big.pk, "upload_cases": upload_cases, "sessions": sessions}


def small_jpeg(number: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(number)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(out, "JPEG", quality=80)
    return out.getvalue()


# --- clients ---------------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times.setdefault(page, []).append(seconds)
            if error:
                self.errors.setdefault(page, []).append(error)


class Client:
    def __init__(self, port: int, session_key: str) -> None:
        self.port = port
        self.cookie = f"sessionid={session_key}"
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = {"Cookie": self.cookie, "Host": "127.0.0.1", **(headers or {})}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, data, response
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A server that closes an idle keep-alive connection: one fresh try, as a browser does.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


LIST_QUERIES = ["", "?o=-1", "?stage__exact=in_review", "?q=front", "?p=3", "?o=5.-1"]


def browse(client: Client, big: int, stop: float, tally: Tally, think: float) -> None:
    turn = 0
    while time.monotonic() < stop:
        if turn % 2 == 0:
            page, path = "case list", "/admin/verify/case/" + LIST_QUERIES[turn // 2 % len(LIST_QUERIES)]
        else:
            page, path = "case page (50 files)", f"/admin/verify/case/{big}/change/"
        timed(client, page, "GET", path, tally)
        turn += 1
        time.sleep(think)


def upload(client: Client, case_id: int, number: int, stop: float, tally: Tally, think: float) -> None:
    path = f"/admin/verify/case/{case_id}/add-media/"
    sent = 0
    while time.monotonic() < stop:
        try:
            status, body, response = client.request("GET", path)
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
            csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "") or "")
            if csrf_cookie:
                client.cookie = re.sub(r"; csrftoken=[^;]*", "", client.cookie) + f"; csrftoken={csrf_cookie.group(1)}"
        except (OSError, AttributeError, http.client.HTTPException) as exc:
            tally.add("upload", 0.0, f"add-media form: {exc!r}")
            time.sleep(0.5)
            continue
        boundary = uuid.uuid4().hex
        payload = small_jpeg(number * 100_000 + sent)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="reader-{number}-{sent}.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + payload
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": "http://127.0.0.1/"}
        timed(client, "upload", "POST", path, tally, body=body, headers=headers, ok=(302,))
        sent += 1
        time.sleep(think)


def timed(client: Client, page: str, method: str, path: str, tally: Tally, ok=(200,), **kwargs) -> None:
    started = time.perf_counter()
    try:
        status, _, _ = client.request(method, path, **kwargs)
        error = None if status in ok else f"{method} {path}: HTTP {status}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{method} {path}: {exc!r}"
    tally.add(page, time.perf_counter() - started, error)


def print_query_counts(data: dict) -> None:
    """Queries and time per page in this process (Django's test client), the profile behind the figures."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    client = DjangoClient()
    client.force_login(User.objects.get(username="bench-desk"))
    pages = [("case list", "/admin/verify/case/"), ("case list, sorted", "/admin/verify/case/?o=-1")]
    pages.append(("case page (50 files)", f"/admin/verify/case/{data['big']}/change/"))
    for page, path in pages:
        client.get(path)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            status = client.get(path).status_code
            took = time.perf_counter() - started
        print(f"  {page:<22} HTTP {status}, {len(queries)} queries, {took * 1e3:.0f} ms alone")


def export_through(name: str, gunicorn_args: str, env: dict, data: dict, work: Path, expected: int) -> None:
    """The CSV export of every case through gunicorn, read by a slow client, with the worker timeout at 2 s.

    A slow reader (a small receive buffer, 0.05 s between reads) keeps the server's writes
    blocked for longer than the timeout; a sync worker blocked in a write sends no heartbeat."""
    import socket

    port = free_port()
    args = f"--bind 127.0.0.1:{port} {gunicorn_args} --timeout 2"
    # This checks the streamed path, which the list keeps for small exports; a larger one would become a job.
    env = env | {"GUNICORN_CMD_ARGS": args, "EXPORT_STREAM_MAX_CASES": str(expected)}
    server = Process.start(f"gunicorn-export-{name}", ["gunicorn", "verify.wsgi:application"], env, work)
    try:
        wait_until_up(server, port)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.settimeout(60)
        sock.connect(("127.0.0.1", port))
        request = (
            "GET /admin/verify/case/export/csv/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: sessionid={data['sessions'][0]}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        started, received = time.perf_counter(), bytearray()
        while chunk := sock.recv(8192):
            received += chunk
            time.sleep(0.05)
        took = time.perf_counter() - started
        sock.close()
    finally:
        server.stop()
    body, complete = dechunk(bytes(received).split(b"\r\n\r\n", 1)[-1])
    rows = body.count(b"\n") - 1  # the bench's claims and titles have no line breaks
    print(
        f"  export CSV through {name}, timeout 2 s, slow reader: {len(body) / 1e6:.1f} MB in {took:.1f} s, "
        f"{rows} of {expected} rows, {'complete' if complete and rows >= expected else 'CUT SHORT'}"
    )


def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """The body of a chunked response, and whether it reached the last (empty) chunk."""
    body, at = bytearray(), 0
    while (end := raw.find(b"\r\n", at)) != -1:
        size = int(raw[at:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return bytes(body), True
        body += raw[end + 2 : end + 2 + size]
        at = end + 2 + size + 2
    return bytes(body), False


def wait_until_up(server: Process, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            if server.popen.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start\n{server.output()}") from None
            time.sleep(0.3)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_shape(name: str, gunicorn_args: str, args: argparse.Namespace, env: dict, data: dict, work: Path) -> dict:
    port = free_port()
    shape_env = env | {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} {gunicorn_args}"}
    server = Process.start(f"gunicorn-{name}", ["gunicorn", "verify.wsgi:application"], shape_env, work)
    try:
        wait_until_up(server, port)
        # Warm every worker's imports and connections before the clock starts.
        warm = Client(port, data["sessions"][0])
        for _ in range(6):
            warm.request("GET", "/admin/verify/case/")
            warm.request("GET", f"/admin/verify/case/{data['big']}/change/")
        tally = Tally()
        stop = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=browse, args=(Client(port, key), data["big"], stop, tally, args.think))
            for key in data["sessions"][: args.browsers]
        ]
        threads += [
            threading.Thread(target=upload, args=(Client(port, key), case_id, n, stop, tally, args.think))
            for n, (key, case_id) in enumerate(
                zip(data["sessions"][args.browsers :], data["upload_cases"], strict=True)
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    print(f"\n{name}: gunicorn {gunicorn_args}")
    result = {}
    for page in ("case list", "case page (50 files)", "upload"):
        times = tally.times.get(page, [])
        errors = tally.errors.get(page, [])
        if not times:
            print(f"  {page:<22} no requests")
            continue
        p95 = percentile(times, 0.95) * 1e3
        holds = "" if page == "upload" else ("  holds" if p95 <= TARGET_P95_MS and not errors else "  MISSED")
        print(
            f"  {page:<22} {len(times):5d} requests, {len(errors)} errors, "
            f"p50 {statistics.median(times) * 1e3:6.0f} ms, p95 {p95:6.0f} ms, max {max(times) * 1e3:6.0f} ms{holds}"
        )
        for error in sorted(set(errors))[:3]:
            print(f"      {error}")
        result[page] = {"p95": p95, "errors": len(errors)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--uploaders", type=int, default=5)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--files", type=int, default=50, help="files on the case page the browsers open")
    parser.add_argument("--shapes", default="baseline,compose", help="baseline (2 sync workers), compose, or both")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a browsing client reads a page")
    parser.add_argument("--export-check", action="store_true", help="then export every case through each shape")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/verify_perfdesk")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        env = env_for(args.database_url, work)
        (work / "var").mkdir()
        reset_database(args.database_url)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("collectstatic", interactive=False, verbosity=0)
        data = fill(args, args.uploaders)
        print_query_counts(data)
        connections.close_all()
        print(
            f"{data['counts']['cases']} cases, one of {args.files} files; "
            f"{args.browsers} browsing and {args.uploaders} uploading clients for {args.seconds:.0f} s"
        )
        shapes = {"baseline": BASELINE, "compose": compose_gunicorn_args()}
        for name in args.shapes.split(","):
            run_shape(name, shapes[name], args, env, data, work)
        if args.export_check:
            for name in args.shapes.split(","):
                export_through(name, shapes[name], env, data, work, data["counts"]["cases"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
