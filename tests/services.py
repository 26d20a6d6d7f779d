"""Helpers for tests that run real processes against PostgreSQL and Redis on loopback."""

import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# CI runs the suite itself on Redis db 15; process checks claim one of these so two runs never share a queue.
REDIS_DBS = (14, 13, 12, 11, 10)
REDIS_CLAIM_KEY = "verify-desk:process-check:claim"
WAIT_SECONDS = 60


# --- the desk's own processes ----------------------------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this test session uses, for the processes it starts."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def desk_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a web or worker process a test starts: this test's database unless `settings` give
    another, its own media and data folders under `tmp_path`, and `settings` on top."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "1",
        "DATABASE_URL": settings.pop("DATABASE_URL", None) or database_url(),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "VERIFY_DATA_DIR": str(tmp_path / "var"),
    } | settings


# --- the services on loopback ----------------------------------------------------------------------------------------


def unreachable_services() -> list[str]:
    """Say which of PostgreSQL and Redis cannot be reached, and why."""
    problems = []
    try:
        with psycopg.connect(**POSTGRES_ADMIN, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {POSTGRES_ADMIN['host']}:{POSTGRES_ADMIN['port']} as postgres: {exc}")
    try:
        with redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=3, socket_timeout=3) as client:
            client.ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    return problems


def require_services() -> None:
    """Skip (or, with VERIFY_REQUIRE_SERVICES=1, fail) when PostgreSQL or Redis is not reachable."""
    problems = unreachable_services()
    if not problems:
        return
    message = "This check needs PostgreSQL and Redis on loopback. Unreachable: " + "; ".join(problems)
    if os.getenv("VERIFY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (VERIFY_REQUIRE_SERVICES=1, so this fails instead of skipping)", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def claimed_redis_db() -> Iterator[str]:
    """A Redis URL on a db no other process check is using; the claim expires by itself if a run is killed."""
    token = secrets.token_hex(8)
    for db in REDIS_DBS:
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db, socket_connect_timeout=3, socket_timeout=3)
        if client.set(REDIS_CLAIM_KEY, token, nx=True, ex=600):
            break
        client.close()
    else:
        pytest.fail(f"Redis dbs {REDIS_DBS} are all claimed by other checks ({REDIS_CLAIM_KEY})", pytrace=False)
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        if client.get(REDIS_CLAIM_KEY) == token.encode():
            client.delete(REDIS_CLAIM_KEY)
        client.close()


# --- processes -------------------------------------------------------------------------------------------------------


@dataclass
class Process:
    """A compose command running in its own session, its output in files."""

    name: str
    popen: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @classmethod
    def start(cls, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> "Process":
        stdout_path, stderr_path = log_dir / f"{name}.stdout.log", log_dir / f"{name}.stderr.log"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            popen = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        return cls(name, popen, stdout_path, stderr_path)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self, limit: int = 6000) -> str:
        parts = [f"--- {self.name}: {shlex.join(self.popen.args)} (exit code {self.popen.poll()})"]
        for path in (self.stdout_path, self.stderr_path):
            parts.append(f"--- {path.name} (last {limit} characters)\n{path.read_text(errors='replace')[-limit:]}")
        return "\n".join(parts)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM the whole session (gunicorn/celery and their children, or a migrate still running), then SIGKILL."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=grace)


def wait_for(ready: Callable[[], bool], *, process: Process, what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if process.popen.poll() is not None:
            pytest.fail(f"{process.name} exited before {what}\n{process.output()}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"{process.name}: no {what} within {seconds:.0f} s\n{process.output()}", pytrace=False)
        time.sleep(0.25)


def wait_until(ready: Callable[[], bool], *, seconds: float, what: str, processes: list[Process]) -> None:
    """Wait for `ready`, failing with every process's output when it has not come within `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds:.0f} s\n" + "\n".join(p.output() for p in processes))
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
