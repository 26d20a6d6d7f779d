"""The docker-compose production shape without Docker: compose's web and worker commands on loopback services."""

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import psycopg
import pytest
import redis
import yaml
from celery import Celery
from psycopg import sql

pytestmark = pytest.mark.services

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
POSTGRES_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# CI runs the suite itself on Redis db 15; a compose check claims one of these so two runs never share a queue.
REDIS_DBS = (14, 13, 12, 11, 10)
REDIS_CLAIM_KEY = "verify-desk:compose-check:claim"
WAIT_SECONDS = 60
TASK_NAME = "workers.tasks.report_overdue_cases"


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


@pytest.fixture(scope="module", autouse=True)
def services_reachable() -> None:
    problems = unreachable_services()
    if not problems:
        return
    message = "The compose check needs PostgreSQL and Redis on loopback. Unreachable: " + "; ".join(problems)
    if os.getenv("VERIFY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (VERIFY_REQUIRE_SERVICES=1, so this fails instead of skipping)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def database_url(services_reachable: None) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards even if processes still hold connections."""
    name = f"verify_desk_compose_check_{secrets.token_hex(4)}"
    with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(**POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def redis_url(services_reachable: None) -> Iterator[str]:
    """A Redis db no other compose check is using; the claim expires by itself if a run is killed."""
    token = secrets.token_hex(8)
    for db in REDIS_DBS:
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db, socket_connect_timeout=3, socket_timeout=3)
        if client.set(REDIS_CLAIM_KEY, token, nx=True, ex=300):
            break
        client.close()
    else:
        pytest.fail(f"Redis dbs {REDIS_DBS} are all claimed by other compose checks ({REDIS_CLAIM_KEY})", pytrace=False)
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    finally:
        if client.get(REDIS_CLAIM_KEY) == token.encode():
            client.delete(REDIS_CLAIM_KEY)
        client.close()


# --- what compose runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def compose_command(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def compose_default(key: str, value: str) -> str:
    """Resolve compose's ${NAME:-default}; a variable compose requires from the host must be set by this check."""

    def default(match: re.Match) -> str:
        if match.group(2) != "-":
            raise ValueError(f"docker-compose.yml needs {match.group(1)} from the host for {key}; set it in host_env")
        return match.group(3)

    return re.sub(r"\$\{(\w+)(?::?([-?])([^}]*))?\}", default, value)


def service_env(service: dict, host_env: dict[str, str]) -> dict[str, str]:
    """Compose's environment for a service, with host-specific values (hostnames, volumes) swapped for local ones."""
    environment = service["environment"]
    assert isinstance(environment, dict), "compose environment is expected as a mapping"
    env = {key: compose_default(key, str(value)) for key, value in environment.items() if key not in host_env}
    return env | host_env


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-check")


@pytest.fixture(scope="module")
def host_env(run_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        # A container's bare environment: the Dockerfile's ENV, and `python`/`gunicorn`/`celery` from this virtualenv.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "HOME": str(run_dir),  # gunicorn keeps a control socket under $HOME; one per run
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # What compose points at service hostnames and volumes.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(run_dir / "media"),
        # What the image keeps under /app.
        "VERIFY_DATA_DIR": str(run_dir / "var"),
        "STATIC_ROOT": str(run_dir / "staticfiles"),
    }


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rebind(gunicorn_args: str, address: str) -> str:
    """Compose's GUNICORN_CMD_ARGS with only the bind address changed."""
    args = shlex.split(gunicorn_args)
    for flag in ("--bind", "-b"):
        if flag in args:
            args[args.index(flag) + 1] = address
            return shlex.join(args)
    return shlex.join([*args, "--bind", address])


# --- HTTP ------------------------------------------------------------------------------------------------------------


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# No proxies from the environment, and redirects are answers to look at, not to follow.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepRedirects)


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def describe(self) -> str:
        return f"HTTP {self.status}, headers {dict(self.headers)}, body {self.body[:1000]!r}"


def fetch(url: str, *, behind_https_proxy: bool = True, timeout: float = 5) -> Reply:
    """GET url as the TLS-terminating proxy in front of production would pass it on."""
    headers = {"X-Forwarded-Proto": "https"} if behind_https_proxy else {}
    try:
        with OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())


