"""Request bodies refused from their headers: a real gunicorn answers before the body is sent, and spools nothing."""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.services import BASE_DIR, Process, free_port, wait_for

GIB = 1024**3
MIB = 1024**2
MAX_UPLOAD_BYTES = 8 * MIB
SEARCH_URL = "/admin/verify/case/search-by-file/"
ADD_MEDIA_URL = "/admin/verify/case/1/add-media/"
BOUNDARY = "vd-boundary-7f3a"
FORM = "application/x-www-form-urlencoded"  # how a browser sends the sign-in form


@dataclass
class Server:
    address: tuple[str, int]
    spool: Path
    session: str  # a signed-in desk user's session cookie
    process: Process


@dataclass
class Answer:
    status: int
    body: str


def send_headers(server: Server, path: str, headers: dict[str, str]) -> socket.socket:
    """Open a connection and send a POST's request line and headers, and nothing else."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "X-Forwarded-Proto: https"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock = socket.create_connection(server.address, timeout=10)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_answer(sock: socket.socket) -> Answer:
    """The response, read until its declared length (the server may keep waiting for a body that never comes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a full response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    header_lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in header_lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed inside the response body: {data!r}"
        body += chunk
    return Answer(int(header_lines[0].split()[1]), body.decode())


def multipart_headers(length: int, session: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(length)}
    return headers | ({"Cookie": f"sessionid={session}"} if session else {})


def file_part_start(name: str = "photo.jpg") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()


def spooled(server: Server) -> list[str]:
    return sorted(path.name for path in server.spool.iterdir())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn (one sync worker, as compose runs it) on a migrated SQLite database with one desk user signed in."""
    run_dir = tmp_path_factory.mktemp("upload-limits")
    spool = run_dir / "spool"
    spool.mkdir()
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(run_dir),
        "LANG": "C.UTF-8",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{run_dir / 'desk.sqlite3'}",
        "VERIFY_DATA_DIR": str(run_dir / "var"),
        "MEDIA_ROOT": str(run_dir / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(spool),
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v", "0")
    sign_in = (
        "from django.contrib.auth.models import User\n"
        "from django.test import Client\n"
        "user = User.objects.create_user('dana', password='x-' + 'p' * 12, is_staff=True)\n"
        "client = Client()\n"
        "client.force_login(user)\n"
        "print(client.cookies['sessionid'].value)\n"
    )
    session = manage("shell", "-c", sign_in).split()[-1]  # after the shell's own lines
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "verify.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    process = Process.start("web", command + ["--workers", "1", "--timeout", "60"], env, run_dir)
    running = Server(("127.0.0.1", port), spool, session, process)

    def answers() -> bool:
        try:
            with socket.create_connection(running.address, timeout=2) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n")
                return read_answer(sock).status == 200
        except OSError:
            return False

    try:
        wait_for(answers, process=process, what="an answer on /healthz")
        yield running
    finally:
        process.stop()


def test_it_refuses_an_anonymous_gigabyte_upload_before_the_body_is_sent(server):
    with send_headers(server, SEARCH_URL, multipart_headers(GIB)) as sock:
        answer = read_answer(sock)

    assert answer.status == 413, answer
    assert "This upload is 1 GiB, over the 12 MiB limit for one request" in answer.body
    assert spooled(server) == []


def test_it_refuses_an_anonymous_upload_under_the_cap_without_reading_it(server):
    with send_headers(server, ADD_MEDIA_URL, multipart_headers(5 * MIB)) as sock:
        answer = read_answer(sock)

    assert answer.status == 403, answer
    assert answer.body.startswith("Sign in to the desk to upload files")
    assert spooled(server) == []


def test_it_refuses_a_signed_in_upload_over_the_cap_before_the_body_is_sent(server):
    with send_headers(server, ADD_MEDIA_URL, multipart_headers(MAX_UPLOAD_BYTES + 5 * MIB, server.session)) as sock:
        answer = read_answer(sock)

    assert answer.status == 413, answer
    assert "This upload is 13 MiB, over the 12 MiB limit for one request (at most 8 MiB a file)" in answer.body
    assert spooled(server) == []


def test_it_refuses_a_chunked_upload_before_reading_a_chunk(server):
    headers = multipart_headers(0, server.session)
    del headers["Content-Length"]
    with send_headers(server, SEARCH_URL, headers | {"Transfer-Encoding": "chunked"}) as sock:
        answer = read_answer(sock)

    assert answer.status == 411, answer
    assert "Uploads must state their size" in answer.body
    assert spooled(server) == []


def test_it_spools_a_signed_in_upload_under_the_cap_where_the_refused_ones_would_have_gone(server):
    """The control: the folder the checks above watch is where gunicorn's Django spools an accepted upload."""
    first_part = file_part_start() + b"\xff\xd8" + bytes(3 * MIB)
    # A browser's same-site Referer and CSRF cookie: without them CSRF refuses before reading the form.
    headers = multipart_headers(6 * MIB) | {
        "Cookie": f"sessionid={server.session}; csrftoken={'c' * 32}",
        "Referer": "https://127.0.0.1/admin/",
    }
    with send_headers(server, SEARCH_URL, headers) as sock:
        sock.sendall(first_part)
        deadline = time.monotonic() + 20
        while not spooled(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = spooled(server)

    assert len(seen) == 1, f"nothing spooled in {server.spool}\n{server.process.output()}"


@pytest.mark.django_db
def test_it_still_lets_a_stranger_sign_in(client, desk):
    form = urlencode({"username": desk.username, "password": "test-pass-123"})
    response = client.post(reverse("admin:login"), form, content_type=FORM)

    assert response.status_code == 302, response.content.decode()[:500]


@pytest.mark.django_db
def test_it_refuses_a_strangers_large_form_unread(client):
    response = client.post(reverse("admin:login"), urlencode({"username": "x" * 70_000}), content_type=FORM)

    assert response.status_code == 413
    assert "without signing in, a request may carry at most 64 KiB" in response.content.decode()
