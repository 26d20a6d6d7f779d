"""End to end: upload through the admin of a running web process; a real Celery worker on Redis reads the files."""

import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes, mp4_file
from tests.services import BASE_DIR, Process, claimed_redis_db, desk_env, free_port, require_services, wait_for
from verify.models import Case, Extraction
from workers.extractors import exiftool

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PASSWORD = "end-to-end-pass-1"


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Browser:
    """Just enough of a browser for the admin: cookies, CSRF tokens, form posts."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, body: bytes, content_type: str) -> str:
        request = urllib.request.Request(
            self.base_url + path, data=body, headers={"Content-Type": content_type, "Referer": self.base_url + path}
        )
        with self.opener.open(request, timeout=120) as response:
            return response.read().decode()

    def csrf(self, html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def log_in(self, username: str, password: str) -> None:
        token = self.csrf(self.get("/admin/login/"))
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
        ).encode()
        page = self.post("/admin/login/?next=/admin/", body, "application/x-www-form-urlencoded")
        assert "Log out" in page or "log out" in page.lower(), "login failed"


@pytest.fixture
def desk_processes(tmp_path):
    """A web process and a Celery worker sharing this test's database, a Redis broker and a media folder."""
    require_services()
    with claimed_redis_db() as redis_url:
        env = desk_env(tmp_path, REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url)
        port = free_port()
        web = Process.start(
            "web", ["python", "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env, tmp_path
        )
        worker = Process.start(
            "worker",
            [
                "celery",
                "-A",
                "workers",
                "worker",
                "-Q",
                "celery,screening",
                "--loglevel=info",
                "--concurrency=2",
                "--without-gossip",
            ],
            env,
            tmp_path,
        )
        try:
            browser = Browser(f"http://127.0.0.1:{port}")
            wait_for(lambda: _answers(browser), process=web, what="HTTP answer")
            wait_for(lambda: "ready." in worker.stderr(), process=worker, what="worker ready")
            yield browser, web, worker, env
        finally:
            worker.stop()
            web.stop()


def _answers(browser: Browser) -> bool:
    try:
        browser.get("/healthz")
    except OSError:
        return False
    return True


def test_it_takes_an_upload_through_the_worker_to_review(desk_processes, tmp_path, settings):
    browser, web, worker, env = desk_processes
    media_root = Path(env["MEDIA_ROOT"])
    # The web process checks passwords with the production hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    desk = make_user("desk", username="e2e-desk")
    desk.set_password(PASSWORD)
    desk.save()
    case = make_case(by=desk, stage="triage", title="End-to-end case")
    video = mp4_file(tmp_path / "clip.mp4").read_bytes()

    browser.log_in("e2e-desk", PASSWORD)
    form = browser.get(f"/admin/verify/case/{case.pk}/add-media/")
    body, content_type = multipart(
        {"csrfmiddlewaretoken": browser.csrf(form), "url": ""},
        [
            ("files", "photo.jpg", jpeg_bytes(seed=11)),
            ("files", "clip.mp4", video),
            ("files", "notes.txt", b"a tip, not a photo"),
        ],
    )
    page = browser.post(f"/admin/verify/case/{case.pk}/add-media/", body, content_type)
    assert "3 file(s) added" in page, web.output()

    deadline = time.monotonic() + 120
    while Case.objects.get(pk=case.pk).stage != "in_review":
        assert time.monotonic() < deadline, f"case still {Case.objects.get(pk=case.pk).stage}\n{worker.output()}"
        time.sleep(0.5)

    outcomes = {
        (e.media_item.original_name, e.extractor): e.status
        for e in Extraction.objects.filter(media_item__cases=case).select_related("media_item")
    }
    assert outcomes == {
        ("photo.jpg", "exif"): "ok",
        ("photo.jpg", "image"): "ok",
        ("photo.jpg", "c2pa"): "ok",
        ("photo.jpg", "perceptual"): "ok",
        ("photo.jpg", "forensics"): "ok",
        ("clip.mp4", "video"): "ok",
        ("clip.mp4", "c2pa"): "ok",
        ("clip.mp4", "perceptual"): "ok",
        ("clip.mp4", "video_timeline"): "ok",
        ("notes.txt", "filetype"): "unsupported",
    } | ({("photo.jpg", "exiftool"): "ok", ("clip.mp4", "exiftool"): "ok"} if exiftool.available() else {}), (
        worker.output()
    )
    keyframes = list((media_root / "derived").rglob("keyframe-*.jpg"))
    assert keyframes, "no keyframes written by the worker"
    panel = browser.get(f"/admin/verify/case/{case.pk}/media-panel/")
    assert 'data-pending="0"' in panel


def peak_memory_mib(worker: Process) -> float:
    """The highest resident memory any process of the worker (main and pool children) reached."""
    peaks = []
    for pid in [worker.popen.pid, *_children(worker.popen.pid)]:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
            peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


def test_it_gives_every_hostile_file_a_readable_outcome_and_still_finishes(desk_processes, corpus, tmp_path):
    browser, web, worker, env = desk_processes
    case = make_case(by=make_user("desk"), stage="triage", title="Hostile files")
    hostile = [corpus / "malformed", corpus / "fuzz"]
    count = sum(1 for folder in hostile for p in folder.iterdir() if p.is_file())

    ingest = subprocess.run(
        [sys.executable, "manage.py", "ingest", *map(str, hostile), "--case", str(case.pk)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert f"{count} file(s) into case #{case.pk}" in ingest.stdout

    deadline = time.monotonic() + 600
    while Case.objects.get(pk=case.pk).stage != "in_review":
        assert time.monotonic() < deadline, f"case still collecting\n{worker.output()}"
        assert worker.popen.poll() is None, f"the worker died\n{worker.output()}"
        time.sleep(1)

    extractions = list(Extraction.objects.filter(media_item__cases=case).select_related("media_item"))
    assert extractions
    assert not [e for e in extractions if e.status in ("pending", "running", "timed_out")]
    # A delivery that had to be repeated means a worker process died on the file.
    assert not [(e.media_item.original_name, e.extractor) for e in extractions if e.attempts > 1]
    unreadable = [
        (e.media_item.original_name, e.extractor, e.error)
        for e in extractions
        if e.status != "ok" and not re.match(r"^\w.{10,}[.)]$", e.error.strip())
    ]
    assert not unreadable
    assert peak_memory_mib(worker) < 1024, "a worker process used over 1 GiB"


def test_it_flags_a_copy_seen_before_in_another_case_through_the_worker(desk_processes, settings):
    from io import BytesIO

    from tests.extractors.helpers import make_scene
    from verify.models import Flag

    browser, web, worker, env = desk_processes
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    desk = make_user("desk", username="e2e-desk")
    desk.set_password(PASSWORD)
    desk.save()
    picture = make_scene(31, size=(900, 600))
    original, copy = BytesIO(), BytesIO()
    picture.save(original, "JPEG", quality=92)
    picture.resize((450, 300)).save(copy, "JPEG", quality=55)
    browser.log_in("e2e-desk", PASSWORD)

    cases = []
    for title, name, data in (("First seen", "original.jpg", original), ("Posted again", "repost.jpg", copy)):
        case = make_case(by=desk, stage="triage", title=title)
        form = browser.get(f"/admin/verify/case/{case.pk}/add-media/")
        body, content_type = multipart(
            {"csrfmiddlewaretoken": browser.csrf(form), "url": ""}, [("files", name, data.getvalue())]
        )
        assert "1 file(s) added" in browser.post(f"/admin/verify/case/{case.pk}/add-media/", body, content_type)
        deadline = time.monotonic() + 120
        while Case.objects.get(pk=case.pk).stage != "in_review":
            assert time.monotonic() < deadline, f"case still {Case.objects.get(pk=case.pk).stage}\n{worker.output()}"
            time.sleep(0.5)
        cases.append(case)

    flag = Flag.objects.get(case=cases[1], kind="seen-before")
    assert flag.message.startswith("Near-duplicate of 'original.jpg'")
    assert flag.data["earlier_cases"] == [cases[0].pk]
    assert not Flag.objects.filter(case=cases[0], kind="seen-before").exists()