@dataclass
class WebServer:
    base_url: str
    process: Process

    def get(self, path: str, **kwargs: object) -> Reply:
        return fetch(self.base_url + path, **kwargs)


def answers(url: str) -> bool:
    try:
        fetch(url, timeout=2)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


# --- web and worker --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(compose_services: dict, host_env: dict[str, str], run_dir: Path) -> Iterator[WebServer]:
    env = service_env(compose_services["web"], host_env)
    # The image runs collectstatic at build time; with DEBUG off whitenoise serves the manifest it writes.
    collectstatic = subprocess.run(
        ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert collectstatic.returncode == 0, f"collectstatic failed:\n{collectstatic.stdout}\n{collectstatic.stderr}"

    address = f"127.0.0.1:{free_port()}"
    env["GUNICORN_CMD_ARGS"] = rebind(env["GUNICORN_CMD_ARGS"], address)
    server = WebServer(
        f"http://{address}", Process.start("web", compose_command(compose_services["web"]), env, run_dir)
    )
    try:
        wait_for(lambda: answers(server.base_url + "/healthz"), process=server.process, what="HTTP answer")
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="module")
def celery_client(redis_url: str) -> Iterator[Celery]:
    """A client of the broker the worker reads, separate from the project's app (this process has its own settings)."""
    app = Celery("verify_desk_compose_check", broker=redis_url, backend=redis_url, set_as_current=False)
    app.control.purge()
    try:
        yield app
    finally:
        app.control.purge()
        app.close()


@pytest.fixture(scope="module")
def worker(
    compose_services: dict, host_env: dict[str, str], run_dir: Path, web: WebServer, celery_client: Celery
) -> Iterator[Process]:
    """Compose's worker command; it depends on `web` because the web command is what migrates the database."""
    env = service_env(compose_services["worker"], host_env)
    process = Process.start("worker", compose_command(compose_services["worker"]), env, run_dir)
    try:
        yield process
    finally:
        process.stop()


# --- the checks ------------------------------------------------------------------------------------------------------


def test_it_answers_healthz_from_the_compose_web_command(web: WebServer) -> None:
    reply = web.get("/healthz")

    assert reply.status == 200, f"/healthz: {reply.describe()}\n{web.process.output()}"
    assert json.loads(reply.body) == {"status": "ok"}, f"/healthz: {reply.describe()}"


def test_it_serves_the_admin_login_with_its_css_from_whitenoise(web: WebServer) -> None:
    login = web.get("/admin/login/")
    assert login.status == 200, f"/admin/login/: {login.describe()}\n{web.process.output()}"
    html = login.body.decode()
    # A manifest name (base.<hash>.css) shows collectstatic's CompressedManifestStaticFilesStorage is in use.
    css_path = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', html)
    assert css_path, f"no hashed admin base.css link in /admin/login/:\n{html[:3000]}"

    css = web.get(css_path.group(1))

    assert css.status == 200, f"{css_path.group(1)}: {css.describe()}\n{web.process.output()}"
    assert css.headers.get_content_type() == "text/css", css.describe()
    assert b"body" in css.body, f"admin base.css came back without its rules: {css.describe()}"
    assert "immutable" in css.headers.get("Cache-Control", ""), f"not served by whitenoise? {css.describe()}"


def test_it_redirects_plain_http_to_https(web: WebServer) -> None:
    reply = web.get("/healthz", behind_https_proxy=False)

    assert reply.status == 301, f"/healthz over plain HTTP: {reply.describe()}"
    assert reply.headers["Location"].startswith("https://"), reply.describe()


def test_it_runs_report_overdue_cases_on_the_compose_worker_command(worker: Process, celery_client: Celery) -> None:
    result = celery_client.send_task(TASK_NAME)
    try:
        wait_for(result.ready, process=worker, what=f"result for {TASK_NAME}[{result.id}]")
        value = result.get(timeout=5, propagate=False)
        assert result.successful(), f"{TASK_NAME} failed: {result.traceback}\n{worker.output()}"
    finally:
        result.forget()

    assert isinstance(value, list), f"{TASK_NAME} returned {value!r}"
    assert result.id in worker.stderr(), f"the task was not run by this worker\n{worker.output()}"
